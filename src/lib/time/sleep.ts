/**
 * The one way to wait in homeops. Node's `setTimeout` takes a signed 32-bit
 * delay: anything past 2^31-1 ms (24.8 days) fires after 1 ms, which turned a
 * long interval into a busy loop. Every wait goes through `longTimeout`, which
 * waits in chunks of at most that much, and the clock is injectable for tests.
 */
export const MAX_TIMER_MS = 2_147_483_647

export interface TimerHandle {
  unref?(): unknown
}

/** What the waits need from the environment; tests pass a fake one. */
export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

export interface LongTimeoutOptions {
  clock?: Clock
  /** Do not keep the process alive for this timer (serve modes stop them on SIGTERM). */
  unref?: boolean
}

export interface LongTimeout {
  cancel(): void
}

/** Clamps a delay to what a timer can represent: NaN and negatives are 0, infinity waits for ever in chunks. */
export function clampDelay(ms: number): number {
  if (Number.isNaN(ms) || ms <= 0) return 0
  return ms
}

/** Calls `fn` once `ms` have passed on the clock, however long that is. */
export function longTimeout(fn: () => void, ms: number, options: LongTimeoutOptions = {}): LongTimeout {
  const clock = options.clock ?? systemClock
  const due = clock.now() + clampDelay(ms)
  let handle: TimerHandle | undefined
  let cancelled = false
  const arm = () => {
    const left = Math.max(0, due - clock.now())
    handle = clock.setTimeout(
      () => {
        handle = undefined
        if (cancelled) return
        if (clock.now() >= due || left <= 0) fn()
        else arm()
      },
      Math.min(left, MAX_TIMER_MS),
    )
    if (options.unref) handle.unref?.()
  }
  arm()
  return {
    cancel() {
      cancelled = true
      if (handle !== undefined) clock.clearTimeout(handle)
      handle = undefined
    },
  }
}

/** Waits `ms`, or less when `signal` aborts: it then resolves (never rejects), so loops simply check the signal. */
export function sleep(ms: number, signal?: AbortSignal, options: LongTimeoutOptions = {}): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const done = () => {
      timer.cancel()
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = longTimeout(done, ms, options)
    signal?.addEventListener('abort', done, {once: true})
  })
}
