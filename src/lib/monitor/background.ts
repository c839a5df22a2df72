import type {Logger} from '../log/logger.js'
import {errorMessage} from '../errors.js'
import {type Periodic, periodic} from '../time/scheduler.js'
import type {Clock} from '../time/sleep.js'
import {HISTORY_INTERVAL_MS, type MetricHistory, type MetricSample} from './metric-history.js'
import type {MonitorService} from './service.js'

export interface MonitorBackgroundOptions {
  service: MonitorService
  history: MetricHistory
  /** How often the registry cache is refreshed (`monitor.registryCacheMinutes`). */
  refreshMs: number
  logger: Logger
  clock?: Clock
}

/**
 * What the monitor does between requests, on the shared scheduler: a CPU/RAM
 * sample of every running container for the page's sparklines, and a registry
 * refresh so `/status` answers from memory (at start, then every `refreshMs`;
 * a slow registry delays the next refresh rather than stacking them).
 */
export class MonitorBackground {
  private readonly jobs: Periodic[]

  constructor(private readonly options: MonitorBackgroundOptions) {
    const {clock} = options
    this.jobs = [
      periodic({run: async () => this.sample(), nextDelayMs: () => HISTORY_INTERVAL_MS, clock}),
      periodic({run: () => this.refresh(), nextDelayMs: () => options.refreshMs, clock}),
    ]
  }

  async start(): Promise<void> {
    const [sampling, refreshing] = this.jobs as [Periodic, Periodic]
    await sampling.start()
    void refreshing.runNow().catch(() => undefined)
    await refreshing.start()
  }

  stop(): void {
    for (const job of this.jobs) job.stop()
  }

  private sample(): void {
    const {watcher} = this.options.service
    const samples = new Map<string, MetricSample>()
    for (const c of watcher.containers()) {
      if (c.state !== 'running') continue
      const m = watcher.metrics(c.id)
      samples.set(c.id, {cpu: m?.cpu ?? null, mem: m?.memUsage ?? null})
    }
    this.options.history.record(samples)
  }

  private async refresh(): Promise<void> {
    try {
      await this.options.service.rows()
    } catch (error) {
      this.options.logger.debug('registry refresh failed', {error: errorMessage(error)})
    }
  }
}
