import type {Mode} from '../config/root-schema.js'
import type {Context} from '../context.js'
import type {Router} from '../http/router.js'
import type {MetricsRegistry} from '../metrics/registry.js'

/**
 * A long-running mode (ddns loop, images scheduler, monitor API, dns server,
 * swarm interval). The same object runs standalone (`homeops dns serve`) and
 * inside `homeops serve`, which starts every enabled mode, isolates failures
 * (restart with backoff) and shares one HTTP server.
 */
export interface ServiceMode {
  readonly name: Mode
  /**
   * HTTP routes, registered before the server listens. Paths are relative to
   * the mode: standalone they are served at `/`, in `homeops serve` under `/<mode>`.
   */
  routes?(router: Router): void
  /** Starts background work; resolves once running. Throwing means "failed to start". */
  start(runtime: ModeRuntime): Promise<void>
  /** Finishes or aborts in-flight work, within the caller's grace period. */
  stop(): Promise<void>
  health(): ModeHealth
  /** Plain data for the web UI's section (JSON-serialisable). */
  snapshot?(): Promise<unknown>
}

export interface ModeRuntime {
  context: Context
  metrics: MetricsRegistry
  /** Aborted when the process is stopping. */
  signal: AbortSignal
  /** Reports a crash after start; `serve` marks the mode down and restarts it with backoff. */
  crashed(error: unknown): void
}

export interface ModeHealth {
  up: boolean
  detail?: string
}
