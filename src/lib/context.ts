import type {HomeopsConfig} from './config/root-schema.js'
import type {DockerConnection} from './docker/client.js'
import type {Logger} from './log/logger.js'
import type {Database} from './state/database.js'
import type {Lock} from './state/lock.js'
import type {Terminal} from './ui/terminal.js'

/**
 * What a command hands to library code: loaded config, logger, terminal, and
 * lazy access to the state database, Docker and locks. Built by the command
 * base class; tests build it with `createContext` directly.
 */
export interface Context {
  readonly config: HomeopsConfig
  readonly configFile?: string
  readonly logger: Logger
  readonly terminal: Terminal
  readonly statePath: string
  readonly version: string
  /** Aborted on SIGINT/SIGTERM so long-running work can drain. */
  readonly signal: AbortSignal
  state(): Promise<Database>
  /** The one Docker client (dockerode, loaded on first use), pinged: an unreachable daemon is reported up front. */
  docker(): Promise<DockerConnection>
  /** Exclusive lock for a mutating command; released when the command ends. */
  lock(scope: string): Promise<Lock>
  /** Registers cleanup to run when the command ends (LIFO). */
  onClose(cleanup: () => void | Promise<void>): void
  close(): Promise<void>
}

export interface ContextOptions {
  config: HomeopsConfig
  configFile?: string
  logger: Logger
  terminal: Terminal
  version: string
  env?: NodeJS.ProcessEnv
  /** `--docker-host`; wins over config and `DOCKER_HOST`. */
  dockerHost?: string
  signal?: AbortSignal
}

export async function createContext(options: ContextOptions): Promise<Context> {
  const {defaultStatePath} = await import('./paths.js')
  const statePath = options.config.state.path ?? defaultStatePath(options.env ?? process.env)
  const cleanups: (() => void | Promise<void>)[] = []
  let state: Promise<Database> | undefined
  let docker: Promise<DockerConnection> | undefined
  const dockerHost = options.dockerHost ?? options.config.docker.host
  const dockerTimeoutMs = options.config.docker.timeoutSeconds * 1000

  const context: Context = {
    config: options.config,
    configFile: options.configFile,
    logger: options.logger,
    terminal: options.terminal,
    statePath,
    version: options.version,
    signal: options.signal ?? new AbortController().signal,
    state() {
      state ??= (async () => {
        const [{openState}, {allMigrations}] = await Promise.all([
          import('./state/database.js'),
          import('./state/registry.js'),
        ])
        const db = await openState({
          path: statePath,
          migrations: allMigrations,
          onWarning: (message, fields) => options.logger.warn(message, fields),
        })
        cleanups.push(() => {
          db.close()
        })
        return db
      })()
      return state
    },
    // A failed connection is not kept: under `serve` a mode restarting after an outage must try again.
    docker() {
      docker ??= import('./docker/client.js')
        .then(({connectDocker}) => connectDocker(dockerHost, {timeoutMs: dockerTimeoutMs, env: options.env}))
        .catch((error: unknown) => {
          docker = undefined
          throw error
        })
      return docker
    },
    async lock(scope) {
      const [{acquireLock}, {stateDir}, {ensureStateDirectory}, path] = await Promise.all([
        import('./state/lock.js'),
        import('./paths.js'),
        import('./state/directory.js'),
        import('node:path'),
      ])
      const dir = stateDir(statePath)
      ensureStateDirectory(dir)
      const held = acquireLock(path.join(dir, `${scope}.lock`), `homeops ${scope} run`)
      // Released early (a serve loop locks at every pass), its cleanup goes too: the list must not grow per pass.
      const cleanup = () => held.release()
      cleanups.push(cleanup)
      return {
        path: held.path,
        release() {
          const at = cleanups.indexOf(cleanup)
          if (at >= 0) cleanups.splice(at, 1)
          held.release()
        },
      }
    },
    onClose(cleanup) {
      cleanups.push(cleanup)
    },
    async close() {
      while (cleanups.length > 0) {
        const cleanup = cleanups.pop()!
        try {
          await cleanup()
        } catch (error) {
          options.logger.debug('cleanup failed', {error: String(error)})
        }
      }
    },
  }
  return context
}
