import type {Context} from '../context.js'
import {ExitCode, LockedError, errorMessage} from '../errors.js'
import {HttpError, type Router, json} from '../http/router.js'
import {redact} from '../log/redact.js'
import type {ModeHealth, ModeRuntime, ServiceMode} from '../serve/mode.js'
import {withDeadline} from '../time/deadline.js'
import {type Periodic, periodic} from '../time/scheduler.js'
import type {ReconcileReport} from './reconcile-report.js'
import type {SwarmStatus} from './status.js'

/** How long `POST /reconcile` waits for the run before answering 202 (the HTTP server cuts at 30 s). */
const WAIT_FOR_RUN_MS = 25_000

export interface SwarmModeOptions {
  /** First reconcile this long after start (default 2 s): lets `serve` finish starting. */
  initialDelayMs?: number
}

export interface SwarmModeStatus extends SwarmStatus {
  reconcile: {
    running: boolean
    intervalSeconds: number
    lastStartedAt: string | null
    lastFinishedAt: string | null
    lastDurationSeconds: number | null
    lastExitCode: number | null
    lastError: string | null
    nextAt: string | null
  }
}

/**
 * The swarm part of `homeops serve`: one reconcile every
 * `swarm.reconcileIntervalSeconds` (skipped, with a warning, while a cron run
 * holds the lock), `GET /status` (what `swarm status --json` prints, plus the
 * schedule) and `POST /reconcile` (run one now; 409 while one runs).
 */
export function createSwarmMode(options: SwarmModeOptions = {}): ServiceMode {
  let runtime: ModeRuntime | undefined
  let scheduler: Periodic | undefined
  let running: Promise<ReconcileReport | undefined> | undefined
  let stopping = false
  const last = {
    startedAt: null as string | null,
    finishedAt: null as string | null,
    durationSeconds: null as number | null,
    exitCode: null as number | null,
    error: null as string | null,
  }
  let counts = new Map<string, number>()

  const context = (): Context => {
    if (!runtime) throw new HttpError(503, {error: 'starting', message: 'the swarm mode is starting'})
    return runtime.context
  }

  async function refreshCounts(): Promise<void> {
    const {SwarmStore} = await import('./store.js')
    const store = new SwarmStore(await context().state())
    const next = new Map<string, number>()
    for (const status of ['deployed', 'failed', 'deploying', 'removed', 'stopped']) next.set(status, 0)
    for (const stack of store.stacks()) next.set(stack.status, (next.get(stack.status) ?? 0) + 1)
    counts = next
  }

  async function runOnce(reason: string): Promise<ReconcileReport | undefined> {
    const ctx = context()
    const started = Date.now()
    last.startedAt = new Date(started).toISOString()
    ctx.logger.info('swarm reconcile started', {reason})
    let lock: {release(): void} | undefined
    try {
      lock = await ctx.lock('swarm')
      const [{openSwarm}, {reconcile}] = await Promise.all([import('./env.js'), import('./reconcile.js')])
      // A long-running process reports its steps as log lines (openSwarm's default), never a task list.
      const report = await reconcile(await openSwarm(ctx), {})
      last.exitCode = report.exitCode
      last.error = report.exitCode === 0 ? null : summarise(report)
      return report
    } catch (error) {
      last.error = redact(errorMessage(error))
      last.exitCode = error instanceof LockedError ? ExitCode.locked : ExitCode.failure
      if (error instanceof LockedError)
        ctx.logger.warn('swarm reconcile skipped: another run holds the lock', {error: last.error})
      else ctx.logger.error('swarm reconcile failed', {error: last.error})
      return undefined
    } finally {
      lock?.release()
      last.finishedAt = new Date().toISOString()
      last.durationSeconds = (Date.now() - started) / 1000
      runtime?.metrics
        .gauge('homeops_swarm_last_reconcile_duration_seconds', 'Duration of the last swarm reconcile')
        .set(last.durationSeconds)
      await refreshCounts().catch(() => {})
      ctx.logger.info('swarm reconcile finished', {exitCode: last.exitCode, seconds: last.durationSeconds.toFixed(1)})
    }
  }

  /** The run in the shared activity history, finished when it ends (also after a 202 answer). */
  async function noteInActivity(run: Promise<ReconcileReport | undefined>, by: string): Promise<void> {
    const {ActivityLog} = await import('../activity/log.js')
    const record = new ActivityLog(await context().state()).begin('reconcile', 'every watched repository', by)
    const report = await run
    if (report) record.finish(report.exitCode === 0, reconcileSummary(report))
    else if (last.exitCode === ExitCode.locked) record.skip(last.error ?? 'another run holds the lock')
    else record.finish(false, last.error ?? 'failed')
  }

  function trigger(reason: string): Promise<ReconcileReport | undefined> {
    running ??= runOnce(reason).finally(() => {
      running = undefined
    })
    return running
  }

  function schedule(delayMs: number): void {
    if (stopping || !runtime) return
    scheduler = periodic({
      run: () => trigger('interval'),
      nextDelayMs: () => runtime!.context.config.swarm.reconcileIntervalSeconds * 1000,
    })
    void scheduler.start(delayMs)
  }

  async function status(): Promise<SwarmModeStatus> {
    const {swarmStatus} = await import('./status.js')
    const base = await swarmStatus(context())
    return {
      ...base,
      reconcile: {
        running: running !== undefined,
        intervalSeconds: context().config.swarm.reconcileIntervalSeconds,
        lastStartedAt: last.startedAt,
        lastFinishedAt: last.finishedAt,
        lastDurationSeconds: last.durationSeconds,
        lastExitCode: last.exitCode,
        lastError: last.error,
        nextAt: scheduler?.nextAt?.toISOString() ?? null,
      },
    }
  }

  return {
    name: 'swarm',
    routes(router: Router) {
      router.get('/status', async () => json(await status()))
      router.post('/reconcile', async (request) => {
        if (running) throw new HttpError(409, {error: 'busy', message: 'a reconcile is already running'})
        const run = trigger('requested over HTTP')
        void noteInActivity(run, `Swarm page or API (${request.remoteAddress})`).catch(() => {})
        const outcome = await withDeadline(
          run.then((report) => ({report})),
          WAIT_FOR_RUN_MS,
          () => undefined,
          {unref: true},
        )
        if (!outcome) return json({running: true, message: 'still running; see GET /status'}, 202)
        if (!outcome.report) {
          const status = last.exitCode === ExitCode.locked ? 409 : 500
          throw new HttpError(status, {error: status === 409 ? 'locked' : 'failed', message: last.error ?? 'failed'})
        }
        return json(outcome.report)
      })
    },
    async start(rt: ModeRuntime) {
      runtime = rt
      stopping = false
      rt.metrics.collectedGauge('homeops_swarm_stacks', 'Stacks managed by homeops, by status', () =>
        [...counts].map(([status, value]) => ({labels: {status}, value})),
      )
      rt.metrics.gauge('homeops_swarm_last_reconcile_duration_seconds', 'Duration of the last swarm reconcile')
      await refreshCounts()
      schedule(options.initialDelayMs ?? 2000)
    },
    async stop() {
      stopping = true
      scheduler?.stop()
      scheduler = undefined
      // The reconcile itself watches the context signal (aborted on SIGTERM); wait for it to wind down.
      if (running) await running.catch(() => undefined)
    },
    health(): ModeHealth {
      if (last.exitCode === null || last.exitCode === 0) return {up: true}
      return {up: true, detail: `last reconcile: ${last.error ?? `exit ${last.exitCode}`}`}
    },
    async snapshot() {
      return status()
    },
  }
}

/** One line for the shared activity history: what the run did, or what failed. */
function reconcileSummary(report: ReconcileReport): string {
  if (report.exitCode !== 0) return summarise(report)
  const count = (outcome: string) => report.stacks.filter((s) => s.outcome === outcome).length
  return `${count('deployed')} deployed, ${count('removed')} removed, ${count('unchanged') + count('drifted')} unchanged`
}

function summarise(report: ReconcileReport): string {
  const failed = report.stacks.filter((s) => s.outcome === 'failed').map((s) => `${s.stack}: ${s.error ?? s.reason}`)
  const repos = report.repositories.filter((r) => r.result !== 'ok').map((r) => `${r.name}: ${r.error ?? r.result}`)
  return [...repos, ...failed].join('; ') || `exit ${report.exitCode}`
}
