import type {Context} from '../context.js'
import {LockedError, errorMessage} from '../errors.js'
import type {Router} from '../http/router.js'
import {sleep} from '../time/sleep.js'
import type {Gauge, MetricsRegistry} from '../metrics/registry.js'
import type {ModeHealth, ModeRuntime, ServiceMode} from '../serve/mode.js'
import type {DdnsHistoryReport, RecordStatus} from './status.js'
import type {DdnsRunReport, PassOptions} from './updater.js'

export interface DdnsModeStatus {
  running: boolean
  startedAt: string | null
  uptimeSeconds: number
  intervalSeconds: number
  checks: number
  updates: {ok: number; failed: number; skipped: number}
  nextCheckAt: string | null
  currentIps: {ipv4: string | null; ipv6: string | null}
  lastPass: {at: string; exitCode: number; durationMs: number; error: string | null} | null
  records: RecordStatus[]
}

export interface DdnsModeOptions {
  /** Overrides `ddns.intervalSeconds` (tests). */
  intervalMs?: number
  /** Metrics line every this many checks (DESIGN.md §5.3: 10). */
  metricsEvery?: number
  pass?: Omit<PassOptions, 'signal'>
  /** A `--log-level`/`--debug` flag was given: do not apply `ddns.logLevel`. */
  explicitLogLevel?: boolean
}

/**
 * The ddns loop as a ServiceMode: a pass at start, then one every
 * `ddns.intervalSeconds`; each pass takes the `ddns` lock (a timer-driven
 * `ddns update` running at that moment makes it skip a beat, never both send).
 * Everything that matters between passes lives in the state database.
 */
export function createDdnsMode(options: DdnsModeOptions = {}): ServiceMode & {
  /** Resolves after the next pass finishes (tests, `serve` startup). */
  passed(): Promise<DdnsRunReport | undefined>
} {
  let runtime: ModeRuntime | undefined
  let stopper: AbortController | undefined
  let loop: Promise<void> | undefined
  let startedAt: Date | undefined
  let nextCheckAt: Date | undefined
  let lastPass: DdnsModeStatus['lastPass'] = null
  let lastError: string | undefined
  let checks = 0
  const updates = {ok: 0, failed: 0, skipped: 0}
  const currentIps: DdnsModeStatus['currentIps'] = {ipv4: null, ipv6: null}
  let waiters: ((report: DdnsRunReport | undefined) => void)[] = []
  let metrics: {
    updates: ReturnType<MetricsRegistry['counter']>
    checks: ReturnType<MetricsRegistry['counter']>
    lastSuccess: Gauge
  }

  const status = async (context: Context): Promise<DdnsModeStatus> => {
    const {ddnsStatus} = await import('./status.js')
    const {records} = await ddnsStatus(context)
    return {
      running: loop !== undefined && !stopper?.signal.aborted,
      startedAt: startedAt?.toISOString() ?? null,
      uptimeSeconds: startedAt ? Math.round((Date.now() - startedAt.getTime()) / 1000) : 0,
      intervalSeconds: intervalMs(context) / 1000,
      checks,
      updates: {...updates},
      nextCheckAt: nextCheckAt?.toISOString() ?? null,
      currentIps: {...currentIps},
      lastPass,
      records,
    }
  }
  const history = async (context: Context, limit: number): Promise<DdnsHistoryReport> => {
    const {ddnsHistory} = await import('./status.js')
    return ddnsHistory(context, {limit})
  }
  const intervalMs = (context: Context) => options.intervalMs ?? context.config.ddns.intervalSeconds * 1000

  async function onePass(
    rt: ModeRuntime,
    signal: AbortSignal,
    extra: {force?: boolean; records?: string[]} = {},
  ): Promise<DdnsRunReport | undefined> {
    const {context} = rt
    const [{acquireLock}, {stateDir}, path, {runPass}] = await Promise.all([
      import('../state/lock.js'),
      import('../paths.js'),
      import('node:path'),
      import('./updater.js'),
    ])
    let lock
    try {
      lock = acquireLock(path.join(stateDir(context.statePath), 'ddns.lock'), 'homeops ddns run')
    } catch (error) {
      if (error instanceof LockedError) {
        context.logger.warn('ddns pass skipped: another ddns run holds the lock', {pid: error.holderPid})
        return undefined
      }
      throw error
    }
    try {
      return await runPass(context, {...options.pass, ...extra, signal})
    } finally {
      lock.release()
    }
  }

  function account(report: DdnsRunReport): void {
    for (const d of report.detection) if (d.ip) currentIps[d.family] = d.ip
    for (const r of report.records) {
      if (r.action === 'sent') {
        metrics.updates.inc({record: r.record, family: r.family, result: r.result})
        if (r.exitCode === 0) {
          updates.ok++
          metrics.lastSuccess.set(Date.now() / 1000, {record: r.record, family: r.family})
        } else updates.failed++
      } else if (r.result === 'detection-failed') updates.failed++
      else updates.skipped++
    }
  }

  function metricsLine(context: Context): void {
    context.logger.info('ddns metrics', {
      uptime: formatDuration(Date.now() - startedAt!.getTime()),
      checks,
      updatesOk: updates.ok,
      updatesFailed: updates.failed,
      updatesSkipped: updates.skipped,
      ipv4: currentIps.ipv4 ?? '-',
      ipv6: currentIps.ipv6 ?? (context.config.ddns.ipv6 ? '-' : 'off'),
    })
  }

  async function run(rt: ModeRuntime, signal: AbortSignal): Promise<void> {
    const {context} = rt
    const every = options.metricsEvery ?? 10
    while (!signal.aborted) {
      let report: DdnsRunReport | undefined
      const at = new Date()
      try {
        report = await onePass(rt, signal)
        checks++
        if (report) {
          account(report)
          const result =
            report.exitCode === 0
              ? 'ok'
              : report.exitCode === 4
                ? 'fatal'
                : report.exitCode === 3
                  ? 'transient'
                  : 'failed'
          metrics.checks.inc({result})
          lastPass = {at: at.toISOString(), exitCode: report.exitCode, durationMs: report.durationMs, error: null}
        } else metrics.checks.inc({result: 'locked'})
        lastError = undefined
      } catch (error) {
        checks++
        lastError = errorMessage(error)
        metrics.checks.inc({result: 'error'})
        lastPass = {at: at.toISOString(), exitCode: 1, durationMs: Date.now() - at.getTime(), error: lastError}
        context.logger.error('ddns pass failed', {error: lastError})
      }
      const done = waiters
      waiters = []
      for (const w of done) w(report)
      if (checks % every === 0) metricsLine(context)
      if (signal.aborted) break
      nextCheckAt = new Date(Date.now() + intervalMs(context))
      await sleep(intervalMs(context), signal)
    }
    nextCheckAt = undefined
  }

  return {
    name: 'ddns',

    routes(router: Router) {
      router.get('/status', async () => {
        if (!runtime) return {status: 503, json: {error: 'ddns mode not started'}}
        return {status: 200, json: await status(runtime.context)}
      })
      router.get('/history', async (request) => {
        if (!runtime) return {status: 503, json: {error: 'ddns mode not started'}}
        const limit = request.query.get('limit')
        return {status: 200, json: await history(runtime.context, limit ? Number(limit) : 50)}
      })
      // The web page's "Retry" / "Send now" of one record: `force` clears a block (badauth…) as
      // `homeops ddns update --force` does. serve.apiKey, or this machine only when none is set.
      router.post(
        '/update',
        async (request) => {
          if (!runtime) return {status: 503, json: {error: 'ddns mode not started'}}
          const body = (await request.json()) as {record?: unknown; force?: unknown} | null
          const record = typeof body?.record === 'string' && body.record ? body.record.slice(0, 253) : undefined
          const report = await onePass(runtime, runtime.signal, {
            force: body?.force === true,
            ...(record ? {records: [record]} : {}),
          })
          if (!report) return {status: 423, json: {error: 'locked', message: 'another ddns run holds the lock'}}
          account(report)
          return {
            status: 200,
            json: {
              exitCode: report.exitCode,
              records: report.records.map((r) => ({
                record: r.record,
                family: r.family,
                action: r.action,
                result: r.result,
                message: r.message,
              })),
            },
          }
        },
        {access: {apiKey: () => runtime?.context.config.serve.apiKey}, bodyLimit: 4 * 1024},
      )
    },

    async start(given: ModeRuntime) {
      const {checkDdnsConfig, withDdnsLogLevel} = await import('./updater.js')
      const rt = {...given, context: withDdnsLogLevel(given.context, options.explicitLogLevel ?? false)}
      const {records} = checkDdnsConfig(rt.context.config.ddns)
      if (records.length === 0) {
        const {UserError} = await import('../errors.js')
        throw new UserError('ddns mode has no records to keep up to date', {
          hint: 'set INFOMANIAK_DDNS_HOSTNAME/USERNAME/PASSWORD, or add ddns.records to the config file',
        })
      }
      await rt.context.state()
      runtime = rt
      metrics = {
        updates: rt.metrics.counter(
          'homeops_ddns_updates_total',
          'DDNS update requests sent, by record, family and result',
        ),
        checks: rt.metrics.counter('homeops_ddns_checks_total', 'DDNS passes (detect + update), by outcome'),
        lastSuccess: rt.metrics.gauge(
          'homeops_ddns_last_success_timestamp_seconds',
          'Unix time of the last update the provider accepted, by record and family',
        ),
      }
      const initial = await status(rt.context)
      for (const r of initial.records) {
        if (r.lastSuccessAt)
          metrics.lastSuccess.set(Date.parse(r.lastSuccessAt) / 1000, {record: r.record, family: r.family})
      }
      stopper = new AbortController()
      const signal = AbortSignal.any([rt.signal, stopper.signal])
      startedAt = new Date()
      rt.context.logger.info('ddns loop started', {
        records: records.map((r) => r.name).join(','),
        intervalSeconds: intervalMs(rt.context) / 1000,
      })
      loop = run(rt, signal).catch((error: unknown) => rt.crashed(error))
    },

    async stop() {
      stopper?.abort()
      await loop
      const done = waiters
      waiters = []
      for (const w of done) w(undefined)
      loop = undefined
    },

    health(): ModeHealth {
      if (!loop) return {up: false, detail: 'not running'}
      if (lastError) return {up: false, detail: `last pass failed: ${lastError}`}
      if (lastPass && lastPass.exitCode !== 0) return {up: true, detail: `last pass exited ${lastPass.exitCode}`}
      return {up: true}
    },

    async snapshot() {
      if (!runtime) return {running: false}
      return {...(await status(runtime.context)), history: (await history(runtime.context, 20)).entries}
    },

    passed() {
      return new Promise((resolve) => waiters.push(resolve))
    },
  }
}

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000)
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  if (d > 0) return `${d}d${h}h`
  if (h > 0) return `${h}h${m}m`
  if (m > 0) return `${m}m${s % 60}s`
  return `${s}s`
}
