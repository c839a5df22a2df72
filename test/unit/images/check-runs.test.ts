import {afterEach, describe, expect, it} from 'vitest'

import type {Context} from '../../../src/lib/context.js'
import {CheckRuns, type CheckSettings, imagesMetrics} from '../../../src/lib/images/check-runs.js'
import type {WatchReport} from '../../../src/lib/images/watcher.js'
import {MetricsRegistry} from '../../../src/lib/metrics/registry.js'
import {FakeClock, settle} from '../../support/fake-clock.js'
import {captureLogs, configFrom, fakeContext} from '../serve/fakes.js'

const contexts: Context[] = []
afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()))
})

function report(updates: number): WatchReport {
  return {
    check: {
      runId: 'r',
      checkedAt: new Date(0).toISOString(),
      durationMs: 1,
      results: [],
      summary: {workloads: 3, updates, errors: 0, disabled: 0, local: 0},
      registryRequests: {requests: 0, byKind: {}},
    },
    notified: [],
    updates: [],
  }
}

async function setup(settings: Partial<CheckSettings>, watch: () => Promise<WatchReport>) {
  const logs = captureLogs()
  const context = await fakeContext(configFrom('').config, logs.logger)
  contexts.push(context)
  const clock = new FakeClock()
  const registry = new MetricsRegistry()
  const metrics = imagesMetrics(registry)
  let passes = 0
  const runs = new CheckRuns({
    context: () => context,
    settings: () => ({intervalSeconds: 600, runOnBoot: false, ...settings}),
    metrics: () => metrics,
    watch: () => {
      passes++
      return watch()
    },
    clock,
  })
  return {runs, clock, registry, logs, passes: () => passes}
}

describe('image check runs', () => {
  it('checks once per interval on the injected clock and shows when the next check is', async () => {
    const {runs, clock, passes} = await setup({}, async () => report(1))
    await runs.start()
    expect(passes()).toBe(0)
    expect(runs.nextRunAt?.getTime()).toBe(600_000)
    await clock.advance(599_999)
    expect(passes()).toBe(0)
    await clock.advance(1)
    expect(passes()).toBe(1)
    expect(runs.nextRunAt?.getTime()).toBe(1_200_000)
    expect((await runs.status()).lastRunAt).toBe(new Date(600_000).toISOString())
    await runs.stop()
    await clock.advance(10 * 600_000)
    expect(passes()).toBe(1)
  })

  it('checks at start with runOnBoot, then schedules from the end of that check', async () => {
    let finish!: () => void
    const {runs, clock, passes} = await setup({runOnBoot: true}, async () => {
      if (passes() === 1) await new Promise<void>((resolve) => (finish = resolve))
      return report(0)
    })
    await runs.start()
    await settle()
    expect(passes()).toBe(1)
    expect(runs.running).toBe(true)
    await clock.advance(5000)
    finish()
    await settle()
    expect(runs.running).toBe(false)
    expect(runs.nextRunAt?.getTime()).toBe(605_000)
    await runs.stop()
  })

  it('joins a check asked for while one runs (the UI button during a scheduled check)', async () => {
    let finish!: () => void
    const {runs, passes} = await setup({}, async () => {
      await new Promise<void>((resolve) => (finish = resolve))
      return report(2)
    })
    const first = runs.runNow()
    const second = runs.runNow()
    await settle()
    finish()
    expect(await first).toBe(await second)
    expect(passes()).toBe(1)
  })

  it('reports a failed check in health and status, and recovers on the next good one', async () => {
    let fail = true
    const {runs, registry, logs} = await setup({}, async () => {
      if (fail) throw new Error('registry unreachable')
      return report(2)
    })
    expect(await runs.runNow()).toBeUndefined()
    expect(runs.health()).toEqual({up: false, detail: 'last check failed: registry unreachable'})
    expect((await runs.status()).lastError).toBe('registry unreachable')
    expect(logs.matching(/image check failed/)).toHaveLength(1)
    fail = false
    await runs.runNow()
    expect(runs.health().up).toBe(true)
    expect(registry.render()).toMatch(/homeops_images_updates_available 2/)
  })

  it('does not re-arm the schedule when stopped during the boot check', async () => {
    let finish!: () => void
    const {runs, clock, passes} = await setup({runOnBoot: true}, async () => {
      await new Promise<void>((resolve) => (finish = resolve))
      return report(0)
    })
    await runs.start()
    await settle()
    const stopped = runs.stop()
    finish()
    await stopped
    await clock.advance(10 * 600_000)
    expect(passes()).toBe(1)
    expect(clock.pending).toBe(0)
  })

  it('follows a cron schedule', async () => {
    const {runs, clock} = await setup({schedule: '0 */6 * * *'}, async () => report(0))
    clock.time = Date.parse('2026-01-01T10:07:00Z')
    await runs.start()
    const next = runs.nextRunAt!
    expect(next.getTime()).toBeGreaterThan(clock.time)
    expect([next.getMinutes(), next.getSeconds(), next.getHours() % 6]).toEqual([0, 0, 0])
    await runs.stop()
  })
})
