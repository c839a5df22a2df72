import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {loadConfig} from '../../src/lib/config/load.js'
import {type Context, createContext} from '../../src/lib/context.js'
import {Router} from '../../src/lib/http/router.js'
import {type RunningHttpServer, startHttpServer} from '../../src/lib/http/server.js'
import {staticFiles, webRoot} from '../../src/lib/http/static-files.js'
import {createImagesMode} from '../../src/lib/images/mode.js'
import {silentLogger} from '../../src/lib/log/logger.js'
import {MetricsRegistry} from '../../src/lib/metrics/registry.js'
import {dockerEnv, testEnv} from '../support/testenv.js'
import {launchChromium} from '../support/browser.js'

const KEY = 'web-key-' + randomBytes(6).toString('hex')
// The images section alone, mounted the way the shell mounts it: `mount(element, api, context)`.
const PAGE = `<!doctype html><meta charset="utf-8"><title>images</title><link rel="icon" href="data:,"><div id="s"></div>
<script type="module">
  import {createApi} from '/web/shared/ui.js'
  import {mount} from '/web/images/section.js'
  mount(document.getElementById('s'), createApi('/images', () => '${KEY}'))
</script>`

const env = testEnv()
const name = `hotest-images-web-${randomBytes(3).toString('hex')}`
const image = `${env.registry.host}/${env.images.app}`
const dir = mkdtempSync(join(tmpdir(), 'hotest-images-web-'))
const mode = createImagesMode({runOnBoot: false})
let context: Context
let server: RunningHttpServer

function docker(...args: string[]): string {
  return execFileSync('docker', args, {env: dockerEnv(), encoding: 'utf8', timeout: 60_000}).trim()
}

beforeAll(async () => {
  docker(
    'run',
    '-d',
    '--name',
    name,
    '--label',
    `homeops.images.scope=${name}`,
    '--label',
    'homeops.images.mode=NOTIFICATION',
    '--label',
    'homeops.images.strategy=PATCH',
    `${image}:1.0.0`,
  )
  writeFileSync(
    join(dir, 'config.yaml'),
    `docker: {host: "${env.dockerHost}"}\nserve: {apiKey: ${KEY}}\nimages: {watchByDefault: false, scope: ${name}}\n`,
  )
  const {config} = loadConfig({path: join(dir, 'config.yaml'), env: {HOMEOPS_DB_PATH: join(dir, 'state.db')}})
  context = await createContext({
    config,
    logger: silentLogger,
    terminal: {interactive: false, color: false},
    version: '0',
  })
  const router = new Router()
  const images = new Router()
  mode.routes!(images)
  router.mount(images, '/images')
  router.get('/web/*', staticFiles(webRoot()))
  router.get('/', () => ({status: 200, headers: {'content-type': 'text/html; charset=utf-8'}, body: PAGE}))
  server = await startHttpServer({listen: {host: '127.0.0.1', port: 0}, router, logger: silentLogger})
  await mode.start({context, metrics: new MetricsRegistry(), signal: context.signal, crashed: () => {}})
  await mode.runNow()
})

afterAll(async () => {
  await mode.stop()
  await server?.close(100)
  await context?.close()
  try {
    docker('rm', '-f', name)
  } catch {
    // not created
  }
  rmSync(dir, {recursive: true, force: true})
})

describe('images web section', () => {
  it('lists the pending version, applies it after confirmation, and shows it in the history', async () => {
    const browser = await launchChromium()
    try {
      const page = await browser.newPage()
      const problems: string[] = []
      page.on('pageerror', (error) => problems.push(error.message))
      await page.goto(server.url + '/', {waitUntil: 'load'})
      const button = `[data-testid="images-pending"] button[data-workload="${name}"]`
      await page.waitForSelector(button, {timeout: 20_000})
      const row = await page.$eval(`[data-testid="images-pending"] tbody tr`, (tr) =>
        (tr as HTMLElement).innerText.replace(/\s+/g, ' '),
      )
      expect(row).toContain(`${name} ${image} 1.0.0 1.0.1 2.0.0 NOTIFICATION / PATCH`)
      expect(await page.textContent('[data-testid="images-summary"]')).toContain('1 with updates')

      // Cancel first: nothing changes.
      await page.click(button)
      await page.click('dialog.confirm button[value="cancel"]')
      expect(docker('inspect', name, '--format', '{{.Config.Image}}')).toBe(`${image}:1.0.0`)

      await page.click(button)
      expect(await page.textContent('dialog.confirm p')).toContain(`Update ${name} from 1.0.0 to 1.0.1?`)
      await page.click('dialog.confirm button[value="ok"]')
      await page.waitForSelector('[data-testid="images-history"] tbody tr td[data-label="By"]', {timeout: 90_000})
      const history = await page.$eval('[data-testid="images-history"] tbody tr', (tr) =>
        (tr as HTMLElement).innerText.replace(/\s+/g, ' '),
      )
      expect(history).toContain(`${name} 1.0.0 → 1.0.1 manual applied`)
      expect(docker('inspect', name, '--format', '{{.Config.Image}} {{.State.Running}}')).toBe(`${image}:1.0.1 true`)
      expect(problems).toEqual([])
    } finally {
      await browser.close()
    }
  })

  it('refuses the update API without the key', async () => {
    const response = await fetch(`${server.url}/images/update`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({workload: name}),
    })
    expect(response.status).toBe(401)
  })
})
