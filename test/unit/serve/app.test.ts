import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import {afterEach, describe, expect, it, vi} from 'vitest'

import type {HomeopsConfig, Mode} from '../../../src/lib/config/root-schema.js'
import {ConfigError} from '../../../src/lib/config/load.js'
import {type ServeHandle, startServe} from '../../../src/lib/serve/app.js'
import {statusLine} from '../../../src/lib/serve/systemd-status.js'
import type {ServiceMode} from '../../../src/lib/serve/mode.js'
import type {Notifier} from '../../../src/lib/systemd/notify.js'
import {FakeMode, captureLogs, configFrom, fakeContext, until} from './fakes.js'

const handles: ServeHandle[] = []
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.stop(1000)))
})

async function serve(
  yaml: string,
  modes: Partial<Record<Mode, ServiceMode | Error>>,
  extra: {
    reloadConfig?: () => HomeopsConfig
    notifier?: Notifier
    dockerPing?: (timeoutMs: number) => Promise<void>
  } = {},
) {
  const {config} = configFrom(yaml)
  const logs = captureLogs()
  const context = await fakeContext(config, logs.logger)
  const handle = await startServe(context, {
    listen: '127.0.0.1:0',
    accessLog: false,
    backoff: {initialMs: 50, maxMs: 200},
    // A daemon that answers, unless the test says otherwise.
    dockerPing: async () => {},
    loadMode: async (name) => {
      const mode = modes[name]
      if (!mode) throw new Error(`lib/${name}/mode.js is not part of this build`)
      if (mode instanceof Error) throw mode
      return mode
    },
    ...extra,
  })
  handles.push(handle)
  const get = async (path: string, init?: RequestInit) => {
    const response = await fetch(handle.url + path, init)
    const text = await response.text()
    let body: unknown = text
    try {
      body = JSON.parse(text)
    } catch {
      // text
    }
    return {status: response.status, body: body as Record<string, unknown> & string, headers: response.headers}
  }
  return {handle, logs, get, context}
}

const ENABLED = 'monitor:\n  enabled: true\ndns:\n  enabled: true\nddns:\n  enabled: true\n'

describe('homeops serve (in process)', () => {
  it('answers /health 200 only when every enabled mode is up, and names the one that is down', async () => {
    let dnsUp = true
    const {get} = await serve(ENABLED, {
      monitor: new FakeMode('monitor'),
      dns: new FakeMode('dns', {health: () => ({up: dnsUp, detail: dnsUp ? 'answering' : 'upstream unreachable'})}),
      ddns: new FakeMode('ddns'),
    })
    const ok = await get('/health')
    expect(ok.status).toBe(200)
    expect(ok.body.status).toBe('ok')
    expect(Object.keys(ok.body.modes as object).sort()).toEqual(['ddns', 'dns', 'monitor'])

    dnsUp = false
    const down = await get('/health')
    expect(down.status).toBe(503)
    expect(down.body).toMatchObject({
      status: 'degraded',
      modes: {
        dns: {up: false, state: 'up', detail: 'upstream unreachable'},
        monitor: {up: true},
        ddns: {up: true},
      },
    })
  })

  it('answers /health 503 within the ping limit while the Docker daemon does not answer, and 200 once it does', async () => {
    let frozen = true
    let pings = 0
    const {get} = await serve(
      'monitor:\n  enabled: true\nddns:\n  enabled: true\n',
      {monitor: new FakeMode('monitor'), ddns: new FakeMode('ddns')},
      {
        dockerPing: () => {
          pings++
          return frozen ? new Promise<void>(() => {}) : Promise.resolve()
        },
      },
    )
    // The ping limit runs on the fake clock (the HTTP requests stay real).
    vi.useFakeTimers({toFake: ['setTimeout', 'clearTimeout', 'Date']})
    const started = Date.now()
    let down: Awaited<ReturnType<typeof get>>
    let again: Awaited<ReturnType<typeof get>>
    let took: number
    try {
      const asked = Promise.all([get('/health'), get('/health')])
      await vi.waitFor(() => expect(pings).toBe(1), {timeout: 5000})
      await vi.advanceTimersByTimeAsync(2000)
      ;[down, again] = await asked
      took = Date.now() - started
    } finally {
      vi.useRealTimers()
    }
    expect(took).toBeLessThan(4000)
    expect(pings).toBe(1) // concurrent checks share one ping
    expect(down.status).toBe(503)
    expect(again.status).toBe(503)
    expect(down.body).toMatchObject({
      status: 'degraded',
      modes: {monitor: {up: true}, ddns: {up: true}},
      docker: {reachable: false, error: 'the Docker daemon did not answer a ping within 2 s'},
    })
    // the answer is reused for a few seconds: a health poller does not pile pings on a frozen daemon
    expect((await get('/health')).status).toBe(503)
    expect(pings).toBe(1)

    frozen = false
    let health = await get('/health')
    for (let i = 0; i < 100 && health.status !== 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      health = await get('/health')
    }
    expect(health.body).toMatchObject({status: 'ok', docker: {reachable: true}})
  }, 20_000)

  it('does not ask Docker for /health when no enabled mode needs it', async () => {
    let pings = 0
    const {get} = await serve(
      'ddns:\n  enabled: true\n',
      {ddns: new FakeMode('ddns')},
      {dockerPing: () => (pings++, new Promise<void>(() => {}))},
    )
    const health = await get('/health')
    expect(health.status).toBe(200)
    expect(health.body).not.toHaveProperty('docker')
    expect(pings).toBe(0)
  })

  it('starts only enabled modes and mounts each mode routes under /<mode>', async () => {
    const swarm = new FakeMode('swarm')
    const {get} = await serve(ENABLED, {
      monitor: new FakeMode('monitor'),
      dns: new FakeMode('dns'),
      ddns: new FakeMode('ddns'),
      swarm,
    })
    expect((await get('/monitor/status')).body).toMatchObject({mode: 'monitor', running: true})
    expect((await get('/dns/status')).body).toMatchObject({mode: 'dns'})
    expect((await get('/swarm/status')).status).toBe(404)
    expect(swarm.starts).toBe(0)
    expect((await get('/status')).status).toBe(404)
  })

  it('keeps the other modes serving while one fails to start, answers 503 for the failed mode routes, and recovers it', async () => {
    let broken = true
    const flaky = new FakeMode('dns', {failWhile: () => broken})
    const {get, handle} = await serve(ENABLED, {
      monitor: new FakeMode('monitor'),
      dns: flaky,
      ddns: new FakeMode('ddns'),
    })
    const health = await get('/health')
    expect(health.status).toBe(503)
    expect((health.body.modes as Record<string, {state: string; lastError: string}>).dns).toMatchObject({
      state: 'backoff',
      lastError: expect.stringMatching(/^dns cannot start \(attempt \d+\)$/),
    })
    const routed = await get('/dns/status')
    expect(routed.status).toBe(503)
    expect(routed.body).toMatchObject({error: 'mode_unavailable', mode: 'dns', state: 'backoff'})
    expect((await get('/monitor/status')).status).toBe(200)
    broken = false
    await until(() => handle.supervisor.get('dns')!.up, 3000, 'dns up')
    expect(flaky.starts).toBeGreaterThanOrEqual(2)
    expect((await get('/health')).status).toBe(200)
    expect((await get('/dns/status')).status).toBe(200)
  })

  it('reports a mode whose module is missing or broken as unavailable; the others run', async () => {
    const {get} = await serve(ENABLED, {monitor: new FakeMode('monitor'), ddns: new SyntaxError('Unexpected token')})
    const health = await get('/health')
    expect(health.status).toBe(503)
    expect(health.body.modes).toMatchObject({
      monitor: {up: true},
      dns: {state: 'unavailable', detail: 'lib/dns/mode.js is not part of this build'},
      ddns: {state: 'unavailable', detail: 'Unexpected token'},
    })
  })

  it('serves /metrics as Prometheus text that a parser accepts, with mode and process metrics', async () => {
    const {get} = await serve(ENABLED, {monitor: new FakeMode('monitor'), dns: new FakeMode('dns', {failStarts: 99})})
    await get('/monitor/status')
    await get('/dns/status')
    const response = await get('/metrics')
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('text/plain; version=0.0.4')
    const families = parsePrometheusTextFormat(response.body) as {
      name: string
      type: string
      metrics: {value?: string; labels?: Record<string, string>; buckets?: Record<string, string>}[]
    }[]
    const byName = new Map(families.map((f) => [f.name, f]))
    expect(byName.get('homeops_up')!.metrics[0]!.value).toBe('1')
    expect(Number(byName.get('process_start_time_seconds')!.metrics[0]!.value)).toBeGreaterThan(1.7e9)
    expect(byName.get('process_cpu_seconds_total')!.type).toBe('COUNTER')
    const up = Object.fromEntries(byName.get('homeops_mode_up')!.metrics.map((m) => [m.labels!.mode, m.value]))
    expect(up).toEqual({monitor: '1', dns: '0', ddns: '0'})
    expect(byName.get('fake_monitor_starts_total')!.metrics[0]!.value).toBe('1')
    const requests = byName.get('homeops_http_requests_total')!.metrics
    expect(requests).toContainEqual({labels: {mode: 'monitor', method: 'GET', code: '200'}, value: '1'})
    expect(requests).toContainEqual({labels: {mode: 'dns', method: 'GET', code: '503'}, value: '1'})
    expect(byName.get('homeops_http_request_duration_seconds')!.type).toBe('HISTOGRAM')
  })

  it('requires serve.apiKey for actions, and a refused action changes nothing', async () => {
    const monitor = new FakeMode('monitor')
    const {get} = await serve('serve:\n  apiKey: s3cret-key-123456\nmonitor:\n  enabled: true\n', {monitor})
    expect((await get('/monitor/action', {method: 'POST'})).status).toBe(401)
    expect((await get('/monitor/action', {method: 'POST', headers: {'x-api-key': 'wrong'}})).status).toBe(401)
    expect(monitor.actions).toBe(0)
    const ok = await get('/monitor/action', {method: 'POST', headers: {'x-api-key': 's3cret-key-123456'}})
    expect(ok.status).toBe(200)
    expect(monitor.actions).toBe(1)
    // reads stay open unless protectReads
    expect((await get('/monitor/status')).status).toBe(200)
    expect((await get('/metrics')).status).toBe(200)
    // the UI checks a key with POST /api/auth
    expect((await get('/api/auth', {method: 'POST', headers: {authorization: 'Bearer nope'}})).status).toBe(401)
    expect(
      (await get('/api/auth', {method: 'POST', headers: {authorization: 'Bearer s3cret-key-123456'}})).status,
    ).toBe(200)
    const modes = await get('/api/modes')
    expect(modes.body.auth).toEqual({writes: true, reads: false, access: 'key'})
    expect(JSON.stringify(modes.body)).not.toContain('s3cret')
  })

  it('with serve.protectReads, needs the key for mode APIs and /metrics but still serves the page and /health', async () => {
    const {get} = await serve(
      'serve:\n  apiKey: k-123456-abcdefgh\n  protectReads: true\nmonitor:\n  enabled: true\n',
      {
        monitor: new FakeMode('monitor'),
      },
    )
    expect((await get('/monitor/status')).status).toBe(401)
    expect((await get('/metrics')).status).toBe(401)
    expect((await get('/api/modes')).status).toBe(401)
    expect((await get('/monitor/status?key=k-123456-abcdefgh')).status).toBe(200)
    expect((await get('/')).status).toBe(200)
    expect((await get('/web/shared/ui.js')).status).toBe(200)
    expect((await get('/health')).status).toBe(200)
  })

  it('refuses clients outside serve.allowedIps', async () => {
    const monitor = new FakeMode('monitor')
    const {get} = await serve('serve:\n  allowedIps: [10.0.0.0/8]\nmonitor:\n  enabled: true\n', {monitor})
    const refused = await get('/monitor/status')
    expect(refused.status).toBe(403)
    expect(refused.body.reason).toContain('127.0.0.1')
    expect((await get('/monitor/action', {method: 'POST'})).status).toBe(403)
    expect(monitor.actions).toBe(0)
    expect((await get('/web/shared/ui.js')).status).toBe(403)
  })

  it('rejects an invalid serve.allowedIps entry at load with the file, line and key name', async () => {
    await expect(serve('serve:\n  allowedIps: [not-an-ip]\n', {})).rejects.toThrow(
      /config\.yaml:2:\d+: serve\.allowedIps\[0\]: "not-an-ip" is not an address or CIDR range/,
    )
  })

  it('serves the page shell, the shared assets with a strict CSP, and never a file outside src/web', async () => {
    const {get} = await serve('{}\n', {})
    const page = await get('/')
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'")
    expect(page.body).toContain('/web/shared/app.js')
    expect(page.body).not.toMatch(/https?:\/\/(?!www\.w3\.org)/)
    for (const asset of ['/web/shared/ui.js', '/web/shared/base.css', '/web/shared/app.js']) {
      expect((await get(asset)).status).toBe(200)
    }
    expect((await get('/web/../../package.json')).status).toBe(404)
    expect((await get('/web/%2e%2e/%2e%2e/package.json')).status).toBe(404)
  })

  it('lists modes for the UI with their section and snapshot', async () => {
    const {get} = await serve(ENABLED, {
      monitor: new FakeMode('monitor', {snapshot: {containers: [{name: 'web', state: 'running'}]}}),
      dns: new FakeMode('dns'),
    })
    const report = await get('/api/modes')
    const modes = report.body.modes as {name: string; title: string; hasSnapshot: boolean; state: string}[]
    expect(modes.map((m) => m.name)).toEqual(['monitor', 'ddns', 'dns'])
    expect(modes[0]).toMatchObject({title: 'Containers', hasSnapshot: true, state: 'up'})
    expect((await get('/api/modes/monitor/snapshot')).body).toEqual({containers: [{name: 'web', state: 'running'}]})
    expect((await get('/api/modes/ddns/snapshot')).status).toBe(503)
    expect((await get('/api/modes/swarm/snapshot')).status).toBe(404)
  })

  it('on reload restarts only the modes whose section changed, adds and removes modes, and keeps running on an invalid file', async () => {
    let next: () => HomeopsConfig = () => configFrom(ENABLED).config
    const monitor = new FakeMode('monitor')
    const dns = new FakeMode('dns')
    const ddns = new FakeMode('ddns')
    const swarm = new FakeMode('swarm')
    const {handle, logs, get} = await serve(ENABLED, {monitor, dns, ddns, swarm}, {reloadConfig: () => next()})

    next = () => {
      throw new ConfigError([{where: '/etc/homeops/config.yaml:3:7', path: 'dns.ttl', message: 'expected a number'}])
    }
    expect(await handle.reload()).toBe(false)
    expect(logs.matching(/error configuration reload failed, keeping the running configuration/)).toHaveLength(1)
    expect(logs.lines.join('\n')).toContain('config.yaml:3:7: dns.ttl: expected a number')
    expect([monitor.starts, dns.starts, ddns.starts]).toEqual([1, 1, 1])
    expect((await get('/health')).status).toBe(200)

    next = () =>
      configFrom('monitor:\n  enabled: true\ndns:\n  enabled: true\n  ttl: 7\nswarm:\n  enabled: true\n').config
    expect(await handle.reload()).toBe(true)
    expect(monitor.starts).toBe(1) // unchanged
    expect(monitor.stops).toBe(0)
    expect(dns.starts).toBe(2) // changed: restarted with the new config
    expect(dns.configSeen.at(-1)!.dns.ttl).toBe(7)
    expect(ddns.stops).toBe(1) // disabled
    expect(swarm.starts).toBe(1) // enabled
    expect(handle.supervisor.names().sort()).toEqual(['dns', 'monitor', 'swarm'])
    expect((await get('/swarm/status')).status).toBe(200)
    expect((await get('/ddns/status')).status).toBe(404)
    const health = await get('/health')
    expect(Object.keys(health.body.modes as object).sort()).toEqual(['dns', 'monitor', 'swarm'])
  })

  it('on reload routes a re-enabled mode to its new instance, never to the one that was stopped', async () => {
    const monitors: FakeMode[] = []
    let yaml = ENABLED
    const modes = {
      get monitor() {
        const mode = new FakeMode('monitor')
        monitors.push(mode)
        return mode
      },
      dns: new FakeMode('dns'),
      ddns: new FakeMode('ddns'),
    }
    const {handle, get} = await serve(ENABLED, modes, {reloadConfig: () => configFrom(yaml).config})
    expect((await get('/monitor/status')).body).toMatchObject({running: true})

    yaml = 'dns:\n  enabled: true\nddns:\n  enabled: true\n'
    expect(await handle.reload()).toBe(true)
    expect(monitors[0]!.running).toBe(false)
    expect((await get('/monitor/status')).status).toBe(404)

    yaml = ENABLED
    expect(await handle.reload()).toBe(true)
    expect(monitors).toHaveLength(2)
    const status = await get('/monitor/status')
    expect(status.status).toBe(200)
    // the new instance answers (the stopped one would say running: false)
    expect(status.body).toEqual({mode: 'monitor', running: true, starts: 1})
    expect(monitors[1]!.running).toBe(true)
    expect((await get('/health')).body).toMatchObject({status: 'ok', modes: {monitor: {up: true}}})
  })

  it('refuses a reload that enables no mode or drops serve.apiKey, unless the file says so', async () => {
    let yaml = `serve:\n  apiKey: ${'k'.repeat(24)}\n${ENABLED}`
    const modes = {monitor: new FakeMode('monitor'), dns: new FakeMode('dns'), ddns: new FakeMode('ddns')}
    const {handle, logs, get} = await serve(yaml, modes, {reloadConfig: () => configFrom(yaml).config})

    for (const empty of ['', '# nothing yet\n', 'serve:\n  allowNoApiKey: true\n']) {
      yaml = empty
      expect(await handle.reload()).toBe(false)
    }
    expect(logs.matching(/configuration reload refused, keeping the running configuration/)).toHaveLength(3)
    expect(logs.lines.join('\n')).toContain('the new configuration enables no mode: it would stop ddns, dns, monitor')
    expect(logs.lines.join('\n')).toContain('serve.allowNoModes: true')
    expect(handle.supervisor.names().sort()).toEqual(['ddns', 'dns', 'monitor'])
    expect((await get('/monitor/status')).status).toBe(200)

    yaml = ENABLED // modes kept, key dropped
    expect(await handle.reload()).toBe(false)
    expect(logs.lines.join('\n')).toContain('the new configuration has no serve.apiKey')
    expect((await get('/api/modes')).body).toMatchObject({auth: {writes: true}})

    yaml = `serve:\n  allowNoApiKey: true\n${ENABLED}`
    expect(await handle.reload()).toBe(true)
    expect((await get('/api/modes')).body).toMatchObject({auth: {writes: false}})

    yaml = 'serve:\n  allowNoModes: true\n'
    expect(await handle.reload()).toBe(true)
    expect(handle.supervisor.names()).toEqual([])
    expect((await get('/health')).body).toMatchObject({status: 'ok', modes: {}})
    expect([modes.monitor.running, modes.dns.running, modes.ddns.running]).toEqual([false, false, false])
  })

  it('stops modes and the server within the budget even when a mode hangs in stop()', async () => {
    const {handle} = await serve(ENABLED, {
      monitor: new FakeMode('monitor', {hangStop: true}),
      dns: new FakeMode('dns', {stopMs: 100}),
      ddns: new FakeMode('ddns'),
    })
    const url = handle.url
    // The stop budget runs on the fake clock (the server's sockets stay real).
    vi.useFakeTimers({toFake: ['setTimeout', 'clearTimeout', 'Date']})
    let report: Awaited<ReturnType<typeof handle.stop>>
    try {
      const stopping = handle.stop(500)
      await vi.advanceTimersByTimeAsync(500)
      report = await stopping
    } finally {
      vi.useRealTimers()
    }
    expect(report.late).toEqual(['monitor'])
    expect(report.ms).toBeLessThan(1500)
    await expect(fetch(url + '/health')).rejects.toThrow()
  })

  it('tells systemd READY once every mode has had its first attempt, then STATUS changes, RELOADING and STOPPING', async () => {
    const sent: string[] = []
    const record = (what: string) => async () => void sent.push(what)
    const notifier: Notifier = {
      socket: '/run/fake.sock',
      notify: async (a) => void sent.push(JSON.stringify(a)),
      ready: async (status) => void sent.push(`READY ${status}`),
      reloading: record('RELOADING'),
      stopping: record('STOPPING'),
      status: async (text) => void sent.push(`STATUS ${text}`),
      startWatchdog: () => void sent.push('WATCHDOG'),
      close: record('CLOSE'),
    }
    const flaky = new FakeMode('dns', {failStarts: 1})
    const {handle} = await serve(
      'monitor:\n  enabled: true\ndns:\n  enabled: true\n',
      {monitor: new FakeMode('monitor'), dns: flaky},
      {notifier, reloadConfig: () => configFrom('monitor:\n  enabled: true\ndns:\n  enabled: true\n').config},
    )
    expect(sent[0]).toBe('READY 1/2 modes up; down: dns (dns cannot start (attempt 1))')
    expect(sent[1]).toBe('WATCHDOG')
    await until(() => sent.includes('STATUS 2/2 modes up'), 3000, 'STATUS after recovery')
    await handle.reload()
    expect(sent.slice(-2)).toEqual(['RELOADING', 'READY 2/2 modes up'])
    await handle.stop(500)
    expect(sent.slice(-2)).toEqual(['STOPPING', 'CLOSE'])
  })

  it('summarises mode state in one line for systemd STATUS=', () => {
    expect(statusLine([])).toBe('no modes enabled')
    expect(
      statusLine([
        {name: 'a', state: 'up', up: true, since: '', restarts: 0, failures: 0},
        {name: 'dns', state: 'backoff', up: false, since: '', restarts: 1, failures: 2, lastError: 'EADDRINUSE'},
      ]),
    ).toBe('1/2 modes up; down: dns (EADDRINUSE)')
  })
})
