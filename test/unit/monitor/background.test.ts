import {describe, expect, it} from 'vitest'

import {Logger} from '../../../src/lib/log/logger.js'
import {MonitorBackground} from '../../../src/lib/monitor/background.js'
import {HISTORY_INTERVAL_MS, MetricHistory} from '../../../src/lib/monitor/metric-history.js'
import type {MonitorService} from '../../../src/lib/monitor/service.js'
import {FakeClock, settle} from '../../support/fake-clock.js'

/** The part of the service the background jobs use: two containers, one running, and a registry refresh. */
function fakeService(refresh: () => Promise<void>) {
  let refreshes = 0
  const service = {
    watcher: {
      containers: () => [
        {id: 'a', name: 'web', state: 'running'},
        {id: 'b', name: 'old', state: 'exited'},
      ],
      metrics: (id: string) => (id === 'a' ? {cpu: 12.5, memUsage: 1024} : undefined),
    },
    async rows() {
      refreshes++
      await refresh()
      return []
    },
  } as unknown as MonitorService
  return {service, refreshes: () => refreshes}
}

function quietLogger(lines: string[] = []): Logger {
  return new Logger({level: 'debug', format: 'text', sink: {write: (line: string) => lines.push(line.trimEnd())}})
}

describe('monitor background jobs', () => {
  it('samples running containers every interval for the sparklines', async () => {
    const clock = new FakeClock()
    const history = new MetricHistory()
    const {service} = fakeService(async () => {})
    const jobs = new MonitorBackground({service, history, refreshMs: 15 * 60_000, logger: quietLogger(), clock})
    await jobs.start()
    await clock.advance(3 * HISTORY_INTERVAL_MS)
    expect(history.of('a')).toEqual({cpu: [12.5, 12.5, 12.5], mem: [1024, 1024, 1024]})
    expect(history.of('b').cpu).toEqual([])
    jobs.stop()
    await clock.advance(10 * HISTORY_INTERVAL_MS)
    expect(history.of('a').cpu).toHaveLength(3)
  })

  it('refreshes the registry cache at start and then every refreshMs, never two at once', async () => {
    const clock = new FakeClock()
    let release: (() => void) | undefined
    const {service, refreshes} = fakeService(() => new Promise<void>((resolve) => (release = resolve)))
    const lines: string[] = []
    const jobs = new MonitorBackground({
      service,
      history: new MetricHistory(),
      refreshMs: 60_000,
      logger: quietLogger(lines),
      clock,
    })
    await jobs.start()
    await settle()
    expect(refreshes()).toBe(1)
    // The first refresh hangs past two intervals: the ticks join it instead of stacking more.
    await clock.advance(130_000)
    expect(refreshes()).toBe(1)
    release!()
    await settle()
    await clock.advance(60_000)
    expect(refreshes()).toBe(2)
    jobs.stop()
  })

  it('logs a failed refresh at debug level and keeps refreshing', async () => {
    const clock = new FakeClock()
    let fail = true
    const {service, refreshes} = fakeService(async () => {
      if (fail) throw new Error('registry down')
    })
    const lines: string[] = []
    const jobs = new MonitorBackground({
      service,
      history: new MetricHistory(),
      refreshMs: 60_000,
      logger: quietLogger(lines),
      clock,
    })
    await jobs.start()
    await settle()
    expect(lines.filter((l) => /registry refresh failed.*registry down/.test(l))).toHaveLength(1)
    fail = false
    await clock.advance(60_000)
    expect(refreshes()).toBe(2)
    jobs.stop()
  })
})
