import type {Context} from '../context.js'
import {errorMessage} from '../errors.js'
import type {Router} from '../http/router.js'
import type {ModeHealth, ModeRuntime, ServiceMode} from '../serve/mode.js'
import {type Periodic, periodic} from '../time/scheduler.js'
import {type Clock, systemClock} from '../time/sleep.js'
import {lockedPass} from './locked-pass.js'
import {type DdnsMetrics, type LastPass, LoopTally, ddnsMetrics} from './loop-tally.js'
import {registerDdnsRoutes} from './routes.js'
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
  lastPass: LastPass | null
  records: RecordStatus[]
}

export interface DdnsModeOptions {
  /** Overrides `ddns.intervalSeconds` (tests). */
  intervalMs?: number
  /** Metrics line every this many checks (docs/architecture.md "ddns": 10). */
  metricsEvery?: number
  pass?: Omit<PassOptions, 'signal'>
  /** A `--log-level`/`--debug` flag was given: do not apply `ddns.logLevel`. */
  explicitLogLevel?: boolean
  /** Tests: the clock of the loop. */
  clock?: Clock
  /** Tests: one pass (default: `lockedPass`, the updater under the `ddns` lock). */
  runPass?: (context: Context, options: PassOptions) => Promise<DdnsRunReport | undefined>
}

/**
 * The ddns loop as a ServiceMode: a pass at start, then one every
 * `ddns.intervalSeconds` on the shared scheduler; each pass takes the `ddns`
 * lock (`locked-pass.ts`); the tally of passes is `loop-tally.ts`, the routes
 * `routes.ts`. Everything that matters between passes lives in the state database.
 */
export function createDdnsMode(options: DdnsModeOptions = {}): ServiceMode & {
  /** Resolves after the next pass finishes (tests, `serve` startup). */
  passed(): Promise<DdnsRunReport | undefined>
} {
  const clock = options.clock ?? systemClock
  const runPass = options.runPass ?? lockedPass
  const tally = new LoopTally(() => clock.now())
  let runtime: ModeRuntime | undefined
  let stopper: AbortController | undefined
  let schedule: Periodic<void> | undefined
  let nextCheckAt: Date | undefined
  let waiters: ((report: DdnsRunReport | undefined) => void)[] = []

  const intervalMs = (context: Context) => options.intervalMs ?? context.config.ddns.intervalSeconds * 1000

  const status = async (context: Context): Promise<DdnsModeStatus> => {
    const {ddnsStatus} = await import('./status.js')
    const {records} = await ddnsStatus(context)
    return {
      running: schedule !== undefined && !stopper?.signal.aborted,
      startedAt: tally.startedAt?.toISOString() ?? null,
      uptimeSeconds: Math.round(tally.uptimeMs() / 1000),
      intervalSeconds: intervalMs(context) / 1000,
      checks: tally.checks,
      updates: {...tally.updates},
      nextCheckAt: nextCheckAt?.toISOString() ?? null,
      currentIps: {...tally.currentIps},
      lastPass: tally.lastPass,
      records,
    }
  }
  const history = async (context: Context, limit: number): Promise<DdnsHistoryReport> => {
    const {ddnsHistory} = await import('./status.js')
    return ddnsHistory(context, {limit})
  }

  const wake = (report: DdnsRunReport | undefined) => {
    const done = waiters
    waiters = []
    for (const w of done) w(report)
  }

  /** One pass of the loop: run, count, tell who waits, log the metrics line every N checks. */
  async function tick(context: Context, signal: AbortSignal): Promise<void> {
    const at = new Date(clock.now())
    let report: DdnsRunReport | undefined
    try {
      report = await runPass(context, {...options.pass, signal})
      tally.passed(report, at)
    } catch (error) {
      const message = errorMessage(error)
      tally.failed(message, at)
      context.logger.error('ddns pass failed', {error: message})
    }
    wake(report)
    tally.logEvery(options.metricsEvery ?? 10, context.logger, context.config.ddns.ipv6)
  }

  async function seedMetrics(context: Context, metrics: DdnsMetrics): Promise<void> {
    for (const r of (await status(context)).records) {
      if (r.lastSuccessAt)
        metrics.lastSuccess.set(Date.parse(r.lastSuccessAt) / 1000, {record: r.record, family: r.family})
    }
  }

  return {
    name: 'ddns',

    routes(router: Router) {
      registerDdnsRoutes(router, {
        current: () => runtime?.context,
        status,
        history,
        async passNow(extra) {
          const rt = runtime!
          const report = await runPass(rt.context, {...options.pass, ...extra, signal: rt.signal})
          if (report) tally.account(report)
          return report
        },
      })
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
      const metrics = ddnsMetrics(rt.metrics)
      await seedMetrics(rt.context, metrics)
      stopper = new AbortController()
      const signal = AbortSignal.any([rt.signal, stopper.signal])
      tally.started(metrics)
      rt.context.logger.info('ddns loop started', {
        records: records.map((r) => r.name).join(','),
        intervalSeconds: intervalMs(rt.context) / 1000,
      })
      const loop: Periodic<void> = periodic({
        run: () =>
          tick(rt.context, signal).catch((error: unknown) => {
            loop.stop()
            rt.crashed(error)
          }),
        nextDelayMs: () => {
          const ms = intervalMs(rt.context)
          nextCheckAt = new Date(clock.now() + ms)
          return ms
        },
        clock,
        signal,
        // `ddns serve` without --listen has nothing else keeping the process alive between passes.
        unref: false,
      })
      schedule = loop
      await loop.start(0)
    },

    async stop() {
      stopper?.abort()
      schedule?.stop()
      await schedule?.idle()
      nextCheckAt = undefined
      wake(undefined)
      schedule = undefined
    },

    health(): ModeHealth {
      if (!schedule) return {up: false, detail: 'not running'}
      if (tally.lastError) return {up: false, detail: `last pass failed: ${tally.lastError}`}
      const last = tally.lastPass
      if (last && last.exitCode !== 0) return {up: true, detail: `last pass exited ${last.exitCode}`}
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
