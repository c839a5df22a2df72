import type {Logger} from '../log/logger.js'
import type {Counter, Gauge, MetricsRegistry} from '../metrics/registry.js'
import type {DdnsRunReport} from './updater.js'

export interface LastPass {
  at: string
  exitCode: number
  durationMs: number
  error: string | null
}

export interface DdnsMetrics {
  updates: Counter
  checks: Counter
  lastSuccess: Gauge
}

export function ddnsMetrics(registry: MetricsRegistry): DdnsMetrics {
  return {
    updates: registry.counter('homeops_ddns_updates_total', 'DDNS update requests sent, by record, family and result'),
    checks: registry.counter('homeops_ddns_checks_total', 'DDNS passes (detect + update), by outcome'),
    lastSuccess: registry.gauge(
      'homeops_ddns_last_success_timestamp_seconds',
      'Unix time of the last update the provider accepted, by record and family',
    ),
  }
}

/**
 * What the ddns loop has done since it started (docs/architecture.md "ddns"): checks,
 * updates ok/failed/skipped, the current addresses and the last pass; the
 * metrics follow. Everything that must survive a restart is in the database.
 */
export class LoopTally {
  checks = 0
  readonly updates = {ok: 0, failed: 0, skipped: 0}
  readonly currentIps: {ipv4: string | null; ipv6: string | null} = {ipv4: null, ipv6: null}
  lastPass: LastPass | null = null
  lastError: string | undefined
  /** When the loop (re)started; the counts run on across restarts of the mode. */
  startedAt: Date | undefined
  private metrics: DdnsMetrics | undefined

  constructor(private readonly now: () => number = Date.now) {}

  /** The loop starts (again): uptime counts from here; the metrics go to `metrics`. */
  started(metrics: DdnsMetrics): void {
    this.metrics = metrics
    this.startedAt = new Date(this.now())
  }

  uptimeMs(): number {
    return this.startedAt ? this.now() - this.startedAt.getTime() : 0
  }

  /** A pass of the loop: counted as a check, with its outcome. `undefined`: skipped, another run held the lock. */
  passed(report: DdnsRunReport | undefined, at: Date): void {
    this.checks++
    this.lastError = undefined
    if (!report) {
      this.metrics?.checks.inc({result: 'locked'})
      return
    }
    this.account(report)
    this.metrics?.checks.inc({result: outcome(report.exitCode)})
    this.lastPass = {at: at.toISOString(), exitCode: report.exitCode, durationMs: report.durationMs, error: null}
  }

  /** A pass of the loop that threw. */
  failed(error: string, at: Date): void {
    this.checks++
    this.lastError = error
    this.metrics?.checks.inc({result: 'error'})
    this.lastPass = {at: at.toISOString(), exitCode: 1, durationMs: this.now() - at.getTime(), error}
  }

  /** The records and addresses of a pass (of the loop, or one asked for from the web page). */
  account(report: DdnsRunReport): void {
    for (const d of report.detection) if (d.ip) this.currentIps[d.family] = d.ip
    for (const r of report.records) {
      if (r.action === 'sent') {
        this.metrics?.updates.inc({record: r.record, family: r.family, result: r.result})
        if (r.exitCode === 0) {
          this.updates.ok++
          this.metrics?.lastSuccess.set(this.now() / 1000, {record: r.record, family: r.family})
        } else this.updates.failed++
      } else if (r.result === 'detection-failed') this.updates.failed++
      else this.updates.skipped++
    }
  }

  /** The periodic "ddns metrics" line (every `every` checks). */
  logEvery(every: number, logger: Logger, ipv6Enabled: boolean): void {
    if (this.checks % every !== 0) return
    logger.info('ddns metrics', {
      uptime: formatDuration(this.uptimeMs()),
      checks: this.checks,
      updatesOk: this.updates.ok,
      updatesFailed: this.updates.failed,
      updatesSkipped: this.updates.skipped,
      ipv4: this.currentIps.ipv4 ?? '-',
      ipv6: this.currentIps.ipv6 ?? (ipv6Enabled ? '-' : 'off'),
    })
  }
}

function outcome(exitCode: number): string {
  if (exitCode === 0) return 'ok'
  if (exitCode === 4) return 'fatal'
  if (exitCode === 3) return 'transient'
  return 'failed'
}

function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000)
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  if (d > 0) return `${d}d${h}h`
  if (h > 0) return `${h}h${m}m`
  if (m > 0) return `${m}m${s % 60}s`
  return `${s}s`
}
