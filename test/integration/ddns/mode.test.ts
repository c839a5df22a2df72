import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import {afterEach, describe, expect, it} from 'vitest'

import {createDdnsMode} from '../../../src/lib/ddns/mode.js'
import {Router} from '../../../src/lib/http/router.js'
import {startHttpServer} from '../../../src/lib/http/server.js'
import {MetricsRegistry} from '../../../src/lib/metrics/registry.js'
import {silentLogger} from '../../../src/lib/log/logger.js'
import {startDyndns2, startEcho} from './fakes.js'
import {ddnsContext, legacyEnv} from './harness.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!()
})

describe('ddns serve mode', () => {
  it('loops, sends once, serves /status and /history, exports metrics, logs a metrics line, stops promptly', async () => {
    const provider = await startDyndns2()
    const echo = await startEcho('84.16.66.10')
    cleanups.push(
      () => provider.close(),
      () => echo.close(),
    )
    const harness = await ddnsContext({env: legacyEnv(provider.url, {v4: [echo.url]})})
    cleanups.push(() => harness.context.close())

    const mode = createDdnsMode({intervalMs: 30, metricsEvery: 3})
    const router = new Router()
    mode.routes!(router)
    const server = await startHttpServer({listen: {host: '127.0.0.1', port: 0}, router, logger: silentLogger})
    cleanups.push(() => server.close(100))
    const metrics = new MetricsRegistry()
    const stopping = new AbortController()
    const crashes: unknown[] = []
    await mode.start({context: harness.context, metrics, signal: stopping.signal, crashed: (e) => crashes.push(e)})

    for (let i = 0; i < 4; i++) await mode.passed()
    expect(provider.requests).toHaveLength(1)
    expect(echo.hits).toBeGreaterThanOrEqual(4)
    expect(mode.health()).toEqual({up: true})

    const status = (await (await fetch(`${server.url}/status`)).json()) as Record<string, unknown>
    expect(status).toMatchObject({
      running: true,
      currentIps: {ipv4: '84.16.66.10', ipv6: null},
      updates: {ok: 1},
      records: [{record: 'home.example.org', family: 'ipv4', lastIp: '84.16.66.10', lastResult: 'good', blocked: null}],
    })
    expect(status.checks).toBeGreaterThanOrEqual(4)
    const history = (await (await fetch(`${server.url}/history?limit=5`)).json()) as {entries: unknown[]}
    expect(history.entries).toEqual([expect.objectContaining({ip: '84.16.66.10', result: 'good', previousIp: null})])
    expect((await fetch(`${server.url}/history?limit=0`)).status).toBe(400)
    expect(await mode.snapshot!()).toMatchObject({records: [{lastIp: '84.16.66.10'}], history: [{result: 'good'}]})

    const families = parsePrometheusTextFormat(metrics.render())
    const updates = families.find((f) => f.name === 'homeops_ddns_updates_total')!
    expect(updates.metrics).toEqual([
      {labels: {record: 'home.example.org', family: 'ipv4', result: 'good'}, value: '1'},
    ])
    const last = families.find((f) => f.name === 'homeops_ddns_last_success_timestamp_seconds')!
    expect(Number(last.metrics[0]!.value)).toBeGreaterThan(Date.now() / 1000 - 60)
    const checks = families.find((f) => f.name === 'homeops_ddns_checks_total')!
    expect(Number(checks.metrics.find((m) => m.labels?.result === 'ok')!.value)).toBeGreaterThanOrEqual(4)
    expect(harness.logs.join('')).toMatch(
      /info ddns metrics uptime=\d+s checks=3 updatesOk=1 updatesFailed=0 updatesSkipped=2 ipv4=84\.16\.66\.10 ipv6=off/,
    )

    const started = Date.now()
    stopping.abort()
    await mode.stop()
    expect(Date.now() - started).toBeLessThan(2000)
    expect(mode.health().up).toBe(false)
    expect(crashes).toEqual([])
  })

  it('refuses to start without records or with a broken config', async () => {
    const harness = await ddnsContext({})
    cleanups.push(() => harness.context.close())
    const mode = createDdnsMode()
    await expect(
      mode.start({
        context: harness.context,
        metrics: new MetricsRegistry(),
        signal: new AbortController().signal,
        crashed: () => {},
      }),
    ).rejects.toThrow(/no records/)
  })

  it('skips a beat while `ddns update` holds the lock, without sending twice', async () => {
    const provider = await startDyndns2()
    const echo = await startEcho('84.16.66.10')
    cleanups.push(
      () => provider.close(),
      () => echo.close(),
    )
    const harness = await ddnsContext({env: legacyEnv(provider.url, {v4: [echo.url]})})
    cleanups.push(() => harness.context.close())
    const other = await ddnsContext({env: {}, dbPath: harness.dbPath})
    const lock = await other.context.lock('ddns')
    const mode = createDdnsMode({intervalMs: 20})
    await mode.start({
      context: harness.context,
      metrics: new MetricsRegistry(),
      signal: new AbortController().signal,
      crashed: () => {},
    })
    await mode.passed()
    expect(provider.requests).toHaveLength(0)
    lock.release()
    await mode.passed()
    await mode.passed()
    expect(provider.requests).toHaveLength(1)
    await mode.stop()
    await other.context.close()
    expect(harness.logs.join('')).toContain('ddns pass skipped: another ddns run holds the lock')
  })
})
