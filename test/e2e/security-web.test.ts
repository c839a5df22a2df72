import {randomBytes} from 'node:crypto'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {type Server, createServer, request} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {Browser} from 'playwright-core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {Cleanup, appImage, docker, runContainer} from '../integration/monitor/harness.js'
import {launchChromium} from '../support/browser.js'
import {type RunningCli, startCli} from '../support/cli-servers.js'
import {testEnv} from '../support/testenv.js'
import {freePort} from '../support/free-port.js'

/**
 * Issue 12, items 2, 3 and 5, in a real browser against the built CLI with the
 * default settings (no key): a page on another loopback port tries a form
 * POST, a no-cors text/plain fetch and a JSON fetch against every state-changing
 * route of `homeops serve` and `monitor serve`; all are refused and nothing
 * changes (settings file, the container), while the servers' own pages still
 * act. A request naming a foreign Host (DNS rebinding) gets 421.
 */
const d = docker()
const cleanup = new Cleanup(d)
const dir = mkdtempSync(join(tmpdir(), 'homeops-e2e-sec-'))
const container = `hotest-sechttp-${randomBytes(4).toString('hex')}`
let serve: RunningCli
let monitor: RunningCli
let attacker: Server
let attackerUrl: string
let browser: Browser
let containerId: string

function env(name: string): NodeJS.ProcessEnv {
  const config = join(dir, `${name}.yaml`)
  writeFileSync(
    config,
    'images:\n  intervalSeconds: 86400\n  watchByDefault: false\nswarm:\n  reconcileIntervalSeconds: 3600\n',
  )
  return {
    HOME: dir,
    HOMEOPS_CONFIG: config,
    HOMEOPS_DB_PATH: join(dir, name, 'homeops.db'),
    SETTINGS_PATH: join(dir, name, 'monitor-settings.json'),
    DOCKER_HOST: testEnv().dockerHost,
    DOCKER_CONFIG: testEnv().dockerConfigDir,
  }
}

const settingsFile = (name: string) => join(dir, name, 'monitor-settings.json')

/** Every route that changes something, with the body an attacker would send. */
const SERVE_ROUTES: [string, unknown][] = [
  ['/monitor/settings', {auth_enabled: true, api_key: 'attacker-key-0123456789', allowed_cidrs: '0.0.0.0/0'}],
  ['/monitor/ui/update_container', {name: container}],
  ['/monitor/ui/images/prune', {}],
  ['/monitor/update_container', {name: container}],
  ['/monitor/images/prune', {}],
  ['/images/update', {workload: container, to: '2.0.0'}],
  ['/images/check', {}],
  ['/images/apply', {token: 'x'}],
  ['/swarm/reconcile', {}],
  ['/api/auth', {}],
]
const MONITOR_ROUTES: [string, unknown][] = [
  ['/settings', {auth_enabled: true, api_key: 'attacker-key-0123456789', allowed_cidrs: '0.0.0.0/0'}],
  ['/ui/update_container', {name: container}],
  ['/ui/images/prune', {}],
  ['/update_container', {name: container}],
  ['/images/prune', {}],
]

/** The attacker's page: three ways to send each request, results in window.results. */
function attackPage(target: string, routes: [string, unknown][]): string {
  return `<!doctype html><meta charset="utf-8"><title>cute cats</title><link rel="icon" href="data:,">
<body><script>
const target = ${JSON.stringify(target)}
const routes = ${JSON.stringify(routes)}
window.results = []
function formPost(path, body, enctype) {
  return new Promise((resolve) => {
    const frame = document.createElement('iframe')
    frame.name = 'f' + Math.random().toString(36).slice(2)
    document.body.appendChild(frame)
    const form = document.createElement('form')
    form.method = 'POST'
    form.action = target + path
    form.enctype = enctype
    form.target = frame.name
    const input = document.createElement('input')
    input.type = 'hidden'
    // The classic trick: a text/plain form whose body reads as JSON.
    input.name = JSON.stringify(body).slice(0, -1) + ',"x":"'
    input.value = '"}'
    form.appendChild(input)
    document.body.appendChild(form)
    frame.addEventListener('load', () => resolve('loaded'), {once: true})
    setTimeout(() => resolve('timeout'), 3000)
    form.submit()
  })
}
;(async () => {
  for (const [path, body] of routes) {
    window.results.push([path, 'form-text', await formPost(path, body, 'text/plain')])
    window.results.push([path, 'form-urlencoded', await formPost(path, body, 'application/x-www-form-urlencoded')])
    try {
      await fetch(target + path, {method: 'POST', mode: 'no-cors', headers: {'content-type': 'text/plain'}, body: JSON.stringify(body)})
      window.results.push([path, 'no-cors', 'sent'])
    } catch (e) { window.results.push([path, 'no-cors', 'error ' + e.message]) }
    try {
      const r = await fetch(target + path, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
      window.results.push([path, 'json', 'status ' + r.status])
    } catch (e) { window.results.push([path, 'json', 'blocked']) }
  }
  window.done = true
})()
</script>`
}

/** Access-log lines (`http method=… path=… status=…`) of POSTs to `path`. */
function postStatuses(log: string, path: string): number[] {
  const out: number[] = []
  for (const line of log.split('\n')) {
    const m = /\bhttp method=POST path=(\S+) status=(\d+)/.exec(line)
    if (m && m[1] === path) out.push(Number(m[2]))
  }
  return out
}

function rawRequest(port: number, method: string, path: string, host: string, body?: string) {
  return new Promise<{status: number; body: string}>((resolve, reject) => {
    const req = request(
      {host: '127.0.0.1', port, method, path, headers: {host, ...(body ? {'content-type': 'application/json'} : {})}},
      (res) => {
        let text = ''
        res.on('data', (c: Buffer) => (text += c.toString()))
        res.on('end', () => resolve({status: res.statusCode ?? 0, body: text}))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

beforeAll(async () => {
  const created = await runContainer(d, cleanup, {name: container, Image: appImage('1.0.0')})
  containerId = created.id
  const servePort = await freePort()
  serve = await startCli(
    'homeops serve',
    ['serve', '--listen', `127.0.0.1:${servePort}`, '--mode', 'monitor', '--mode', 'images', '--mode', 'swarm'],
    env('serve'),
    servePort,
  )
  const monitorPort = await freePort()
  monitor = await startCli(
    'monitor serve',
    ['monitor', 'serve', '--listen', `127.0.0.1:${monitorPort}`],
    env('monitor'),
    monitorPort,
  )
  const pages: Record<string, string> = {
    '/serve': attackPage(serve.url, SERVE_ROUTES),
    '/monitor': attackPage(monitor.url, MONITOR_ROUTES),
  }
  attacker = createServer((req, res) => {
    const page = pages[req.url ?? '']
    res.writeHead(page ? 200 : 404, {'content-type': 'text/html; charset=utf-8'})
    res.end(page ?? '')
  })
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve))
  attackerUrl = `http://127.0.0.1:${(attacker.address() as {port: number}).port}`
  browser = await launchChromium()
}, 180_000)

afterAll(async () => {
  await browser?.close()
  attacker?.close()
  await serve?.stop()
  await monitor?.stop()
  await cleanup.run()
  rmSync(dir, {recursive: true, force: true})
}, 60_000)

async function attack(pagePath: string): Promise<[string, string, string][]> {
  const page = await browser.newPage()
  try {
    await page.goto(attackerUrl + pagePath)
    await page.waitForFunction(() => (window as unknown as {done?: boolean}).done === true, undefined, {
      timeout: 120_000,
    })
    return await page.evaluate(() => (window as unknown as {results: [string, string, string][]}).results)
  } finally {
    await page.close()
  }
}

describe('cross-site requests from a page on another origin (Chromium)', () => {
  it('are refused on every state-changing route of homeops serve, and nothing changes', async () => {
    const results = await attack('/serve')
    expect(results.length).toBe(SERVE_ROUTES.length * 4)
    // A JSON fetch needs a CORS preflight, which is never granted: the POST is not even sent.
    for (const [path, how, outcome] of results) if (how === 'json') expect(outcome, path).toBe('blocked')
    const log = serve.output()
    for (const [path] of SERVE_ROUTES) {
      const statuses = postStatuses(log, path)
      // two forms and the no-cors fetch reached the server, each refused as cross-origin
      expect(statuses, `${path}\n${log.slice(-2000)}`).toEqual([403, 403, 403])
    }
    expect(existsSync(settingsFile('serve'))).toBe(false)
    expect((await d.getContainer(container).inspect()).Id).toBe(containerId)
    expect(serve.alive()).toBe(true)
  })

  it('are refused on every state-changing route of monitor serve, and nothing changes', async () => {
    const results = await attack('/monitor')
    expect(results.length).toBe(MONITOR_ROUTES.length * 4)
    for (const [path, how, outcome] of results) if (how === 'json') expect(outcome, path).toBe('blocked')
    const log = monitor.output()
    for (const [path] of MONITOR_ROUTES) expect(postStatuses(log, path), path).toEqual([403, 403, 403])
    expect(existsSync(settingsFile('monitor'))).toBe(false)
    expect((await d.getContainer(container).inspect()).Id).toBe(containerId)
  })

  it("leaves the servers' own pages working: a check and a settings change from the UI succeed", async () => {
    const page = await browser.newPage()
    try {
      await page.goto(serve.url + '/')
      const check = page.waitForResponse((r) => r.url().endsWith('/images/check') && r.request().method() === 'POST')
      await page.click('[data-testid="images-check"]', {timeout: 30_000})
      expect((await check).status()).toBe(200)

      await page.goto(monitor.url + '/')
      await page.click('button[data-action="settings"]', {timeout: 30_000})
      await page.check('dialog.monitor-settings input[name="api_enabled"]')
      const saved = page.waitForResponse((r) => r.url().endsWith('/settings') && r.request().method() === 'POST')
      await page.click('dialog.monitor-settings button[type="submit"]')
      expect((await saved).status()).toBe(200)
      expect(JSON.parse(readFileSync(settingsFile('monitor'), 'utf8'))).toMatchObject({api_enabled: true})
    } finally {
      await page.close()
    }
  })
})

describe('DNS rebinding and bad settings', () => {
  it('answers 421 to a request whose Host is a foreign name, before any handler, and changes nothing', async () => {
    const port = serve.port
    const host = `rebind.attacker.example:${port}`
    for (const path of ['/api/modes', '/monitor/settings', '/monitor/ui/status', '/']) {
      const r = await rawRequest(port, 'GET', path, host)
      expect(r.status, path).toBe(421)
      expect(r.body).toContain('serve.allowedHosts')
    }
    const post = await rawRequest(port, 'POST', '/monitor/settings', host, '{"auth_enabled":true}')
    expect(post.status).toBe(421)
    expect(existsSync(settingsFile('serve'))).toBe(false)
    expect((await rawRequest(port, 'GET', '/api/modes', `127.0.0.1:${port}`)).status).toBe(200)
    expect((await rawRequest(port, 'GET', '/api/modes', `localhost:${port}`)).status).toBe(200)
  })

  it('refuses a page served from a name that resolves to 127.0.0.1 (Chromium, rebinding simulated by the resolver)', async () => {
    const rebinding = await launchChromium(['--host-resolver-rules=MAP rebind.attacker.test 127.0.0.1'])
    try {
      const page = await rebinding.newPage()
      const base = `http://rebind.attacker.test:${serve.port}`
      const response = await page.goto(`${base}/`)
      expect(response?.status()).toBe(421)
      // The page's own script (same origin as far as the browser knows) cannot read or change anything either.
      const statuses = await page.evaluate(async () => {
        const read = await fetch('/monitor/settings')
        const write = await fetch('/monitor/settings', {
          method: 'POST',
          headers: {'content-type': 'application/json'},
          body: JSON.stringify({auth_enabled: true}),
        })
        return [read.status, write.status]
      })
      expect(statuses).toEqual([421, 421])
      expect(existsSync(settingsFile('serve'))).toBe(false)
    } finally {
      await rebinding.close()
    }
  })

  it('answers 400 to an allow-list entry BlockList would abort on, and keeps serving', async () => {
    for (const bad of [
      '127.0.0.1/-0',
      '10.0.0.0/',
      '192.168.1.0/24/99',
      '10.0.0.0/0x18',
      '10.0.0.0/1e1',
      'fe80::1%eth0',
    ]) {
      const r = await fetch(`${monitor.url}/settings`, {
        method: 'POST',
        headers: {'content-type': 'application/json'},
        body: JSON.stringify({allowed_cidrs: `127.0.0.1/32, ${bad}`}),
      })
      expect(r.status, bad).toBe(400)
      expect(((await r.json()) as {error: string}).error).toContain('is not an address or CIDR range')
    }
    const short = await fetch(`${monitor.url}/settings`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({api_key: 'a'}),
    })
    expect(short.status).toBe(400)
    expect(((await short.json()) as {error: string}).error).toContain('at least 16 characters')
    expect(monitor.alive()).toBe(true)
    expect((await fetch(`${monitor.url}/health`)).status).toBe(200)
  })
})
