// The dashboard of `homeops serve` as a person sees it, on a scene of containers in every state:
// badges and reasons, one honest summary, rows updated in place (focus, typed text and open details
// survive refreshes), update progress and the shared history, the phone layout, axe-core with zero
// violations, and screenshots of every section (desktop and phone, both themes) in test/e2e/screens/.
import {randomBytes} from 'node:crypto'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {type IncomingHttpHeaders, get} from 'node:http'
import {createRequire} from 'node:module'
import {join} from 'node:path'

import type Dockerode from 'dockerode'
import {type Browser, type Page} from 'playwright-core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type Dyndns2Fake, type EchoFake, startDyndns2, startEcho} from '../integration/ddns/fakes.js'
import {Cleanup, appImage, docker, waitFor} from '../integration/monitor/harness.js'
import {launchChromium} from '../support/browser.js'
import {repoRoot, runCli} from '../support/cli.js'
import {type ServeProcess, getJson, startServe} from '../support/serve-process.js'
import {testEnv} from '../support/testenv.js'
import {freePort} from '../support/free-port.js'

const d = docker()
const cleanup = new Cleanup(d)
const prefix = `hotest-webui-${randomBytes(3).toString('hex')}`
const n = (what: string) => `${prefix}-${what}`
const screens = join(repoRoot, 'test', 'e2e', 'screens')
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
const SECOND = 1_000_000_000 // Docker's durations are nanoseconds

let serve: ServeProcess
let browser: Browser
let page: Page
let serviceId: string | undefined
let dyndns: Dyndns2Fake
let echo: EchoFake
let configPath: string
let dbPath: string
// Two containers the images mode watches (scope label), with 1.0.1 in the registry.
const imagesLabels = (project: string) => ({
  'com.docker.compose.project': project,
  'homeops.images.scope': prefix,
  'homeops.images.mode': 'NOTIFICATION',
  'homeops.images.strategy': 'PATCH',
})

async function create(name: string, options: Partial<Dockerode.ContainerCreateOptions>, start = true) {
  cleanup.containers.add(name)
  const container = await d.createContainer({
    Image: appImage('1.0.0'),
    Cmd: ['sleep', '3600'],
    StopTimeout: 1,
    Labels: {'com.docker.compose.project': `${prefix}-stack`},
    ...options,
    name,
  })
  if (start) await container.start()
  return container
}

function rawGet(url: string, headers: Record<string, string>) {
  return new Promise<{status: number; headers: IncomingHttpHeaders; bytes: number}>((resolve, reject) => {
    get(url, {headers}, (response) => {
      let bytes = 0
      response.on('data', (chunk: Buffer) => (bytes += chunk.length))
      response.on('end', () => resolve({status: response.statusCode ?? 0, headers: response.headers, bytes}))
    }).on('error', reject)
  })
}

const row = (name: string) => page.locator(`tr.item[data-name="${name}"]`)

beforeAll(async () => {
  const check = (test: string[], interval = SECOND, extra = {}) => ({
    Test: test,
    Interval: interval,
    Timeout: SECOND,
    Retries: 1,
    ...extra,
  })
  await create(n('healthy'), {Healthcheck: check(['CMD', 'true'])})
  await create(n('unhealthy'), {Healthcheck: check(['CMD-SHELL', 'echo database unreachable; exit 1'])})
  await create(n('starting'), {Healthcheck: check(['CMD', 'true'], 3600 * SECOND, {StartPeriod: 3600 * SECOND})})
  await create(n('exit0'), {Cmd: ['true'], Labels: {}})
  const killed = await create(n('exit137'), {Labels: {}})
  await killed.kill()
  await create(n('loop'), {Cmd: ['sh', '-c', 'exit 3'], HostConfig: {RestartPolicy: {Name: 'always'}}})
  const paused = await create(n('paused'), {})
  await paused.pause()
  await create(n('created'), {}, false)
  const service = await d.createService({
    Name: n('svc'),
    Labels: {'com.docker.stack.namespace': `${prefix}-swarm`},
    TaskTemplate: {
      ContainerSpec: {
        Image: appImage('1.0.0'),
        Command: ['sleep', '3600'],
        StopGracePeriod: SECOND,
        Labels: {'com.docker.stack.namespace': `${prefix}-swarm`},
      },
    },
    Mode: {Replicated: {Replicas: 1}},
  } as Dockerode.CreateServiceOptions)
  serviceId = (service as {id: string}).id
  await create(n('web'), {Labels: imagesLabels(`${prefix}-apps`)})
  await create(n('api'), {Labels: imagesLabels(`${prefix}-apps`)})
  await create(n('cron'), {Labels: imagesLabels(`${prefix}-jobs`)})

  // A DDNS provider that accepts one record and refuses the other's password (blocked on badauth).
  dyndns = await startDyndns2({hosts: ['home.example.org', 'nas.example.org']})
  echo = await startEcho('84.16.66.10')
  const dir = cleanup.tempDir()
  const port = await freePort()
  configPath = join(dir, 'serve.yaml')
  dbPath = join(dir, 'homeops.db')
  writeFileSync(
    configPath,
    [
      'serve:',
      `  listen: 127.0.0.1:${port}`,
      'monitor:',
      '  enabled: true',
      `  settingsPath: ${join(dir, 's.json')}`,
      'images:',
      '  enabled: true',
      '  runOnBoot: true',
      '  intervalSeconds: 3600',
      '  watchByDefault: false',
      `  scope: ${prefix}`,
      'ddns:',
      '  enabled: true',
      '  intervalSeconds: 3600',
      '  retryBackoff: 0',
      `  server: ${dyndns.url}`,
      '  ipSources:',
      `    v4: ['${echo.url}']`,
      '  records:',
      '    - {name: home, provider: dyndns2, hostname: home.example.org, username: user, password: pass-word-1}',
      '    - {name: nas, provider: dyndns2, hostname: nas.example.org, username: user, password: wrong-word-1}',
      'swarm:',
      '  enabled: true',
      '  reconcileIntervalSeconds: 3600',
      'dns:',
      '  enabled: true',
      '  bind: 127.0.0.1',
      `  port: ${await freePort()}`,
      '  hostIp: 10.0.0.9',
      '  zones: [home.lan]',
      '  records:',
      '    app.home.lan: 10.0.0.7',
      '',
    ].join('\n'),
  )
  serve = startServe({
    args: ['--config', configPath],
    env: {HOMEOPS_DB_PATH: dbPath, HOME: dir, DOCKER_HOST: testEnv().dockerHost},
    port,
  })
  await serve.waitFor('/health 200', async () =>
    (await getJson(`${serve.url}/health`)).status === 200 ? true : undefined,
  )
  await waitFor(
    'the swarm task container',
    async () => {
      const list = await d.listContainers({all: true, filters: {label: [`com.docker.swarm.service.name=${n('svc')}`]}})
      return list.length ? list : undefined
    },
    60_000,
  )
  browser = await launchChromium()
  page = await browser.newPage({viewport: {width: 1440, height: 900}})
  mkdirSync(screens, {recursive: true})
}, 240_000)

afterAll(async () => {
  await browser?.close()
  await serve?.kill()
  await dyndns?.close()
  await echo?.close()
  if (serviceId)
    await d
      .getService(serviceId)
      .remove()
      .catch(() => {})
  await d
    .getContainer(n('paused'))
    .unpause()
    .catch(() => {})
  await cleanup.run()
}, 120_000)

async function showOnlyScene() {
  const search = page.locator('input[name="container-search"]')
  await search.fill(prefix)
}

describe('the dashboard on a scene of every container state', () => {
  it('names every state with its badge, reason and hint, and sums it up honestly', async () => {
    const started = Date.now()
    await page.goto(serve.url + '/')
    await page.locator('tr.item').first().waitFor({timeout: 20_000})
    const firstRowMs = Date.now() - started
    const weight = await page.evaluate(() =>
      performance
        .getEntriesByType('resource')
        .concat(performance.getEntriesByType('navigation'))
        .reduce((sum, e) => sum + ((e as PerformanceResourceTiming).transferSize || 0), 0),
    )
    console.log(`dashboard: first data row after ${firstRowMs} ms, page weight ${(weight / 1024).toFixed(1)} KiB`)
    // What a refresh costs on the wire: the rows gzip-compressed; an unchanged file is a 304.
    const rows = await rawGet(`${serve.url}/monitor/ui/containers`, {'accept-encoding': 'gzip'})
    expect(rows.headers['content-encoding']).toBe('gzip')
    const css = await rawGet(`${serve.url}/web/shared/base.css`, {})
    const again = await rawGet(`${serve.url}/web/shared/base.css`, {'if-none-match': String(css.headers.etag)})
    expect(again.status).toBe(304)
    console.log(
      `dashboard: one refresh of the rows ${rows.bytes} bytes gzip, ${((rows.bytes * 12) / 1024).toFixed(1)} KiB a minute`,
    )
    await showOnlyScene()
    const expectations: [string, RegExp][] = [
      ['healthy', /healthy/],
      ['unhealthy', /unhealthy.*health check fails: database unreachable/is],
      ['starting', /starting.*Health check not passed yet/is],
      ['exit0', /exited \(0\).*finished/is],
      ['exit137', /exited \(137\).*killed/is],
      ['loop', /restart/i],
      ['paused', /paused.*frozen/is],
      ['created', /created.*never started/is],
    ]
    for (const [what, pattern] of expectations) {
      await expect.poll(async () => (await row(n(what)).textContent()) ?? '', {timeout: 30_000}).toMatch(pattern)
    }
    // The swarm task is listed, grouped under its stack, and never offered Update.
    const task = page.locator(`tr.item[data-name^="${n('svc')}."]`)
    await task.first().waitFor({timeout: 20_000})
    expect(await task.first().locator('button[data-action="update"]').isVisible()).toBe(false)
    expect(await page.locator('tr.group-row', {hasText: `${prefix}-swarm`}).count()).toBe(1)
    // Stopped and created containers are not offered Update either; running ones are, by name.
    expect(await row(n('exit0')).locator('button[data-action="update"]').isVisible()).toBe(false)
    expect(await row(n('created')).locator('button[data-action="update"]').isVisible()).toBe(false)
    await expect.poll(() => page.getByRole('button', {name: `Update ${n('healthy')}`}).isVisible()).toBe(true)
    // One summary: the header says what needs attention and lists it.
    const overall = page.locator('#overall')
    await expect.poll(() => overall.textContent(), {timeout: 15_000}).toMatch(/needs attention \(\d+\)/)
    await overall.click()
    const list = page.locator('#attention-list')
    await expect.poll(() => list.textContent()).toContain(`${n('unhealthy')}: unhealthy`)
    expect(await list.textContent()).toContain(`${n('exit137')}: exited (137)`)
    expect(await list.textContent()).not.toContain(n('exit0'))
    await overall.click()
    // The hint is one tap away.
    await row(n('unhealthy')).locator('button.disclosure').click()
    const details = page.locator(`#details-${(await d.getContainer(n('unhealthy')).inspect()).Id.slice(0, 12)}`)
    expect(await details.textContent()).toContain(`docker logs --tail 50 ${n('unhealthy')}`)
  }, 120_000)

  it('keeps focus, typed text and open details across refreshes', async () => {
    const search = page.locator('input[name="container-search"]')
    await search.focus()
    await search.press('End')
    await page.keyboard.type('-')
    await page.keyboard.press('Backspace')
    const marker = await row(n('healthy')).evaluate((el) => {
      ;(el as HTMLElement & {marker?: number}).marker = 42
      return true
    })
    expect(marker).toBe(true)
    // What polling costs on the wire, every section together: measured over the wait below.
    await page.evaluate(() => {
      performance.clearResourceTimings()
      performance.setResourceTimingBufferSize(5000)
    })
    // Two polls (5 s each).
    await page.waitForTimeout(11_000)
    const polled = await page.evaluate(() =>
      performance
        .getEntriesByType('resource')
        .map((e) => (e as PerformanceResourceTiming).transferSize || 0)
        .reduce((sum, n) => sum + n, 0),
    )
    console.log(`dashboard: polling costs ${(((polled / 11) * 60) / 1024).toFixed(1)} KiB a minute (all sections)`)
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name)).toBe(
      'container-search',
    )
    expect(await search.inputValue()).toBe(prefix)
    // The same row element, updated in place (not rebuilt).
    expect(await row(n('healthy')).evaluate((el) => (el as HTMLElement & {marker?: number}).marker)).toBe(42)
    expect(await row(n('unhealthy')).locator('button.disclosure').getAttribute('aria-expanded')).toBe('true')
  }, 60_000)

  it('confirms with Cancel focused, shows the steps of an update and records it in the shared history', async () => {
    const button = page.getByRole('button', {name: `Update ${n('healthy')}`})
    await button.click()
    const focused = await page.evaluate(() => document.activeElement?.textContent)
    expect(focused).toBe('Cancel')
    await page.locator('dialog.confirm button[value="ok"]').click()
    // In flight: the button stays disabled through refreshes and the step shows.
    const progress = row(n('healthy')).locator('.progress')
    await expect
      .poll(() => progress.textContent(), {timeout: 30_000})
      .toMatch(/pulling|stopping|creating|starting|health check|removing/)
    expect(await row(n('healthy')).locator('button[data-action="update"]').isDisabled()).toBe(true)
    await page
      .locator('.toast')
      .filter({hasText: n('healthy')})
      .first()
      .waitFor({timeout: 90_000})
    const entry = page.locator('ol.activity li', {hasText: `update ${n('healthy')}`}).first()
    await expect.poll(() => entry.textContent(), {timeout: 20_000}).toMatch(/done|failed/)
    // The history is shared: the API sees the same entry.
    const activity = await getJson<{entries: {target: string; steps: string[]}[]}>(`${serve.url}/monitor/ui/activity`)
    const mine = activity.body.entries.find((e) => e.target === n('healthy'))
    expect(mine?.steps).toContain('pulling')
  }, 150_000)

  it('searches, filters and groups Image updates; an Apply leaves Pending at once and enters both histories', async () => {
    const pending = page.locator('[data-testid="images-pending"]')
    await expect.poll(() => pending.locator('tbody tr[data-key]').count(), {timeout: 60_000}).toBeGreaterThanOrEqual(3)
    // Grouped by compose project, problems first; the header sums up the last check.
    // The groups come with the first refresh after Docker answered the listing (at most one poll later).
    await expect
      .poll(() => pending.locator('tr.group-row').allTextContents(), {timeout: 45_000})
      .toEqual([`${prefix}-apps`, `${prefix}-jobs`])
    expect(await page.locator('[data-testid="images-summary"]').textContent()).toMatch(/3 workloads · 3 with updates/)
    const images = page.locator('input[name="images-search"]')
    await images.fill(n('api'))
    await expect.poll(() => pending.locator('tbody tr[data-key]').count()).toBe(1)
    await page.locator('select[name="images-filter"]').selectOption('errors')
    await expect.poll(() => pending.textContent()).toContain('No pending update matches the search or filter.')
    await page.locator('select[name="images-filter"]').selectOption('all')
    // Apply with the steps shown while it runs.
    await page.getByRole('button', {name: `Apply 1.0.1 to ${n('api')}`}).click()
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel')
    await page.locator('dialog.confirm button[value="ok"]').click()
    const progress = pending.locator(`tr[data-key="${n('api')}"] .progress`)
    await expect.poll(() => progress.textContent(), {timeout: 30_000}).toMatch(/…$/)
    await page
      .locator('.toast')
      .filter({hasText: `${n('api')} now runs 1.0.1`})
      .waitFor({timeout: 90_000})
    // Gone from Pending without a new check; in the update history and in the shared activity of Containers.
    await expect.poll(() => pending.locator(`tr[data-key="${n('api')}"]`).count(), {timeout: 10_000}).toBe(0)
    const history = page.locator('[data-testid="images-history"] tbody tr').first()
    expect((await history.innerText()).replace(/\s+/g, ' ')).toContain(`${n('api')} 1.0.0 → 1.0.1 manual applied`)
    const activity = page.locator('ol.activity li', {hasText: `update ${n('api')} to 1.0.1`}).first()
    await expect.poll(() => activity.textContent(), {timeout: 20_000}).toMatch(/done.*Image updates page/s)
    await images.fill('')
  }, 180_000)

  it('shows an update made from the command line on every page: Pending, History and Activity', async () => {
    const cli = await runCli(
      ['monitor', 'update', n('web'), '--image', appImage('1.0.1'), '--yes', '--config', configPath],
      {env: {HOMEOPS_DB_PATH: dbPath, DOCKER_HOST: testEnv().dockerHost}, timeoutMs: 120_000},
    )
    expect(cli.code, cli.stderr).toBe(0)
    const pending = page.locator('[data-testid="images-pending"]')
    // The next refresh (30 s), not the next hourly check.
    await expect.poll(() => pending.locator(`tr[data-key="${n('web')}"]`).count(), {timeout: 45_000}).toBe(0)
    const history = page.locator('[data-testid="images-history"] tbody tr', {hasText: n('web')}).first()
    expect((await history.innerText()).replace(/\s+/g, ' ')).toContain(`${n('web')} 1.0.0 → 1.0.1 manual applied`)
    const activity = page.locator('ol.activity li', {hasText: `update ${n('web')}`}).first()
    await expect.poll(() => activity.textContent(), {timeout: 30_000}).toMatch(/done.*by command line/s)
    // The Containers update made earlier in this file is in the image history too only if it changed the image;
    // the API says what the shared activity holds either way.
    const all = await getJson<{entries: {target: string; by: string}[]}>(`${serve.url}/images/activity?limit=50`)
    expect(all.body.entries.map((e) => e.by)).toEqual(
      expect.arrayContaining([
        'command line',
        expect.stringMatching(/^Containers page/),
        expect.stringMatching(/^Image updates page/),
      ]),
    )
  }, 180_000)

  it('has no axe-core violations and writes screenshots of every section in both themes', async () => {
    for (const theme of ['light', 'dark']) {
      for (const [label, viewport] of [
        ['desktop', {width: 1440, height: 900}],
        ['phone', {width: 390, height: 844}],
      ] as const) {
        await page.setViewportSize(viewport)
        await page.evaluate((t) => localStorage.setItem('homeops-theme', t), theme)
        await page.reload()
        await page.locator('tr.item').first().waitFor({timeout: 20_000})
        await showOnlyScene()
        await page.waitForTimeout(300)
        // Through the debugger, not a <script>: the page's CSP refuses inline scripts, as it should.
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
        expect(violations, `${theme} ${label}`).toEqual([])
        await page.screenshot({path: join(screens, `dashboard-${label}-${theme}.png`), fullPage: true})
        for (const section of await page.locator('section.section').all()) {
          const id = await section.getAttribute('id')
          await section.screenshot({path: join(screens, `${id}-${label}-${theme}.png`)})
        }
        if (label === 'phone') {
          // One line per container, touch targets of 44 px.
          const heights = await page
            .locator('tr.item:visible')
            .evaluateAll((rows) => rows.map((r) => Math.round(r.getBoundingClientRect().height)))
          expect(heights.length).toBeGreaterThan(5)
          expect(Math.max(...heights)).toBeLessThanOrEqual(56)
          const buttons = await page
            .locator('tr.item button:visible')
            .evaluateAll((list) => list.map((b) => Math.round(b.getBoundingClientRect().height)))
          expect(Math.min(...buttons)).toBeGreaterThanOrEqual(44)
          // Image updates too: one line per workload (name, version, action), the rest left out.
          const imageRows = await page
            .locator(
              '[data-testid="images-workloads"] tr[data-key]:visible, [data-testid="images-pending"] tr[data-key]:visible',
            )
            .evaluateAll((rows) => rows.map((r) => Math.round(r.getBoundingClientRect().height)))
          expect(imageRows.length).toBeGreaterThan(0)
          expect(Math.max(...imageRows)).toBeLessThanOrEqual(64)
        }
      }
    }
  }, 180_000)
})
