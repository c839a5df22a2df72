import type {HomeopsConfig} from '../config/root-schema.js'
import type {Context} from '../context.js'
import {errorMessage} from '../errors.js'
import type {Logger} from '../log/logger.js'
import type {Counter, MetricsRegistry} from '../metrics/registry.js'
import {withDeadline} from '../time/deadline.js'
import type {ModeHealth, ModeRuntime, ServiceMode} from './mode.js'

/**
 * Where a supervised mode is:
 * - `starting`: `start()` is running;
 * - `up`: started and not crashed (its own `health()` may still say it is degraded);
 * - `backoff`: failed to start or crashed; stopped and waiting to be restarted;
 * - `unavailable`: its module could not be loaded (no restart: a new process is needed);
 * - `stopping` / `stopped`: shutdown or reload.
 */
export type ModeState = 'starting' | 'up' | 'backoff' | 'unavailable' | 'stopping' | 'stopped'

export interface ModeStatus {
  name: string
  state: ModeState
  /** Started and its `health()` says up. */
  up: boolean
  /** The mode's own health detail, or why it is down. */
  detail?: string
  /** When the mode entered this state (ISO time). */
  since: string
  /** Restarts after a failure since serve started. */
  restarts: number
  /** Consecutive failed attempts (reset once the mode stays up). */
  failures: number
  lastError?: string
  /** When the next start attempt is due (state `backoff`). */
  nextAttemptAt?: string
}

export interface BackoffOptions {
  /** First restart delay. */
  initialMs: number
  /** Cap of the doubling delay. */
  maxMs: number
  /** A mode that stayed up this long starts again from `initialMs` after its next crash. */
  resetAfterMs: number
}

export const DEFAULT_BACKOFF: BackoffOptions = {initialMs: 1000, maxMs: 60_000, resetAfterMs: 60_000}

export interface SupervisorOptions {
  /** The command's context; each mode gets a derived one (its config, logger and signal). */
  context: Context
  metrics: MetricsRegistry
  logger: Logger
  backoff?: Partial<BackoffOptions>
  /** A `start()` that has not settled after this long counts as failed (default 30 s). */
  startTimeoutMs?: number
  /** Called after every state change (systemd STATUS=, tests). */
  onChange?: () => void
}

interface Entry {
  name: string
  mode?: ServiceMode
  loadError?: string
  config: HomeopsConfig
  state: ModeState
  since: number
  upSince?: number
  failures: number
  restarts: number
  lastError?: string
  /** Last error message logged at error level, so a repeating failure is logged once. */
  loggedError?: string
  nextAttemptAt?: number
  timer?: NodeJS.Timeout
  controller?: AbortController
  /** Incremented per attempt: a crash report from an older attempt is ignored. */
  generation: number
  /** `stop()` of the previous attempt; the next start waits for it. */
  stopping?: Promise<void>
}

/**
 * Runs modes side by side, each isolated: a mode that fails to start or
 * reports a crash is marked down, stopped, and started again after an
 * exponential backoff (1 s, 2 s, 4 s … capped at 60 s); the others are not
 * touched. Each transition is logged once (a failure repeating with the same
 * message is logged at debug level).
 */
export class ModeSupervisor {
  private readonly entries = new Map<string, Entry>()
  private readonly backoff: BackoffOptions
  private readonly startTimeoutMs: number
  private readonly restartCounter: Counter
  private shuttingDown = false

  constructor(private readonly options: SupervisorOptions) {
    this.backoff = {...DEFAULT_BACKOFF, ...options.backoff}
    this.startTimeoutMs = options.startTimeoutMs ?? 30_000
    this.restartCounter = options.metrics.counter(
      'homeops_mode_restarts_total',
      'Restarts of a mode after it failed to start or crashed',
    )
    options.metrics.collectedGauge('homeops_mode_up', 'Whether a mode is started and healthy (1) or down (0)', () =>
      this.status().map((s) => ({labels: {mode: s.name}, value: s.up ? 1 : 0})),
    )
  }

  /** Registers a mode (or the reason its module could not be loaded); `start()` starts it. */
  add(name: string, mode: ServiceMode | {loadError: string}, config: HomeopsConfig): void {
    if (this.entries.has(name)) throw new Error(`mode ${name} is already supervised`)
    const entry: Entry = {
      name,
      config,
      state: 'stopped',
      since: Date.now(),
      failures: 0,
      restarts: 0,
      generation: 0,
    }
    if ('loadError' in mode) {
      entry.state = 'unavailable'
      entry.loadError = mode.loadError
      entry.lastError = mode.loadError
      this.options.logger.error('mode unavailable', {mode: name, error: mode.loadError})
    } else {
      entry.mode = mode
    }
    this.restartCounter.inc({mode: name}, 0)
    this.entries.set(name, entry)
  }

  has(name: string): boolean {
    return this.entries.has(name)
  }

  names(): string[] {
    return [...this.entries.keys()]
  }

  mode(name: string): ServiceMode | undefined {
    return this.entries.get(name)?.mode
  }

  /** Starts every registered mode in parallel; resolves when each first attempt has settled. */
  async startAll(): Promise<void> {
    await Promise.all([...this.entries.values()].map((entry) => this.attempt(entry)))
  }

  /** Starts one registered mode (after `add`, or again after `stop`). */
  async start(name: string): Promise<void> {
    const entry = this.entries.get(name)
    if (entry) await this.attempt(entry)
  }

  /** Stops one mode and starts it again with `config` (SIGHUP with a changed section). */
  async restart(name: string, config: HomeopsConfig, budgetMs = 5000): Promise<void> {
    const entry = this.entries.get(name)
    if (!entry) return
    entry.config = config
    if (entry.state === 'unavailable') return
    await this.stopEntry(entry, budgetMs)
    entry.failures = 0
    entry.loggedError = undefined
    this.options.logger.info('mode restarting with the new configuration', {mode: name})
    await this.attempt(entry)
  }

  /** Stops one mode and forgets it (disabled on reload). */
  async remove(name: string, budgetMs = 5000): Promise<void> {
    const entry = this.entries.get(name)
    if (!entry) return
    await this.stopEntry(entry, budgetMs)
    this.entries.delete(name)
    this.options.logger.info('mode stopped: disabled in the configuration', {mode: name})
    this.options.onChange?.()
  }

  /**
   * Stops every mode in parallel within `budgetMs`; returns the names of the
   * modes whose `stop()` had not finished by then.
   */
  async stopAll(budgetMs = 5000): Promise<string[]> {
    this.shuttingDown = true
    const late: string[] = []
    await Promise.all(
      [...this.entries.values()].map(async (entry) => {
        if (!(await this.stopEntry(entry, budgetMs))) late.push(entry.name)
      }),
    )
    return late.sort()
  }

  status(): ModeStatus[] {
    return [...this.entries.values()].map((entry) => this.entryStatus(entry))
  }

  get(name: string): ModeStatus | undefined {
    const entry = this.entries.get(name)
    return entry && this.entryStatus(entry)
  }

  /** Whether the mode's routes may serve requests. */
  routable(name: string): boolean {
    return this.entries.get(name)?.state === 'up'
  }

  allUp(): boolean {
    return this.status().every((s) => s.up)
  }

  private entryStatus(entry: Entry): ModeStatus {
    let up = false
    let detail: string | undefined
    if (entry.state === 'up' && entry.mode) {
      const health = safeHealth(entry.mode)
      up = health.up
      detail = health.detail
    } else if (entry.state === 'backoff') {
      const seconds = entry.nextAttemptAt ? Math.max(0, Math.ceil((entry.nextAttemptAt - Date.now()) / 1000)) : 0
      detail = `${entry.lastError ?? 'failed'}; next attempt in ${seconds} s`
    } else if (entry.state === 'unavailable') {
      detail = entry.loadError
    } else {
      detail = entry.state
    }
    return {
      name: entry.name,
      state: entry.state,
      up,
      ...(detail === undefined ? {} : {detail}),
      since: new Date(entry.since).toISOString(),
      restarts: entry.restarts,
      failures: entry.failures,
      ...(entry.lastError === undefined ? {} : {lastError: entry.lastError}),
      ...(entry.state === 'backoff' && entry.nextAttemptAt
        ? {nextAttemptAt: new Date(entry.nextAttemptAt).toISOString()}
        : {}),
    }
  }

  private setState(entry: Entry, state: ModeState): void {
    if (entry.state === state) return
    entry.state = state
    entry.since = Date.now()
    this.options.onChange?.()
  }

  private async attempt(entry: Entry): Promise<void> {
    const mode = entry.mode
    if (!mode || this.shuttingDown) return
    if (entry.state === 'starting' || entry.state === 'up') return
    clearTimeout(entry.timer)
    entry.timer = undefined
    if (entry.stopping) await entry.stopping
    if (this.shuttingDown) return

    const generation = ++entry.generation
    const controller = new AbortController()
    entry.controller = controller
    const baseSignal = this.options.context.signal
    const onAbort = () => controller.abort()
    if (baseSignal.aborted) controller.abort()
    else baseSignal.addEventListener('abort', onAbort, {once: true})
    controller.signal.addEventListener('abort', () => baseSignal.removeEventListener('abort', onAbort), {once: true})

    const logger = this.options.logger.child({mode: entry.name})
    let crashedDuringStart: Error | undefined
    let starting = true
    const runtime: ModeRuntime = {
      context: modeContext(this.options.context, entry.config, logger, controller.signal),
      metrics: this.options.metrics,
      signal: controller.signal,
      crashed: (error) => {
        if (generation !== entry.generation || this.shuttingDown) return
        if (starting) {
          crashedDuringStart ??=
            error instanceof Error ? error : new Error(error === undefined ? 'crashed' : errorMessage(error))
          return
        }
        if (entry.state === 'up') this.fail(entry, generation, error, 'crashed')
      },
    }

    this.setState(entry, 'starting')
    try {
      await withDeadline(
        Promise.resolve().then(() => mode.start(runtime)),
        this.startTimeoutMs,
        () => {
          throw new Error(`did not start within ${this.startTimeoutMs / 1000} s`)
        },
      )
      if (crashedDuringStart !== undefined) throw crashedDuringStart
    } catch (error) {
      starting = false
      if (generation === entry.generation && !this.shuttingDown) this.fail(entry, generation, error, 'failed to start')
      return
    }
    starting = false
    if (generation !== entry.generation || this.shuttingDown) return
    entry.upSince = Date.now()
    this.setState(entry, 'up')
    if (entry.failures > 0) {
      logger.info('mode recovered', {attempts: entry.failures + 1})
    } else {
      logger.info('mode started')
    }
    entry.loggedError = undefined
  }

  private fail(entry: Entry, generation: number, error: unknown, what: 'failed to start' | 'crashed'): void {
    if (generation !== entry.generation) return
    const message = errorMessage(error)
    const stayedUp = entry.state === 'up' && entry.upSince !== undefined && Date.now() - entry.upSince
    if (typeof stayedUp === 'number' && stayedUp >= this.backoff.resetAfterMs) entry.failures = 0
    const delay = Math.min(this.backoff.initialMs * 2 ** entry.failures, this.backoff.maxMs)
    entry.failures++
    entry.lastError = message
    entry.upSince = undefined
    entry.nextAttemptAt = Date.now() + delay
    entry.generation++ // reports from the failed attempt no longer count
    const logger = this.options.logger.child({mode: entry.name})
    const fields = {error: message, retryInSeconds: Math.round(delay / 100) / 10}
    if (entry.loggedError === message) logger.debug(`mode ${what} again`, {...fields, attempt: entry.failures})
    else logger.error(`mode ${what}`, fields)
    entry.loggedError = message

    const controller = entry.controller
    entry.controller = undefined
    controller?.abort()
    const mode = entry.mode!
    entry.stopping = withTimeout(
      Promise.resolve().then(() => mode.stop()),
      5000,
    )
      .then((done) => {
        if (!done) logger.warn('mode did not stop within 5 s after failing')
      })
      .catch((stopError: unknown) => logger.debug('stopping the failed mode failed', {error: errorMessage(stopError)}))
      .finally(() => {
        entry.stopping = undefined
      })
    this.setState(entry, 'backoff')
    entry.timer = setTimeout(() => {
      entry.timer = undefined
      if (this.shuttingDown || entry.state !== 'backoff') return
      entry.restarts++
      this.restartCounter.inc({mode: entry.name})
      logger.debug('restarting mode', {attempt: entry.failures + 1})
      void this.attempt(entry)
    }, delay)
    entry.timer.unref?.()
  }

  /** Stops a mode; resolves true when its `stop()` finished within the budget. */
  private async stopEntry(entry: Entry, budgetMs: number): Promise<boolean> {
    clearTimeout(entry.timer)
    entry.timer = undefined
    entry.generation++
    const controller = entry.controller
    entry.controller = undefined
    if (entry.state === 'unavailable') return true
    const wasRunning = entry.state === 'up' || entry.state === 'starting'
    this.setState(entry, 'stopping')
    controller?.abort()
    let ok = true
    if (entry.stopping) ok = await withTimeout(entry.stopping, budgetMs)
    if (wasRunning && entry.mode) {
      const mode = entry.mode
      try {
        ok =
          (await withTimeout(
            Promise.resolve().then(() => mode.stop()),
            budgetMs,
          )) && ok
      } catch (error) {
        this.options.logger.warn('mode stop failed', {mode: entry.name, error: errorMessage(error)})
      }
    }
    this.setState(entry, 'stopped')
    return ok
  }
}

function safeHealth(mode: ServiceMode): ModeHealth {
  try {
    const health = mode.health()
    return {up: Boolean(health?.up), ...(health?.detail ? {detail: String(health.detail)} : {})}
  } catch (error) {
    return {up: false, detail: `health check failed: ${errorMessage(error)}`}
  }
}

/** Resolves true when `promise` settles within `ms`, false otherwise (a rejection counts as settled). */
function withTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return withDeadline(
    promise.then(
      () => true,
      () => true,
    ),
    ms,
    () => false,
  )
}

/**
 * The context a mode receives: the shared state database, Docker client and
 * locks of the process, with the mode's own config snapshot, logger and signal.
 * `close()` is a no-op: the process owns the shared handles.
 */
export function modeContext(base: Context, config: HomeopsConfig, logger: Logger, signal: AbortSignal): Context {
  return {
    config,
    configFile: base.configFile,
    logger,
    terminal: base.terminal,
    statePath: base.statePath,
    version: base.version,
    signal,
    state: () => base.state(),
    docker: () => base.docker(),
    lock: (scope) => base.lock(scope),
    onClose: (cleanup) => base.onClose(cleanup),
    close: async () => {},
  }
}
