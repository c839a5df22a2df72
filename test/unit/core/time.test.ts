import {describe, expect, it} from 'vitest'

import {periodic} from '../../../src/lib/time/scheduler.js'
import {type Clock, MAX_TIMER_MS, sleep} from '../../../src/lib/time/sleep.js'

/** A clock that only moves when told; refuses, as node would misbehave, any timer past 2^31-1 ms. */
class FakeClock implements Clock {
  time = 0
  armed: number[] = []
  private timers: {at: number; fn: () => void; id: number}[] = []
  private next = 0

  now(): number {
    return this.time
  }

  setTimeout(fn: () => void, ms: number) {
    if (ms > MAX_TIMER_MS || ms < 0) throw new Error(`timer of ${ms} ms would overflow`)
    this.armed.push(ms)
    const id = this.next++
    this.timers.push({at: this.time + ms, fn, id})
    return {id, unref: () => undefined}
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== (handle as {id: number}).id)
  }

  /** Moves time forward, firing due timers in order (bounded: at most 10 000 timers per call). */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms
    await new Promise((resolve) => setImmediate(resolve))
    for (let fired = 0; fired < 10_000; fired++) {
      this.timers.sort((a, b) => a.at - b.at)
      const due = this.timers[0]
      if (!due || due.at > end) break
      this.timers.shift()
      this.time = due.at
      due.fn()
      await new Promise((resolve) => setImmediate(resolve))
    }
    this.time = end
    await new Promise((resolve) => setImmediate(resolve))
  }
}

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
