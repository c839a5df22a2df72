import {performance} from 'node:perf_hooks'

export interface RateLimiterOptions {
  /** Fixed queries per second per source; 0: none (fair sharing under saturation only). */
  perSource: number
  /** Sources tracked at most; beyond that new sources share one bucket. */
  maxSources?: number
  /** Event-loop utilisation above which the server counts as saturated. */
  saturation?: number
  windowMs?: number
  /** Calm windows before limits are lifted. */
  calmWindows?: number
  /** Smallest per-window allowance of a throttled source. */
  minShare?: number
}

interface Bucket {
  tokens: number
  last: number
}

const OVERFLOW = '\0overflow'

/**
 * Keeps one source from starving the others.
 *
 * - With `perSource` set: a token bucket per source address (burst: one
 *   second's worth), always on.
 * - Always: when the event loop is saturated over a window and more than one
 *   source is sending, a source that sent more than a fair share of what the
 *   server answered (answered ÷ sources) is held to that share per window
 *   until the server has been calm for a while; the rest is dropped, which is
 *   far cheaper than answering. Nothing is counted per source while the
 *   server keeps up.
 *
 * Memory is bounded by `maxSources` in both cases.
 */
export class RateLimiter {
  dropped = 0
  /** Windows in which fair sharing was enforced. */
  throttledWindows = 0
  private readonly maxSources: number
  private readonly buckets = new Map<string, Bucket>()
  private counting = false
  private counts = new Map<string, number>()
  private budgets = new Map<string, number>()
  /** Per-window allowance of each throttled source; `budgets` is refilled from it every window. */
  private limits = new Map<string, number>()
  private allowedInWindow = 0
  private calm = 0
  private timer: NodeJS.Timeout | undefined
  private elu = performance.eventLoopUtilization()

  constructor(private readonly options: RateLimiterOptions) {
    this.maxSources = options.maxSources ?? 10_000
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.options.windowMs ?? 250)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  /** True when the packet from `source` may be answered. */
  allow(source: string): boolean {
    if (this.counting) {
      const key = this.counts.has(source) || this.counts.size < this.maxSources ? source : OVERFLOW
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
      if (this.budgets.size > 0) {
        const budget = this.budgets.get(key)
        if (budget !== undefined) {
          if (budget <= 0) {
            this.dropped++
            return false
          }
          this.budgets.set(key, budget - 1)
        }
      }
      this.allowedInWindow++
    }
    if (this.options.perSource > 0 && !this.take(source)) {
      this.dropped++
      return false
    }
    return true
  }

  private take(source: string): boolean {
    const rate = this.options.perSource
    const now = performance.now()
    let key = source
    let bucket = this.buckets.get(key)
    if (!bucket) {
      if (this.buckets.size >= this.maxSources) {
        this.evict(now)
        if (this.buckets.size >= this.maxSources) key = OVERFLOW
      }
      bucket = this.buckets.get(key)
      if (!bucket) {
        bucket = {tokens: rate, last: now}
        this.buckets.set(key, bucket)
      }
    }
    bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.last) / 1000) * rate)
    bucket.last = now
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }

  /** Drops buckets that are full again (idle sources). */
  private evict(now: number): void {
    const rate = this.options.perSource
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.last) / 1000) * rate >= rate) this.buckets.delete(key)
    }
  }

  /** Visible for tests: one window ends with the given utilisation. */
  tick(utilisation?: number): void {
    const next = performance.eventLoopUtilization()
    const used = utilisation ?? performance.eventLoopUtilization(next, this.elu).utilization
    this.elu = next
    const saturated = used >= (this.options.saturation ?? 0.9)
    if (!this.counting) {
      if (saturated) {
        this.counting = true
        this.calm = 0
      }
      return
    }
    const counts = this.counts
    const allowed = this.allowedInWindow
    this.counts = new Map()
    this.allowedInWindow = 0
    this.calm = saturated ? 0 : this.calm + 1
    // Keep the limits for a few calm windows: lifting them at once lets the flood fill the queue again.
    if (this.calm >= (this.options.calmWindows ?? 8)) {
      this.counting = false
      this.limits = new Map()
      this.budgets = new Map()
      return
    }
    if (saturated && counts.size >= 2) {
      // A fair share of what the server managed to answer, not of what was thrown at it.
      const share = Math.max(this.options.minShare ?? 25, Math.ceil(allowed / counts.size))
      const limits = new Map<string, number>()
      for (const [source, n] of counts) if (n > share) limits.set(source, share)
      if (limits.size > 0) {
        this.limits = limits
        this.throttledWindows++
      }
    }
    this.budgets = new Map(this.limits)
  }
}
