/// <reference lib="dom" />
import {type ChildProcess, execFileSync, spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {type Server, type Socket, connect, createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type Dyndns2Fake, type EchoFake, startDyndns2, startEcho} from '../integration/ddns/fakes.js'
import {type FakeSystemd, startFakeSystemd} from '../integration/serve/fake-systemd.js'
import {cliPath, repoRoot} from '../support/cli.js'
import {testEnv} from '../support/testenv.js'
import {launchChromium} from '../support/browser.js'
import {freePort} from '../support/free-port.js'

/**
 * `homeops serve` as users run it (HOMEOPS_E2E_CLI: another build's bin/run.js): the built CLI as a process, with a config
 * enabling several modes against the test environment (monitor on the test
 * dockerd through a socket proxy this test can cut, ddns against protocol
 * fakes), systemd notifications to a fake service manager, the page in
 * headless Chromium, then SIGTERM.
 */
const env = testEnv()
const id = randomBytes(4).toString('hex')
const container = `hotest-serve-${id}`
const dir = mkdtempSync(join(tmpdir(), 'homeops-sd-'))
const proxySocket = join(dir, 'docker.sock')
const apiKey = `key-${randomBytes(12).toString('hex')}`
const artifacts = join(repoRoot, 'test-results')

let proxy: DockerProxy
let dyndns: Dyndns2Fake
let echo: EchoFake
let systemd: FakeSystemd
let child: ChildProcess
let url: string
let configPath: string
let stderr = ''
let exit: Promise<{code: number | null; signal: NodeJS.Signals | null}>

/** Modes in this build, besides the two the test drives (each gets a config against the test environment). */
const cli = process.env.HOMEOPS_E2E_CLI ?? cliPath
const built = (mode: string) => existsSync(join(cli, '..', '..', 'dist', 'lib', mode, 'mode.js'))

interface DockerProxy {
  start(): Promise<void>
  /** Closes the socket and cuts every open connection: Docker "disappears" for homeops only. */
  stop(): Promise<void>
}

function dockerProxy(path: string, target: string): DockerProxy {
  let server: Server | undefined
  const sockets = new Set<Socket>()
  return {
    async start() {
      server = createServer((client) => {
        const upstream = connect(target)
        sockets.add(client)
        sockets.add(upstream)
        client.pipe(upstream).pipe(client)
        const done = () => {
          client.destroy()
          upstream.destroy()
          sockets.delete(client)
          sockets.delete(upstream)
        }
        client.on('error', done).on('close', done)
        upstream.on('error', done).on('close', done)
      })
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject)
        server!.listen(path, () => resolve())
      })
    },
    async stop() {
      const s = server
      server = undefined
      if (!s) return
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => s.close(() => resolve()))
    },
  }
}

function docker(...args: string[]): string {
  return execFileSync('docker', args, {
    env: {...process.env, DOCKER_HOST: env.dockerHost, DOCKER_CONFIG: env.dockerConfigDir},
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim()
}

interface Health {
  status: string
  modes: Record<string, {up: boolean; state: string; detail?: string}>
}

async function health(): Promise<{status: number; body: Health}> {
  const response = await fetch(`${url}/health`)
  return {status: response.status, body: (await response.json()) as Health}
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (error) {
      last = error
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new Error(`timed out waiting for ${what} (${String(last ?? '')})\nserve stderr:\n${stderr.slice(-4000)}`)
}

beforeAll(async () => {
  mkdirSync(artifacts, {recursive: true})
  proxy = dockerProxy(proxySocket, env.dockerSocket)
  await proxy.start()
  dyndns = await startDyndns2({hosts: ['home.example.org']})
  echo = await startEcho('84.16.66.10')
  systemd = await startFakeSystemd(join(dir, 'notify.sock'))
  docker('run', '-d', '--name', container, '--label', 'homeops.test=serve', `${env.images.app}:1.0.0`, 'sleep', '3600')

  const port = await freePort()
  url = `http://127.0.0.1:${port}`
  const optional: string[] = []
  if (built('images')) optional.push('images:', '  enabled: true', '  intervalSeconds: 3600')
  if (built('swarm')) optional.push('swarm:', '  enabled: true', '  reconcileIntervalSeconds: 3600')
  if (built('dns')) optional.push('dns:', '  enabled: true', '  bind: 127.0.0.1', `  port: ${await freePort()}`)
  configPath = join(dir, 'config.yaml')
  writeFileSync(
    configPath,
    [
      'serve:',
      `  listen: 127.0.0.1:${port}`,
      `  apiKey: ${apiKey}`,
      'docker:',
      `  host: unix://${proxySocket}`,
      'registries:',
      `  - host: ${env.authRegistry.host}`,
      `    username: ${env.authRegistry.username}`,
      `    password: ${env.authRegistry.password}`,
      'monitor:',
      '  enabled: true',
      'ddns:',
      '  enabled: true',
      '  intervalSeconds: 15',
      '  requestTimeout: 2',
      '  retryBackoff: 0',
      `  server: ${dyndns.url}`,
      '  ipSources:',
      `    v4: ['${echo.url}']`,
      '  records:',
      '    - hostname: home.example.org',
      '      provider: dyndns2',
      '      username: user',
      '      password: pass-word-1',
      ...optional,
      '',
    ].join('\n'),
  )

  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('HOMEOPS_') && k !== 'DOCKER_HOST' && k !== 'CI'),
  )
  child = spawn(process.execPath, [cli, 'serve', '--config', configPath], {
    cwd: repoRoot,
    env: {
      ...base,
      HOMEOPS_DB_PATH: join(dir, 'state', 'homeops.db'),
      DOCKER_CONFIG: env.dockerConfigDir,
      NOTIFY_SOCKET: systemd.address,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout!.on('data', () => {})
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve({code, signal})))
  const ready = systemd.waitFor((m) => m.fields.READY === '1', 60_000)
  const exited = exit.then(({code}) => {
    throw new Error(`homeops serve exited (${code}) before READY=1:\n${stderr}`)
  })
  await Promise.race([ready, exited]).catch((error: Error) => {
    throw new Error(`${error.message}\nserve stderr:\n${stderr}`)
  })
})

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL')
    await exit
  }
  try {
    docker('rm', '-f', container)
  } catch {
    // already gone
  }
  await Promise.all([proxy?.stop(), dyndns?.close(), echo?.close(), systemd?.stop()])
  rmSync(dir, {recursive: true, force: true})
})

describe('homeops serve (the built CLI)', () => {
  it('tells systemd it is ready, with the mode summary and its own pid', () => {
    const ready = systemd.messages.find((m) => m.fields.READY === '1')!
    expect(ready.fields.MAINPID).toBe(String(child.pid))
    expect(ready.fields.STATUS).toMatch(/^\d+\/\d+ modes up/)
  })

  it('reports every enabled mode up in /health once ddns has done its first pass', async () => {
    const body = await waitFor('/health 200', async () => {
      const h = await health()
      return h.status === 200 ? h.body : undefined
    })
    expect(body.status).toBe('ok')
    expect(body.modes.monitor).toMatchObject({up: true, state: 'up'})
    expect(body.modes.ddns).toMatchObject({up: true, state: 'up'})
    // the ddns loop's first pass reaches the provider (it may still be running when /health first says 200)
    expect(await waitFor('the ddns update', async () => dyndns.records.get('home.example.org/4'))).toBe('84.16.66.10')
  })

  it('serves /metrics as valid Prometheus text with mode and area metrics', async () => {
    const response = await fetch(`${url}/metrics`)
    expect(response.status).toBe(200)
    const families = parsePrometheusTextFormat(await response.text())
    const names = new Set(families.map((f) => f.name))
    for (const name of ['homeops_up', 'process_start_time_seconds', 'process_cpu_seconds_total', 'homeops_mode_up'])
      expect(names).toContain(name)
    const up = families.find((f) => f.name === 'homeops_mode_up')!.metrics
    expect(up).toContainEqual({labels: {mode: 'monitor'}, value: '1'})
    expect(up).toContainEqual({labels: {mode: 'ddns'}, value: '1'})
    // each area registers its own families on the shared registry (the list)
    const areaMetrics: Record<string, string[]> = {
      ddns: ['homeops_ddns_updates_total', 'homeops_ddns_last_success_timestamp_seconds'],
      monitor: ['homeops_container_cpu_percent', 'homeops_container_memory_bytes'],
      images: [
        'homeops_images_checked_total',
        'homeops_images_updates_available',
        'homeops_images_updates_applied_total',
      ],
      dns: ['homeops_dns_queries_total', 'homeops_dns_answer_seconds'],
      swarm: ['homeops_swarm_stacks', 'homeops_swarm_last_reconcile_duration_seconds'],
    }
    const running = Object.keys((await health()).body.modes)
    const missing = running.flatMap((mode) => (areaMetrics[mode] ?? []).filter((name) => !names.has(name)))
    expect(missing).toEqual([])
  })

  it('shows every section populated in headless Chromium, on a desktop and on a phone', async () => {
    const browser = await launchChromium()
    let failureShot: (() => Promise<string>) | undefined
    try {
      const page = await browser.newPage({viewport: {width: 1280, height: 900}})
      const problems: string[] = []
      page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`)
      })
      page.on('requestfailed', (request) =>
        problems.push(`request failed: ${request.url()} (${request.failure()?.errorText ?? ''})`),
      )
      await page.goto(url + '/', {waitUntil: 'load'})
      failureShot = async () => {
        await page.screenshot({path: join(artifacts, 'serve-ui-failure.png'), fullPage: true}).catch(() => {})
        return `page text:\n${await page.textContent('body').catch(() => '')}\nproblems: ${problems.join('; ')}`
      }
      await page.waitForSelector('section[data-mode="monitor"]', {timeout: 20_000})
      const modes = await page.$$eval('section[data-mode]', (sections) =>
        sections.map((s) => (s as HTMLElement).dataset.mode),
      )
      expect(modes).toEqual(expect.arrayContaining(['monitor', 'ddns']))
      // each section filled from the test environment: the container we started, the ddns record
      await page.waitForFunction(
        (name) => document.querySelector('section[data-mode="monitor"]')?.textContent?.includes(name),
        container,
        {timeout: 30_000},
      )
      await page.waitForFunction(
        () => document.querySelector('section[data-mode="ddns"]')?.textContent?.includes('home.example.org'),
        undefined,
        {timeout: 30_000},
      )
      // the status badge follows /api/modes (polled every 10 s)
      await page.waitForFunction(() => document.querySelector('#overall')?.textContent === 'all fine', undefined, {
        timeout: 30_000,
      })
      // every enabled mode has its section, mounted (its own view or the snapshot view), none showing a load error
      const listed = ((await (await fetch(`${url}/api/modes`)).json()) as {modes: {name: string}[]}).modes.map(
        (m) => m.name,
      )
      expect(listed.length).toBeGreaterThanOrEqual(2)
      for (const name of listed) {
        await page.waitForFunction(
          (mode) => {
            const body = document.querySelector(`section[data-mode="${mode}"] .section-body`)
            return Boolean(body && body.textContent && body.textContent.trim().length > 20)
          },
          name,
          {timeout: 30_000},
        )
        const text = await page.textContent(`section[data-mode="${name}"]`)
        expect(text, name).not.toContain('could not be loaded')
        expect(text, name).not.toContain('Shown when the mode is up')
      }
      await page.screenshot({path: join(artifacts, 'serve-ui.png'), fullPage: true})

      // the theme toggle switches and is remembered
      const before = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
      await page.click('#theme-button')
      const after = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
      expect(after).not.toBe(before)
      await page.reload({waitUntil: 'load'})
      expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe(after)

      const phone = await browser.newPage({viewport: {width: 390, height: 844}, isMobile: true, hasTouch: true})
      await phone.goto(url + '/', {waitUntil: 'load'})
      await phone.waitForFunction(
        (name) => document.querySelector('section[data-mode="monitor"]')?.textContent?.includes(name),
        container,
        {timeout: 30_000},
      )
      // nothing wider than the screen: tables turn into cards
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      expect(overflow).toBeLessThanOrEqual(1)
      await phone.screenshot({path: join(artifacts, 'serve-ui-phone.png'), fullPage: true})
      // Chromium aborts requests in flight when a network interface appears (other tests' Docker networks):
      // the page polls again; that is the machine, not the page.
      const changed = (p: string) => p.includes('ERR_NETWORK_CHANGED')
      expect(problems.filter((p) => !p.includes('favicon') && !changed(p))).toEqual([])
    } catch (error) {
      const details = failureShot ? await failureShot() : ''
      throw new Error(`${(error as Error).message}\n${details}\nhealth: ${JSON.stringify((await health()).body)}`)
    } finally {
      await browser.close()
    }
  })

  it('asks before an action, explains a refused key, and checks and keeps the key the user enters', async () => {
    const browser = await launchChromium()
    try {
      const page = await browser.newPage()
      await page.goto(url + '/', {waitUntil: 'load'})
      await page.waitForSelector('#key-button:not([hidden])')
      expect(await page.textContent('#key-button')).toBe('Set key')

      // page.evaluate with source text: the test runner must not rewrite the browser's import()
      const inPage = <T>(body: string) =>
        page.evaluate<T>(`(async () => { const ui = await import('/web/shared/ui.js'); ${body} })()`)

      // confirmDialog: Cancel → false, Confirm → true
      const answers = inPage<boolean[]>(`
        const a = await ui.confirmDialog('Prune unused images?')
        const b = await ui.confirmDialog('Update web to 1.1.0?')
        return [a, b]`)
      await page.click('dialog.confirm button:has-text("Cancel")')
      await page.click('dialog.confirm button:has-text("Confirm")')
      expect(await answers).toEqual([false, true])

      // an action without the key: a readable error, and the shell's key dialog opens
      const refused = await inPage<string>(`
        let asked = false
        const api = ui.createApi('/swarm', () => undefined, {onUnauthorized: () => (asked = true)})
        try {
          await api.post('/reconcile', {})
          return 'accepted'
        } catch (error) {
          return error.message + ' asked=' + asked
        }`)
      expect(refused).toBe('POST /swarm/reconcile: the API key is missing or wrong (401) asked=true')

      // a wrong key is refused in the dialog; the right one is checked by the server and kept for the session
      await page.click('#key-button')
      await page.fill('dialog input[name="api-key"]', 'not-the-key')
      await page.click('dialog button:has-text("Save")')
      await page.waitForSelector('dialog .notice.error')
      expect(await page.textContent('dialog .notice.error')).toBe('This key is not accepted.')
      await page.fill('dialog input[name="api-key"]', apiKey)
      await page.click('dialog button:has-text("Save")')
      await page.waitForFunction(() => document.querySelector('#key-button')?.textContent === 'Key set')
      expect(await page.evaluate(() => sessionStorage.getItem('homeops-api-key'))).toBe(apiKey)
      expect(await page.evaluate(() => localStorage.getItem('homeops-api-key'))).toBeNull()

      // the helpers sections build on
      const helpers = await inPage<Record<string, unknown>>(`
        const svg = ui.sparkline([1, 5, 3, 8], {width: 80, height: 20})
        const t = ui.table([{key: 'name', label: 'Name'}], [{name: 'web'}])
        return {
          svg: svg.tagName + ' ' + svg.getAttribute('width') + 'x' + svg.getAttribute('height') + ' ' + svg.querySelectorAll('path').length,
          td: t.querySelector('td').getAttribute('data-label'),
          bytes: [ui.formatBytes(1536), ui.formatBytes(0), ui.formatBytes(undefined)],
          ago: [ui.formatAgo(Date.now() - 5 * 60000), ui.formatAgo(undefined)],
        }`)
      expect(helpers).toEqual({
        svg: 'svg 80x20 2',
        td: 'Name',
        bytes: ['1.5 KiB', '0 B', '–'],
        ago: ['5 min ago', 'never'],
      })
    } finally {
      await browser.close()
    }
  })

  it('needs the API key for an action: refused without it, and the page shows the key button', async () => {
    const refused = await fetch(`${url}/api/auth`, {method: 'POST'})
    expect(refused.status).toBe(401)
    const accepted = await fetch(`${url}/api/auth`, {method: 'POST', headers: {'x-api-key': apiKey}})
    expect(accepted.status).toBe(200)
    const modes = await (await fetch(`${url}/api/modes`)).text()
    expect(modes).not.toContain(apiKey)
    expect(stderr).not.toContain(apiKey)
  })

  it('keeps the other modes up when Docker disappears, says which mode is down, and recovers', async () => {
    await proxy.stop()
    const down = await waitFor(
      '/health naming monitor down',
      async () => {
        const h = await health()
        return h.status === 503 && !h.body.modes.monitor?.up ? h.body : undefined
      },
      45_000,
    )
    expect(down.status).toBe('degraded')
    expect(down.modes.monitor!.detail).toMatch(/docker/i)
    expect(down.modes.ddns).toMatchObject({up: true, state: 'up'})
    // the server and the other mode's API still answer
    expect((await fetch(`${url}/ddns/status`)).status).toBe(200)
    const metrics = parsePrometheusTextFormat(await (await fetch(`${url}/metrics`)).text())
    const up = metrics.find((f) => f.name === 'homeops_mode_up')!.metrics
    expect(up).toContainEqual({labels: {mode: 'monitor'}, value: '0'})
    expect(up).toContainEqual({labels: {mode: 'ddns'}, value: '1'})

    await proxy.start()
    await waitFor(
      'monitor back up',
      async () => {
        const h = await health()
        return h.body.modes.monitor?.up ? true : undefined
      },
      60_000,
    )
  })

  it('reloads the config on SIGHUP, and keeps running on an invalid file', async () => {
    const {readFileSync} = await import('node:fs')
    const good = readFileSync(configPath, 'utf8')
    writeFileSync(configPath, good.replace('monitor:\n  enabled: true', 'monitor:\n  enabled: yes please'))
    child.kill('SIGHUP')
    await waitFor('the reload error', async () =>
      stderr.includes('configuration reload failed, keeping the running configuration') ? true : undefined,
    )
    expect(stderr).toMatch(
      new RegExp(`${configPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: monitor.enabled`),
    )
    expect((await fetch(`${url}/health`)).status).toBeLessThan(600)
    expect((await fetch(`${url}/monitor/health`)).status).not.toBe(404)

    writeFileSync(configPath, good.replace('  intervalSeconds: 15', '  intervalSeconds: 20'))
    child.kill('SIGHUP')
    await waitFor('the reload', async () => (stderr.includes('configuration reloaded') ? true : undefined))
    expect(stderr).toMatch(/mode restarting with the new configuration mode=ddns/)
    expect(stderr).not.toMatch(/mode restarting with the new configuration mode=monitor/)
    await systemd.waitFor((m) => m.fields.RELOADING === '1')
  })

  it('exits 0 within 5 s of SIGTERM and tells systemd it is stopping', async () => {
    const started = Date.now()
    child.kill('SIGTERM')
    const result = await exit
    const took = Date.now() - started
    expect(result).toEqual({code: 0, signal: null})
    expect(took).toBeLessThan(5000)
    await systemd.waitFor((m) => m.fields.STOPPING === '1')
    expect(stderr).toMatch(/SIGTERM received, stopping/)
    expect(stderr).toMatch(/serve stopped/)
    await expect(fetch(`${url}/health`)).rejects.toThrow()
  })
})
