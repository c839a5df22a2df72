import {afterEach, describe, expect, it} from 'vitest'

import type {Context} from '../../../src/lib/context.js'
import {createDdnsMode} from '../../../src/lib/ddns/mode.js'
import type {DdnsRunReport, PassOptions, RecordReport} from '../../../src/lib/ddns/updater.js'
import type {HttpRequest} from '../../../src/lib/http/router.js'
import {MetricsRegistry} from '../../../src/lib/metrics/registry.js'
import type {ModeRuntime} from '../../../src/lib/serve/mode.js'
import {FakeClock} from '../../support/fake-clock.js'
import {captureLogs, configFrom, fakeContext} from '../serve/fakes.js'

const RECORD = `ddns:\n  records:\n    - provider: dyndns2\n      hostname: home.example.org\n      username: u\n      password: p4ss-word-value\n      server: http://127.0.0.1:9\n`

const contexts: Context[] = []
afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()))
})

function sent(ip: string, exitCode = 0): DdnsRunReport {
  const record: RecordReport = {
    record: 'home.example.org',
    hostname: 'home.example.org',
    provider: 'dyndns2',
    family: 'ipv4',
    detectedIp: ip,
    previousIp: null,
    action: 'sent',
    result: exitCode === 0 ? 'good' : '911',
    answer: null,
    message: '',
    tries: 1,
    notBefore: null,
    exitCode,
  }
  return {
    exitCode,
    dryRun: false,
    forced: false,
    startedAt: new Date(0).toISOString(),
    durationMs: 5,
    detection: [{family: 'ipv4', ip, sources: [], attempts: [], error: null}],
    records: [record],
  }
}

async function loop(pass: (options: PassOptions) => Promise<DdnsRunReport | undefined>, metricsEvery = 10) {
  const logs = captureLogs()
  const context = await fakeContext(configFrom(RECORD).config, logs.logger)
  contexts.push(context)
  const clock = new FakeClock()
  const registry = new MetricsRegistry()
  const crashes: unknown[] = []
  const mode = createDdnsMode({
    intervalMs: 300_000,
    metricsEvery,
    clock,
    runPass: (_context, options) => pass(options),
  })
  const runtime: ModeRuntime = {context, metrics: registry, signal: context.signal, crashed: (e) => crashes.push(e)}
  return {mode, runtime, clock, logs, registry, crashes}
}

describe('ddns loop on the shared scheduler', () => {
  it('passes at start, then once per interval on the injected clock', async () => {
    let passes = 0
    const {mode, runtime, clock} = await loop(async () => {
      passes++
      return sent('203.0.113.7')
    })
    await mode.start(runtime)
    const first = mode.passed()
    await clock.advance(0)
    await first
    expect(passes).toBe(1)
    await clock.advance(299_999)
    expect(passes).toBe(1)
    await clock.advance(1)
    expect(passes).toBe(2)
    const snap = (await mode.snapshot!()) as {nextCheckAt: string; checks: number; currentIps: {ipv4: string}}
    expect(snap.nextCheckAt).toBe(new Date(600_000).toISOString())
    expect(snap.checks).toBe(2)
    expect(snap.currentIps.ipv4).toBe('203.0.113.7')
    await mode.stop()
    await clock.advance(10 * 300_000)
    expect(passes).toBe(2)
    expect(clock.pending).toBe(0)
  })

  it('aborts the pass in progress on stop and tells whoever waits', async () => {
    let seen: AbortSignal | undefined
    const {mode, runtime, clock} = await loop(
      (options) =>
        new Promise((resolve) => {
          seen = options.signal
          options.signal?.addEventListener('abort', () => resolve(undefined))
        }),
    )
    await mode.start(runtime)
    await clock.advance(0)
    const waiting = mode.passed()
    await mode.stop()
    expect(seen?.aborted).toBe(true)
    expect(await waiting).toBeUndefined()
    expect(mode.health()).toEqual({up: false, detail: 'not running'})
  })

  it('counts a failed pass, keeps going, and logs the metrics line every N checks', async () => {
    let passes = 0
    const {mode, runtime, clock, logs, registry} = await loop(async () => {
      passes++
      if (passes === 1) throw new Error('state database is locked')
      return sent('203.0.113.9')
    }, 2)
    await mode.start(runtime)
    await clock.advance(0)
    expect(mode.health()).toEqual({up: false, detail: 'last pass failed: state database is locked'})
    await clock.advance(300_000)
    expect(passes).toBe(2)
    expect(mode.health()).toEqual({up: true})
    expect(logs.matching(/ddns metrics/)).toHaveLength(1)
    expect(logs.matching(/ddns metrics/)[0]).toMatch(/checks=2 .*updatesOk=1 .*ipv4=203\.0\.113\.9/)
    expect(registry.render()).toMatch(/homeops_ddns_checks_total\{result="error"\} 1/)
    await mode.stop()
  })

  it('waits a 30-day interval without a timer past 2^31 ms', async () => {
    let passes = 0
    const {runtime, clock} = await loop(async () => undefined)
    const long = createDdnsMode({
      intervalMs: 30 * 86_400_000,
      clock,
      runPass: async () => {
        passes++
        return undefined
      },
    })
    await long.start(runtime)
    await clock.advance(30 * 86_400_000)
    expect(passes).toBe(2)
    expect(Math.max(...clock.armed)).toBeLessThanOrEqual(2 ** 31 - 1)
    await long.stop()
  })
})

describe('ddns loop: passes asked for over HTTP', () => {
  it('counts them without moving the schedule', async () => {
    let passes = 0
    const seen: PassOptions[] = []
    const {mode, runtime, clock} = await loop(async (options) => {
      passes++
      seen.push(options)
      return sent('198.51.100.4')
    })
    const {Router} = await import('../../../src/lib/http/router.js')
    const router = new Router()
    mode.routes!(router)
    await mode.start(runtime)
    await clock.advance(0)
    const match = router.match('POST', '/update')
    if (match.kind !== 'found') throw new Error('no POST /update')
    const request = {
      json: async () => ({force: true}),
      query: new URLSearchParams(),
      remoteAddress: '192.168.1.20',
    } as unknown as HttpRequest
    const response = await match.route.handler(request)
    expect(response.status).toBe(200)
    expect(passes).toBe(2)
    expect(seen.at(-1)).toMatchObject({force: true})
    // The shared activity history shows the forced send, who asked and what came of it.
    const {ActivityLog} = await import('../../../src/lib/activity/log.js')
    expect(new ActivityLog(await runtime.context.state()).list(1)[0]).toMatchObject({
      action: 'force DDNS update',
      target: 'every record',
      by: 'DDNS page or API (192.168.1.20)',
      state: 'ok',
      message: 'home.example.org (ipv4): sent',
    })
    const snap = (await mode.snapshot!()) as {nextCheckAt: string; updates: {ok: number}; checks: number}
    expect(snap.nextCheckAt).toBe(new Date(300_000).toISOString())
    expect(snap.updates.ok).toBe(2)
    expect(snap.checks).toBe(1)
    await clock.advance(300_000)
    expect(passes).toBe(3)
    await mode.stop()
  })
  it('answers 423 and records the send as skipped, not failed, while another run holds the lock', async () => {
    let locked = false
    const {mode, runtime, clock} = await loop(async () => (locked ? undefined : sent('198.51.100.4')))
    const {Router} = await import('../../../src/lib/http/router.js')
    const router = new Router()
    mode.routes!(router)
    await mode.start(runtime)
    await clock.advance(0)
    locked = true
    const match = router.match('POST', '/update')
    if (match.kind !== 'found') throw new Error('no POST /update')
    const request = {json: async () => ({}), query: new URLSearchParams(), remoteAddress: '192.168.1.20'}
    const response = await match.route.handler(request as unknown as HttpRequest)
    expect(response).toMatchObject({status: 423, json: {error: 'locked'}})
    const {ActivityLog} = await import('../../../src/lib/activity/log.js')
    expect(new ActivityLog(await runtime.context.state()).list(1)[0]).toMatchObject({
      action: 'send DDNS update',
      state: 'skipped',
      message: 'another ddns run holds the lock',
    })
    await mode.stop()
  })
})
