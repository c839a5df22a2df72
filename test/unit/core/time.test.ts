import {describe, expect, it} from 'vitest'

import {periodic} from '../../../src/lib/time/scheduler.js'
import {MAX_TIMER_MS, sleep} from '../../../src/lib/time/sleep.js'
import {FakeClock} from '../../support/fake-clock.js'

describe('sleep', () => {
  it('waits past 2^31 ms in chunks a timer can hold, and not a moment less', async () => {
    const clock = new FakeClock()
    let done = false
    const total = 2 ** 31 + 5000
    void sleep(total, undefined, {clock}).then(() => (done = true))
    await clock.advance(total - 1)
    expect(done).toBe(false)
    await clock.advance(1)
    expect(done).toBe(true)
    expect(Math.max(...clock.armed)).toBeLessThanOrEqual(MAX_TIMER_MS)
    expect(clock.armed.length).toBe(2)
  })

  it('treats NaN and negative delays as zero, and resolves at once when aborted', async () => {
    const clock = new FakeClock()
    let done = 0
    void sleep(Number.NaN, undefined, {clock}).then(() => done++)
    void sleep(-5, undefined, {clock}).then(() => done++)
    await clock.advance(0)
    expect(done).toBe(2)
    const stop = new AbortController()
    const waiting = sleep(Number.POSITIVE_INFINITY, stop.signal, {clock})
    stop.abort()
    await waiting
    expect(clock.armed.every((ms) => ms <= MAX_TIMER_MS)).toBe(true)
  })
})

describe('periodic scheduler', () => {
  it('runs a 3 000 000 s interval once per interval, not every millisecond', async () => {
    const clock = new FakeClock()
    const interval = 3_000_000 * 1000
    let runs = 0
    const schedule = periodic({run: async () => void runs++, nextDelayMs: () => interval, clock})
    await schedule.start(2000)
    expect(schedule.nextAt?.getTime()).toBe(2000)
    await clock.advance(2000)
    expect(runs).toBe(1)
    expect(schedule.nextAt?.getTime()).toBe(2000 + interval)
    await clock.advance(interval - 1)
    expect(runs).toBe(1)
    await clock.advance(1)
    expect(runs).toBe(2)
    schedule.stop()
    expect(schedule.nextAt).toBeUndefined()
    await clock.advance(interval * 2)
    expect(runs).toBe(2)
  })

  it('never overlaps runs, keeps going after a failed run, and stops when the next time cannot be computed', async () => {
    const clock = new FakeClock()
    let active = 0
    let most = 0
    let runs = 0
    const errors: unknown[] = []
    let release: (() => void) | undefined
    const schedule = periodic({
      async run() {
        runs++
        active++
        most = Math.max(most, active)
        if (runs === 1) await new Promise<void>((resolve) => (release = resolve))
        active--
        if (runs === 2) throw new Error('a failed run')
      },
      nextDelayMs: () => {
        if (runs >= 3) throw new Error('no next time')
        return 10
      },
      clock,
      onError: (error) => errors.push(error),
    })
    await schedule.start(10)
    await clock.advance(100)
    expect(runs).toBe(1)
    release!()
    await clock.advance(100)
    expect(runs).toBe(3)
    expect(most).toBe(1)
    expect(errors).toHaveLength(1)
    expect(schedule.nextAt).toBeUndefined()
  })
})
