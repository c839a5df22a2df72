import type {Context} from '../context.js'
import {errorMessage} from '../errors.js'
import type {Counter, Gauge, MetricsRegistry} from '../metrics/registry.js'
import type {ModeHealth} from '../serve/mode.js'
import {type Periodic, periodic} from '../time/scheduler.js'
import {type Clock, systemClock} from '../time/sleep.js'
import type {ApplyFacts} from './apply-confirm.js'
import {type PublicResult, publicResult, settled} from './pending.js'
import {nextRun} from './schedule.js'
import {WorkloadGroups} from './workload-groups.js'
import type {WatchOptions, WatchReport} from './watcher.js'

/** When and how the checks run, read at each use (a reloaded config applies at the next run). */
export interface CheckSettings {
  intervalSeconds: number
  schedule?: string
  runOnBoot: boolean
  publicUrl?: string
}

export interface ImagesMetrics {
  checked: Counter
  available: Gauge
  applied: Counter
}

export function imagesMetrics(registry: MetricsRegistry): ImagesMetrics {
  return {
    checked: registry.counter('homeops_images_checked_total', 'Workloads checked for image updates'),
    available: registry.gauge(
      'homeops_images_updates_available',
      'Workloads with an update available at the last check',
    ),
    applied: registry.counter('homeops_images_updates_applied_total', 'Image updates applied, by result'),
  }
}

/** What `GET /images/status` answers. */
export interface ImagesStatus {
  running: boolean
  lastRunAt: string | null
  nextRunAt: string | null
  schedule: string
  lastError: string | null
  results: (PublicResult & {group: string})[]
}

export interface CheckRunsOptions {
  context: () => Context
  settings(): CheckSettings
  metrics(): ImagesMetrics | undefined
  /** One pass (default: `runWatch`); tests pass their own. */
  watch?: (context: Context, options: WatchOptions) => Promise<WatchReport>
  clock?: Clock
}

/**
 * The image checks of `images serve`: one pass (check, notify, auto-update)
 * on the interval or cron schedule, or when asked (`runNow`: joins a pass in
 * progress), and what the last one found.
 */
export class CheckRuns {
  private readonly clock: Clock
  private readonly schedule: Periodic<WatchReport | undefined>
  private stopped = true
  private next: Date | undefined
  private lastRunAt: Date | undefined
  private lastError: string | undefined
  private lastReport: WatchReport | undefined
  private readonly groups: WorkloadGroups

  constructor(private readonly options: CheckRunsOptions) {
    this.clock = options.clock ?? systemClock
    this.groups = new WorkloadGroups(options.context)
    this.schedule = periodic({run: () => this.pass(), nextDelayMs: () => this.nextDelayMs(), clock: this.clock})
  }

  /** Arms the schedule; with `runOnBoot`, a pass first (start does not wait for it). */
  async start(): Promise<void> {
    this.stopped = false
    if (!this.options.settings().runOnBoot) return this.schedule.start()
    void this.schedule
      .runNow()
      .catch(() => undefined)
      .then(() => (this.stopped ? undefined : this.schedule.start()))
  }

  /** Stops the schedule and waits for a pass in progress. */
  async stop(): Promise<void> {
    this.stopped = true
    this.schedule.stop()
    await this.schedule.idle()
  }

  /** Runs a pass now, or joins the one running; undefined when it failed (see `health`). */
  runNow(): Promise<WatchReport | undefined> {
    return this.schedule.runNow()
  }

  get running(): boolean {
    return this.schedule.running
  }

  /** The next scheduled pass (it stays shown while a pass runs). */
  get nextRunAt(): Date | undefined {
    return this.next
  }

  get error(): string | undefined {
    return this.lastError
  }

  health(): ModeHealth {
    if (this.lastError) return {up: false, detail: `last check failed: ${this.lastError}`}
    return {up: true, detail: this.lastRunAt ? `last check ${this.lastRunAt.toISOString()}` : 'no check yet'}
  }

  async status(): Promise<ImagesStatus> {
    const s = this.options.settings()
    const {latestChecks, updateHistory} = await import('./history.js')
    const db = await this.options.context().state()
    const report = this.lastReport
    const checked: PublicResult[] = report
      ? report.check.results.map((r) => publicResult(r, report.check.checkedAt))
      : latestChecks(db).map((r) => ({...r, update: null, note: null}))
    // An update applied since its check (from this page, Containers, a link, the API or the CLI) is no longer pending.
    const applied = updateHistory(db, {limit: 500}).filter((u) => u.result === 'applied')
    const groups = await this.groups.get()
    const results = checked.map((r) => ({...settled(r, applied), group: groups.get(r.workload) ?? ''}))
    return {
      running: this.running,
      lastRunAt: this.lastRunAt?.toISOString() ?? null,
      nextRunAt: this.next?.toISOString() ?? null,
      schedule: s.schedule ?? `every ${s.intervalSeconds} s`,
      lastError: this.lastError ?? null,
      results,
    }
  }

  /** The last check's view of a workload (current version, image, release notes), from memory or the database. */
  async facts(workload: string): Promise<ApplyFacts> {
    const live = this.lastReport?.check.results.find((r) => r.workload === workload)
    if (live) return live
    const {latestChecks} = await import('./history.js')
    return latestChecks(await this.options.context().state()).find((r) => r.workload === workload) ?? {}
  }

  private async nextDelayMs(): Promise<number> {
    const s = this.options.settings()
    this.next = await nextRun(s.schedule, s.intervalSeconds, new Date(this.clock.now()))
    this.options.context().logger.debug('next image check', {at: this.next.toISOString()})
    return this.next.getTime() - this.clock.now()
  }

  private async pass(): Promise<WatchReport | undefined> {
    const context = this.options.context()
    const started = this.clock.now()
    try {
      const watch = this.options.watch ?? (await import('./watcher.js')).runWatch
      const report = await watch(context, {publicUrl: this.options.settings().publicUrl})
      this.lastReport = report
      this.lastError = undefined
      this.groups.invalidate()
      this.record(report)
      context.logger.info('image check done', {
        workloads: report.check.summary.workloads,
        updates: report.check.summary.updates,
        errors: report.check.summary.errors,
        notified: report.notified.length,
        applied: report.updates.filter((u) => u.result === 'applied').length,
        ms: this.clock.now() - started,
      })
      return report
    } catch (error) {
      this.lastError = errorMessage(error)
      context.logger.error('image check failed', {error: this.lastError})
      return undefined
    } finally {
      this.lastRunAt = new Date(started)
    }
  }

  private record(report: WatchReport): void {
    const metrics = this.options.metrics()
    if (!metrics) return
    metrics.checked.inc({}, report.check.results.length)
    metrics.available.set(report.check.summary.updates)
    for (const u of report.updates) metrics.applied.inc({result: u.result})
  }
}
