import type {Clock} from '../../src/lib/time/sleep.js'
import {MAX_TIMER_MS} from '../../src/lib/time/sleep.js'

/** A clock that only moves when told; refuses, as node would misbehave, any timer past 2^31-1 ms. */
export class FakeClock implements Clock {
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

  /** Timers armed and not yet fired or cleared. */
  get pending(): number {
    return this.timers.length
  }

  /** Moves time forward, firing due timers in order (bounded: at most 10 000 timers per call). */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms
    await settle()
    for (let fired = 0; fired < 10_000; fired++) {
      this.timers.sort((a, b) => a.at - b.at)
      const due = this.timers[0]
      if (!due || due.at > end) break
      this.timers.shift()
      this.time = due.at
      due.fn()
      await settle()
    }
    this.time = end
    await settle()
  }
}

/** Lets pending promise callbacks and I/O callbacks run (a few turns of the event loop, no timer). */
export async function settle(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve))
}
