import {type Clock, type LongTimeout, longTimeout, systemClock} from './sleep.js'

export interface PeriodicOptions<T = unknown> {
  /**
   * One run. A rejected scheduled run does not stop the schedule (its errors are
   * the caller's to log); a rejected `runNow()` rejects to its caller.
   */
  run(): Promise<T>
  /**
   * Milliseconds from now until the next run, asked after each run finishes
   * (an interval, or the next cron time): runs never overlap, a slow run
   * delays the next one rather than stacking up.
   */
  nextDelayMs(): number | Promise<number>
  clock?: Clock
  /** Default true: a schedule alone does not keep the process alive. */
  unref?: boolean
  /** Told when `nextDelayMs` throws (e.g. a cron expression with no next time); the schedule then stops. */
  onError?(error: unknown): void
  /** Aborting it stops the schedule as `stop()` does (the process is stopping). */
  signal?: AbortSignal
}

export interface Periodic<T = unknown> {
  /** Arms the first run after `firstDelayMs` (or `nextDelayMs()` when omitted). */
  start(firstDelayMs?: number): Promise<void>
  /**
   * Runs now, or joins the run in progress: there is never more than one run at a
   * time, whether it was started by the schedule or by a caller (a button, an API).
   * Does not move the schedule.
   */
  runNow(): Promise<T>
  /** Cancels the pending run; a run in progress finishes on its own (see `idle()`). */
  stop(): void
  /** Resolves once no run is in progress (at once when none is). Never rejects. */
  idle(): Promise<void>
  /** A run (scheduled or `runNow`) is in progress. */
  readonly running: boolean
  /** When the next run is due; undefined while one runs, when stopped, or when it never will be. */
  readonly nextAt: Date | undefined
}

/**
 * The one periodic scheduler of the serve modes (ddns loop, images checks,
 * swarm reconciles): delays of any length (chunked below the 2^31 ms timer
 * limit), no overlapping runs, an injectable clock, a clean stop.
 *
 * No jitter: an interval counts from each process's own start, so instances
 * do not fall into step, and a cron schedule is a time the user chose.
 */
export function periodic<T = unknown>(options: PeriodicOptions<T>): Periodic<T> {
  const clock = options.clock ?? systemClock
  let pending: LongTimeout | undefined
  let nextAt: number | undefined
  let stopped = true
  let inFlight: Promise<T> | undefined
  // A tick of an earlier start (stopped, then started again while its run went on) must not arm a second timer.
  let generation = 0

  const runNow = (): Promise<T> => {
    if (inFlight) return inFlight
    const run: Promise<T> = Promise.resolve()
      .then(() => options.run())
      .finally(() => {
        if (inFlight === run) inFlight = undefined
      })
    inFlight = run
    return run
  }

  const arm = (delayMs: number) => {
    if (stopped) return
    const armedIn = generation
    const due = clock.now() + Math.max(0, delayMs)
    nextAt = Number.isFinite(due) ? due : undefined
    pending = longTimeout(
      () => {
        pending = undefined
        nextAt = undefined
        void runNow()
          .catch(() => undefined)
          .then(() => (armedIn === generation ? armNext() : undefined))
      },
      delayMs,
      {clock, unref: options.unref ?? true},
    )
  }

  const armNext = async () => {
    if (stopped) return
    const asked = generation
    let delay: number
    try {
      delay = await options.nextDelayMs()
    } catch (error) {
      if (asked !== generation) return
      stopped = true
      options.onError?.(error)
      return
    }
    if (asked === generation) arm(delay)
  }

  const stop = () => {
    stopped = true
    generation++
    pending?.cancel()
    pending = undefined
    nextAt = undefined
  }
  options.signal?.addEventListener('abort', stop, {once: true})

  return {
    async start(firstDelayMs?: number) {
      if (options.signal?.aborted) return
      stop()
      stopped = false
      if (firstDelayMs === undefined) await armNext()
      else arm(firstDelayMs)
    },
    runNow,
    stop,
    async idle() {
      await inFlight?.catch(() => undefined)
    },
    get running() {
      return inFlight !== undefined
    },
    get nextAt() {
      return nextAt === undefined ? undefined : new Date(nextAt)
    },
  }
}
