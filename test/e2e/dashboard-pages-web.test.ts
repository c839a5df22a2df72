// The two standalone pages (`monitor serve`, `dns serve`) as a person opens them: time to the first data
// row and page weight (printed for the report), axe-core with zero violations, and screenshots at desktop
// and phone size in both themes in test/e2e/screens/ (not committed).
import {randomBytes} from 'node:crypto'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'

import {type Browser} from 'playwright-core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {Cleanup, appImage, docker} from '../integration/monitor/harness.js'
import {launchChromium} from '../support/browser.js'
import {repoRoot} from '../support/cli.js'
import {type ServeProcess, getJson, startServe} from '../support/serve-process.js'
import {testEnv} from '../support/testenv.js'
import {freePort} from '../support/free-port.js'

const d = docker()
const cleanup = new Cleanup(d)
const prefix = `hotest-webpages-${randomBytes(3).toString('hex')}`
const screens = join(repoRoot, 'test', 'e2e', 'screens')
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

let browser: Browser
const servers: ServeProcess[] = []

async function start(command: string[], args: string[], port: number, dir: string): Promise<ServeProcess> {
  const server = startServe({
    command,
    args,
    env: {HOMEOPS_DB_PATH: join(dir, `${command[0]}.db`), HOME: dir, DOCKER_HOST: testEnv().dockerHost},
    port,
  })
  servers.push(server)
  await server.waitFor('/health 200', async () =>
    (await getJson(`http://127.0.0.1:${port}/health`).catch(() => ({status: 0}))).status === 200 ? true : undefined,
  )
  return server
}

beforeAll(async () => {
  for (const what of ['one', 'two']) {
    const name = `${prefix}-${what}`
    cleanup.containers.add(name)
    const container = await d.createContainer({
      Image: appImage('1.0.0'),
      Cmd: ['sleep', '3600'],
      StopTimeout: 1,
      Labels: {'homeops.dns.name': `${name}.home.lan`},
      name,
    })
    await container.start()
  }
  mkdirSync(screens, {recursive: true})
  browser = await launchChromium()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  for (const server of servers) await server.kill()
  await cleanup.run()
}, 60_000)

async function measure(url: string, firstRow: string, name: string) {
  const page = await browser.newPage({viewport: {width: 1440, height: 900}})
  try {
    const started = Date.now()
    await page.goto(url)
    await page.locator(firstRow).first().waitFor({timeout: 20_000})
    const firstRowMs = Date.now() - started
    const weight = await page.evaluate(() =>
      performance
        .getEntriesByType('resource')
        .concat(performance.getEntriesByType('navigation'))
        .reduce((sum, e) => sum + ((e as PerformanceResourceTiming).transferSize || 0), 0),
    )
    console.log(`${name}: first data row after ${firstRowMs} ms, page weight ${(weight / 1024).toFixed(1)} KiB`)
    expect(weight).toBeGreaterThan(0)
    for (const theme of ['light', 'dark']) {
      for (const [label, viewport] of [
        ['desktop', {width: 1440, height: 900}],
        ['phone', {width: 390, height: 844}],
      ] as const) {
        await page.setViewportSize(viewport)
        await page.evaluate((t) => localStorage.setItem('homeops-theme', t), theme)
        await page.reload()
        await page.locator(firstRow).first().waitFor({timeout: 20_000})
        await page.evaluate(axeSource)
        const violations = await page.evaluate(async () => {
          const axe = (
            window as unknown as {
              axe: {run(c: Document, o: unknown): Promise<{violations: {id: string; nodes: {target: unknown}[]}[]}>}
            }
          ).axe
          const result = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'best-practice']})
          return result.violations.map((v) => `${v.id}: ${JSON.stringify(v.nodes.slice(0, 3).map((x) => x.target))}`)
        })
        expect(violations, `${name} ${theme} ${label}`).toEqual([])
        await page.screenshot({path: join(screens, `${name}-${label}-${theme}.png`), fullPage: true})
      }
    }
  } finally {
    await page.close()
  }
}

describe('the standalone pages', () => {
  it('monitor serve: containers on the first data row quickly, accessible, in both themes', async () => {
    const dir = cleanup.tempDir()
    const port = await freePort()
    writeFileSync(join(dir, 'config.yaml'), `monitor:\n  settingsPath: ${join(dir, 's.json')}\n`)
    await start(
      ['monitor', 'serve'],
      ['--config', join(dir, 'config.yaml'), '--listen', `127.0.0.1:${port}`],
      port,
      dir,
    )
    await measure(`http://127.0.0.1:${port}/`, `tr.item[data-name^="${prefix}"]`, 'monitor-serve')
  }, 180_000)

  it('dns serve: the records of labelled containers on the first data row, accessible, in both themes', async () => {
    const dir = cleanup.tempDir()
    const port = await freePort()
    const dnsPort = await freePort()
    writeFileSync(
      join(dir, 'config.yaml'),
      'dns:\n  hostIp: 10.0.0.9\n  zones: [home.lan]\n  records:\n    app.home.lan: 10.0.0.7\n',
    )
    await start(
      ['dns', 'serve'],
      [
        '--config',
        join(dir, 'config.yaml'),
        '--port',
        String(dnsPort),
        '--bind',
        '127.0.0.1',
        '--http-listen',
        `127.0.0.1:${port}`,
      ],
      port,
      dir,
    )
    await measure(`http://127.0.0.1:${port}/`, `table.data tbody tr td:has-text("${prefix}-one")`, 'dns-serve')
  }, 180_000)
})
