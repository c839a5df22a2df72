import {type Clock, type LongTimeout, longTimeout, systemClock} from './sleep.js'

export interface PeriodicOptions {
  /** One run; its errors are the caller's to log (a rejected run does not stop the schedule). */
  run(): Promise<unknown>
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
}

export interface Periodic {
  /** Arms the first run after `firstDelayMs` (or `nextDelayMs()` when omitted). */
  start(firstDelayMs?: number): Promise<void>
  /** Cancels the pending run; a run in progress finishes on its own. */
  stop(): void
  /** When the next run is due; undefined while one runs or when stopped. */
  readonly nextAt: Date | undefined
}

/**
 * The one periodic scheduler of the serve modes (ddns loop, images checks,
 * swarm reconciles): delays of any length (chunked below the 2^31 ms timer
 * limit), an injectable clock, a clean stop.
 */
export function periodic(options: PeriodicOptions): Periodic {
  const clock = options.clock ?? systemClock
  let pending: LongTimeout | undefined
  let nextAt: number | undefined
  let stopped = true

  const arm = (delayMs: number) => {
    if (stopped) return
    nextAt = clock.now() + Math.max(0, delayMs)
    pending = longTimeout(
      () => {
        pending = undefined
        nextAt = undefined
        void options
          .run()
          .catch(() => undefined)
          .then(() => armNext())
      },
      delayMs,
      {clock, unref: options.unref ?? true},
    )
  }

  const armNext = async () => {
    if (stopped) return
    let delay: number
    try {
      delay = await options.nextDelayMs()
    } catch (error) {
      stopped = true
      options.onError?.(error)
      return
    }
    arm(delay)
  }

  return {
    async start(firstDelayMs?: number) {
      stopped = false
      if (firstDelayMs === undefined) await armNext()
      else arm(firstDelayMs)
    },
    stop() {
      stopped = true
      pending?.cancel()
      pending = undefined
      nextAt = undefined
    },
    get nextAt() {
      return nextAt === undefined ? undefined : new Date(nextAt)
    },
  }
}
