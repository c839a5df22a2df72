import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'

import {MetricsRegistry} from '../../../src/lib/metrics/registry.js'
import {ModeSupervisor} from '../../../src/lib/serve/supervisor.js'
import {FakeMode, captureLogs, configFrom, fakeContext, until} from './fakes.js'

const {config} = configFrom('{}\n')

async function setup(backoff = {initialMs: 40, maxMs: 160, resetAfterMs: 60_000}, startTimeoutMs = 2000) {
  const logs = captureLogs()
  const abort = new AbortController()
  const context = await fakeContext(config, logs.logger, abort.signal)
  const metrics = new MetricsRegistry()
  const supervisor = new ModeSupervisor({context, metrics, logger: logs.logger, backoff, startTimeoutMs})
  return {logs, abort, context, metrics, supervisor}
}

// Backoff delays, start timeouts and stop budgets run on vitest's fake clock: the durations the tests
// assert are the supervisor's own, whatever the machine's load.
beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('ModeSupervisor', () => {
  it('starts modes side by side: one failing to start is down and retried with growing delays while the others run', async () => {
    const {supervisor, logs} = await setup()
    const good = new FakeMode('monitor')
    const flaky = new FakeMode('ddns', {failStarts: 3})
    supervisor.add('monitor', good, config)
    supervisor.add('ddns', flaky, config)
    await supervisor.startAll()

    expect(supervisor.get('monitor')).toMatchObject({state: 'up', up: true})
    expect(supervisor.get('ddns')).toMatchObject({state: 'backoff', up: false, failures: 1})
    expect(supervisor.get('ddns')!.lastError).toContain('ddns cannot start (attempt 1)')
    expect(supervisor.allUp()).toBe(false)

    await until(() => supervisor.get('ddns')!.state === 'up', 3000, 'ddns up')
    expect(flaky.starts).toBe(4)
    expect(supervisor.get('ddns')).toMatchObject({up: true, restarts: 3})
    // exponential backoff: 40, 80, 160 ms (capped at 160)
    const gaps = flaky.startTimes.slice(1).map((t, i) => t - flaky.startTimes[i]!)
    expect(gaps[0]).toBeGreaterThanOrEqual(35)
    expect(gaps[1]).toBeGreaterThanOrEqual(75)
    expect(gaps[2]).toBeGreaterThanOrEqual(155)
    // a failed attempt is stopped before the next one
    expect(flaky.stops).toBe(3)
    // the healthy mode was never touched
    expect(good.starts).toBe(1)
    expect(good.stops).toBe(0)
    expect(supervisor.allUp()).toBe(true)

    // each message logged once at error level; repeats of the same failure only at debug
    expect(logs.matching(/error mode failed to start mode=ddns/)).toHaveLength(3) // messages differ per attempt
    expect(logs.matching(/info mode recovered mode=ddns attempts=4/)).toHaveLength(1)
    expect(logs.matching(/info mode started mode=monitor/)).toHaveLength(1)
    await supervisor.stopAll(1000)
  })

  it('logs a failure that repeats with the same message once, then at debug level', async () => {
    const {supervisor, logs} = await setup({initialMs: 10, maxMs: 20, resetAfterMs: 60_000})
    const broken = new FakeMode('dns')
    broken.start = async () => {
      broken.starts++
      throw new Error('bind 0.0.0.0:53: EADDRINUSE')
    }
    supervisor.add('dns', broken, config)
    await supervisor.startAll()
    await until(() => broken.starts >= 5, 3000, 'five attempts')
    expect(logs.matching(/error mode failed to start mode=dns error="bind 0.0.0.0:53: EADDRINUSE"/)).toHaveLength(1)
    expect(logs.matching(/debug mode failed to start again mode=dns/).length).toBeGreaterThanOrEqual(3)
    await supervisor.stopAll(1000)
  })

  it('caps the backoff delay', async () => {
    const {supervisor} = await setup({initialMs: 10, maxMs: 30, resetAfterMs: 60_000})
    const broken = new FakeMode('dns', {failStarts: 100})
    supervisor.add('dns', broken, config)
    await supervisor.startAll()
    await until(() => broken.starts >= 6, 3000, 'six attempts')
    const gaps = broken.startTimes.slice(1).map((t, i) => t - broken.startTimes[i]!)
    expect(Math.max(...gaps)).toBeLessThan(200)
    const status = supervisor.get('dns')!
    expect(status.state).toBe('backoff')
    expect(Date.parse(status.nextAttemptAt!) - Date.now()).toBeLessThanOrEqual(30)
    await supervisor.stopAll(1000)
  })

  it('marks a mode that reports a crash down, stops it and restarts it; the other mode keeps running', async () => {
    const {supervisor, logs} = await setup()
    const a = new FakeMode('monitor')
    const b = new FakeMode('swarm')
    supervisor.add('monitor', a, config)
    supervisor.add('swarm', b, config)
    await supervisor.startAll()
    const firstRuntime = b.runtime!
    firstRuntime.crashed(new Error('git fetch failed: connection reset'))

    expect(supervisor.get('swarm')).toMatchObject({state: 'backoff', up: false})
    expect(supervisor.get('swarm')!.lastError).toBe('git fetch failed: connection reset')
    expect(firstRuntime.signal.aborted).toBe(true)
    expect(supervisor.get('monitor')!.up).toBe(true)
    await until(() => supervisor.get('swarm')!.up, 2000, 'swarm restarted')
    expect(b.starts).toBe(2)
    expect(b.stops).toBe(1)
    expect(a.starts).toBe(1)
    expect(logs.matching(/error mode crashed mode=swarm error="git fetch failed: connection reset"/)).toHaveLength(1)

    // a late report from the old attempt changes nothing
    firstRuntime.crashed(new Error('stale'))
    expect(supervisor.get('swarm')!.state).toBe('up')
    await supervisor.stopAll(1000)
  })

  it('treats a crash reported during start() as a failed start', async () => {
    const {supervisor} = await setup()
    const mode = new FakeMode('images')
    const original = mode.start.bind(mode)
    mode.start = async (runtime) => {
      await original(runtime)
      if (mode.starts === 1) runtime.crashed(new Error('scheduler died at once'))
    }
    supervisor.add('images', mode, config)
    await supervisor.startAll()
    expect(supervisor.get('images')).toMatchObject({state: 'backoff', lastError: 'scheduler died at once'})
    await until(() => supervisor.get('images')!.up, 2000, 'images up')
    await supervisor.stopAll(1000)
  })

  it('gives up on a start() that does not settle within the start timeout', async () => {
    const {supervisor} = await setup({initialMs: 5000, maxMs: 5000, resetAfterMs: 60_000}, 100)
    const mode = new FakeMode('dns', {hangStart: true})
    supervisor.add('dns', mode, config)
    const started = Date.now()
    const starting = supervisor.startAll()
    await vi.advanceTimersByTimeAsync(100)
    await starting
    expect(Date.now() - started).toBeLessThan(1500)
    expect(supervisor.get('dns')).toMatchObject({state: 'backoff', lastError: 'did not start within 0.1 s'})
    const stopping = supervisor.stopAll(200)
    await vi.advanceTimersByTimeAsync(200)
    await stopping
  })

  it('reports a mode whose module could not be loaded as unavailable and never restarts it', async () => {
    const {supervisor, logs} = await setup()
    supervisor.add('ddns', {loadError: 'lib/ddns/mode.js is not part of this build'}, config)
    supervisor.add('monitor', new FakeMode('monitor'), config)
    await supervisor.startAll()
    expect(supervisor.get('ddns')).toMatchObject({state: 'unavailable', up: false})
    expect(supervisor.get('monitor')!.up).toBe(true)
    expect(logs.matching(/error mode unavailable mode=ddns/)).toHaveLength(1)
    await supervisor.stopAll(1000)
  })

  it('reports a mode whose health() says down, or throws, as down without restarting it', async () => {
    const {supervisor} = await setup()
    let healthy = true
    const a = new FakeMode('ddns', {health: () => ({up: healthy, detail: healthy ? 'ok' : 'provider unreachable'})})
    const b = new FakeMode('dns', {
      health: () => {
        throw new Error('oops')
      },
    })
    supervisor.add('ddns', a, config)
    supervisor.add('dns', b, config)
    await supervisor.startAll()
    expect(supervisor.get('ddns')!.up).toBe(true)
    healthy = false
    expect(supervisor.get('ddns')).toMatchObject({state: 'up', up: false, detail: 'provider unreachable'})
    expect(supervisor.get('dns')).toMatchObject({state: 'up', up: false, detail: 'health check failed: oops'})
    expect(a.starts).toBe(1)
    await supervisor.stopAll(1000)
  })

  it('stops every mode in parallel within the budget and names the ones that did not finish', async () => {
    const {supervisor} = await setup()
    const slow = new FakeMode('images', {stopMs: 300})
    const slow2 = new FakeMode('ddns', {stopMs: 300})
    const stuck = new FakeMode('swarm', {hangStop: true})
    supervisor.add('images', slow, config)
    supervisor.add('ddns', slow2, config)
    supervisor.add('swarm', stuck, config)
    await supervisor.startAll()
    const runtime = stuck.runtime!
    const started = Date.now()
    const stopping = supervisor.stopAll(600)
    await vi.advanceTimersByTimeAsync(600)
    const late = await stopping
    const took = Date.now() - started
    expect(late).toEqual(['swarm'])
    expect(took).toBeGreaterThanOrEqual(550)
    expect(took).toBeLessThan(1500) // parallel: not 300 + 300 + 600
    expect(runtime.signal.aborted).toBe(true)
    expect([slow.stops, slow2.stops, stuck.stops]).toEqual([1, 1, 1])
    expect(supervisor.status().every((s) => s.state === 'stopped')).toBe(true)
  })

  it('does not restart anything once stopping, even with a restart pending', async () => {
    const {supervisor} = await setup({initialMs: 50, maxMs: 50, resetAfterMs: 60_000})
    const mode = new FakeMode('dns', {failStarts: 100})
    supervisor.add('dns', mode, config)
    await supervisor.startAll()
    await supervisor.stopAll(500)
    await vi.advanceTimersByTimeAsync(150)
    expect(mode.starts).toBe(1)
  })

  it('aborts every runtime signal when the process signal is aborted', async () => {
    const {supervisor, abort} = await setup()
    const mode = new FakeMode('monitor')
    supervisor.add('monitor', mode, config)
    await supervisor.startAll()
    expect(mode.runtime!.signal.aborted).toBe(false)
    abort.abort()
    expect(mode.runtime!.signal.aborted).toBe(true)
    await supervisor.stopAll(500)
  })

  it('restarts one mode with a new configuration and gives it a context carrying that configuration', async () => {
    const {supervisor} = await setup()
    const a = new FakeMode('dns')
    const b = new FakeMode('monitor')
    supervisor.add('dns', a, config)
    supervisor.add('monitor', b, config)
    await supervisor.startAll()
    const next = configFrom('dns:\n  ttl: 5\n').config
    await supervisor.restart('dns', next)
    expect(a.starts).toBe(2)
    expect(a.stops).toBe(1)
    expect(a.configSeen.at(-1)!.dns.ttl).toBe(5)
    expect(b.starts).toBe(1)
    await supervisor.stopAll(500)
  })

  it('exports homeops_mode_up and homeops_mode_restarts_total', async () => {
    const {supervisor, metrics} = await setup({initialMs: 10, maxMs: 10, resetAfterMs: 60_000})
    supervisor.add('monitor', new FakeMode('monitor'), config)
    const flaky = new FakeMode('ddns', {failStarts: 1})
    supervisor.add('ddns', flaky, config)
    await supervisor.startAll()
    expect(metrics.render()).toContain('homeops_mode_up{mode="ddns"} 0')
    await until(() => supervisor.get('ddns')!.up, 2000, 'ddns up')
    const text = metrics.render()
    expect(text).toContain('homeops_mode_up{mode="monitor"} 1')
    expect(text).toContain('homeops_mode_up{mode="ddns"} 1')
    expect(text).toContain('homeops_mode_restarts_total{mode="ddns"} 1')
    expect(text).toContain('homeops_mode_restarts_total{mode="monitor"} 0')
    await supervisor.stopAll(500)
  })
})
