import {describe, expect, it} from 'vitest'

import {periodic} from '../../../src/lib/time/scheduler.js'
import {MAX_TIMER_MS} from '../../../src/lib/time/sleep.js'
import {FakeClock, settle} from '../../support/fake-clock.js'

/** A run the test finishes by hand. */
function gate() {
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return {opened, open}
}

describe('periodic: one run at a time', () => {
  it('joins a run asked for while one is in progress instead of starting a second', async () => {
    const clock = new FakeClock()
    let runs = 0
    const g = gate()
    const schedule = periodic({
      run: async () => {
        runs++
        await g.opened
        return runs
      },
      nextDelayMs: () => 1000,
      clock,
    })
    const first = schedule.runNow()
    const second = schedule.runNow()
    await settle()
    expect(schedule.running).toBe(true)
    g.open()
    expect(await first).toBe(1)
    expect(await second).toBe(1)
    expect(runs).toBe(1)
    expect(schedule.running).toBe(false)
  })

  it('lets a scheduled tick that falls during a manual run join it, then keeps the interval', async () => {
    const clock = new FakeClock()
    let runs = 0
    let active = 0
    let most = 0
    const g = gate()
    const schedule = periodic({
      run: async () => {
        runs++
        active++
        most = Math.max(most, active)
        if (runs === 1) await g.opened
        active--
      },
      nextDelayMs: () => 100,
      clock,
    })
    await schedule.start(50)
    const manual = schedule.runNow()
    await clock.advance(60) // the tick at 50 ms finds the manual run going
    expect(runs).toBe(1)
    expect(schedule.nextAt).toBeUndefined()
    g.open()
    await manual
    await settle()
    expect(schedule.nextAt?.getTime()).toBe(160)
    await clock.advance(100)
    expect(runs).toBe(2)
    expect(most).toBe(1)
    schedule.stop()
  })

  it('hands a failed manual run to its caller and keeps the schedule', async () => {
    const clock = new FakeClock()
    let runs = 0
    const schedule = periodic({
      run: async () => {
        runs++
        if (runs === 1) throw new Error('registry down')
      },
      nextDelayMs: () => 10,
      clock,
    })
    await schedule.start(10)
    await expect(schedule.runNow()).rejects.toThrow('registry down')
    expect(schedule.running).toBe(false)
    await clock.advance(10)
    expect(runs).toBe(2)
    schedule.stop()
  })

  it('is not left "running" by a run that throws before it awaits anything', async () => {
    const schedule = periodic({
      run: () => {
        throw new Error('synchronous')
      },
      nextDelayMs: () => 10,
      clock: new FakeClock(),
    })
    await expect(schedule.runNow()).rejects.toThrow('synchronous')
    expect(schedule.running).toBe(false)
  })
})

describe('periodic: stopping', () => {
  it('stops when its signal aborts, and idle() waits for the run in progress', async () => {
    const clock = new FakeClock()
    const stop = new AbortController()
    let runs = 0
    let finished = false
    const g = gate()
    const schedule = periodic({
      run: async () => {
        runs++
        await g.opened
        finished = true
      },
      nextDelayMs: () => 10,
      clock,
      signal: stop.signal,
    })
    await schedule.start(10)
    await clock.advance(10)
    expect(schedule.running).toBe(true)
    stop.abort()
    let idle = false
    const waiting = schedule.idle().then(() => (idle = true))
    await settle()
    expect(idle).toBe(false)
    g.open()
    await waiting
    expect(finished).toBe(true)
    await clock.advance(1000)
    expect(runs).toBe(1)
    expect(clock.pending).toBe(0)
    expect(schedule.nextAt).toBeUndefined()
  })

  it('does not start when its signal is already aborted', async () => {
    const clock = new FakeClock()
    let runs = 0
    const schedule = periodic({
      run: async () => void runs++,
      nextDelayMs: () => 10,
      clock,
      signal: AbortSignal.abort(),
    })
    await schedule.start(0)
    await clock.advance(100)
    expect(runs).toBe(0)
  })

  it('arms one timer, not two, when started again while a run of the earlier start goes on', async () => {
    const clock = new FakeClock()
    let runs = 0
    const g = gate()
    const schedule = periodic({
      run: async () => {
        runs++
        if (runs === 1) await g.opened
      },
      nextDelayMs: () => 100,
      clock,
    })
    await schedule.start(10)
    await clock.advance(10)
    schedule.stop()
    await schedule.start(100)
    g.open()
    await settle()
    expect(clock.pending).toBe(1)
    await clock.advance(100)
    expect(runs).toBe(2)
    expect(clock.pending).toBe(1)
    schedule.stop()
  })

  it('waits for ever in timer-sized chunks when told an infinite delay, with no next time to show', async () => {
    const clock = new FakeClock()
    let runs = 0
    const schedule = periodic({run: async () => void runs++, nextDelayMs: () => Number.POSITIVE_INFINITY, clock})
    await schedule.start()
    expect(schedule.nextAt).toBeUndefined()
    await clock.advance(3 * MAX_TIMER_MS)
    expect(runs).toBe(0)
    expect(Math.max(...clock.armed)).toBeLessThanOrEqual(MAX_TIMER_MS)
    schedule.stop()
    expect(clock.pending).toBe(0)
  })
})
