import {access} from 'node:fs/promises'
import {join} from 'node:path'

import {type HomeopsConfig, type Mode} from '../config/root-schema.js'
import type {Context} from '../context.js'
import {errorMessage} from '../errors.js'
import {type AccessPolicy, enforceAccess, parseAllowList, writeAccess} from '../http/access.js'
import {configuredHosts} from '../http/access-config.js'
import {parseListen} from '../http/address.js'
import {
  type Handler,
  type HttpRequest,
  HttpError,
  type RouteMatch,
  type RouteOptions,
  Router,
  json,
} from '../http/router.js'
import {type RunningHttpServer, startHttpServer} from '../http/server.js'
import {staticFiles, webRoot} from '../http/static-files.js'
import {DockerProbe, type DockerProbeResult} from '../docker/probe.js'
import {MetricsRegistry} from '../metrics/registry.js'
import type {Notifier} from '../systemd/notify.js'
import {registerProcessMetrics} from './metrics.js'
import type {ServiceMode} from './mode.js'
import {MODE_TABLE, type ModeLoader, loadMode} from './modes.js'
import {metricsResponse} from './standalone.js'
import {type BackoffOptions, ModeSupervisor, type ModeStatus} from './supervisor.js'

export interface ServeOptions {
  /** `--listen`; wins over `serve.listen`. */
  listen?: string
  /** `--mode`: run exactly these modes, enabled or not (default: every mode enabled in the config). */
  modes?: Mode[]
  /** Re-reads and validates the config file (SIGHUP). */
  reloadConfig?: () => HomeopsConfig
  /** systemd notifications (READY, STATUS, STOPPING, RELOADING, WATCHDOG). */
  notifier?: Notifier
  /** Access log (default: `serve.accessLog`, else on when stderr is not a terminal). */
  accessLog?: boolean
  /** Tests: replace the module table. */
  loadMode?: ModeLoader
  backoff?: Partial<BackoffOptions>
  startTimeoutMs?: number
  webRoot?: string
  /** Tests: how `/health` pings the Docker daemon (default: `context.docker()`'s ping). */
  dockerPing?: (timeoutMs: number) => Promise<void>
}

export interface ServeHandle {
  readonly url: string
  readonly supervisor: ModeSupervisor
  readonly metrics: MetricsRegistry
  /** SIGHUP: re-read the config; on error keep the running one. Resolves true when applied. */
  reload(): Promise<boolean>
  /** Stops accepting, stops every mode in parallel and closes the server, all within `budgetMs`. */
  stop(budgetMs?: number): Promise<ServeStopReport>
}

export interface ServeStopReport {
  /** Modes whose stop() did not finish within the budget. */
  late: string[]
  ms: number
}

export interface HealthReport {
  status: 'ok' | 'degraded'
  version: string
  uptimeSeconds: number
  modes: Record<string, Omit<ModeStatus, 'name'>>
  /** Present while a mode that needs Docker is enabled: whether the daemon answers a ping now. */
  docker?: DockerProbeResult
}

/** Modes that cannot work without the Docker daemon (dns only reads it when configured, and answers without it). */
const DOCKER_MODES: readonly Mode[] = ['monitor', 'images', 'swarm']

const SNAPSHOT_TIMEOUT_MS = 10_000

/**
 * `homeops serve`: one HTTP server (web UI, `/health`, `/metrics`, each mode's
 * routes under `/<mode>`) and every enabled mode, supervised.
 */
export async function startServe(context: Context, options: ServeOptions = {}): Promise<ServeHandle> {
  const logger = context.logger
  const startedAt = Date.now()
  let config = context.config
  const listen = parseListen(options.listen ?? config.serve.listen, options.listen ? '--listen' : 'serve.listen')
  const policy = accessPolicies(() => config)
  policy.check() // a bad allowedIps entry stops start-up with the key's name

  const metrics = new MetricsRegistry()
  const renderProcessMetrics = registerProcessMetrics(metrics, context.version, startedAt)
  const httpRequests = metrics.counter('homeops_http_requests_total', 'HTTP requests to mode APIs by mode and status')
  const httpDuration = metrics.histogram(
    'homeops_http_request_duration_seconds',
    'Time to answer HTTP requests to mode APIs',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  )
  const notifier = options.notifier
  const supervisor = new ModeSupervisor({
    context,
    metrics,
    logger,
    backoff: options.backoff,
    startTimeoutMs: options.startTimeoutMs,
    onChange: () => scheduleStatus(),
  })
  const load = options.loadMode ?? loadMode
  const root = options.webRoot ?? webRoot()
  const router = new ServeRouter()

  // The order of the page: containers, images, ddns, swarm, dns.
  const order = Object.keys(MODE_TABLE) as Mode[]
  const wanted = (cfg: HomeopsConfig): Mode[] =>
    order.filter((m) => (options.modes ? options.modes.includes(m) : cfg[m].enabled))
  const ordered = () =>
    supervisor.status().sort((a, b) => order.indexOf(a.name as Mode) - order.indexOf(b.name as Mode))

  async function addMode(name: Mode, cfg: HomeopsConfig): Promise<void> {
    let mode: ServiceMode
    try {
      mode = await load(name)
    } catch (error) {
      supervisor.add(name, {loadError: errorMessage(error)}, cfg)
      return
    }
    const modeRouter = new GuardedRouter((handler, method, options) => guard(name, mode, method, handler, options))
    try {
      mode.routes?.(modeRouter)
    } catch (error) {
      supervisor.add(name, {loadError: `registering its routes failed: ${errorMessage(error)}`}, cfg)
      return
    }
    // One synchronous step: from here on `/<name>/…` reaches this instance and no other.
    router.setMode(name, modeRouter)
    supervisor.add(name, mode, cfg)
  }

  async function removeMode(name: Mode): Promise<void> {
    await supervisor.remove(name)
    router.setMode(name, undefined)
  }

  function guard(name: Mode, mode: ServiceMode, method: string, handler: Handler, options?: RouteOptions): Handler {
    const write = method !== 'GET' && method !== 'HEAD'
    return async (request) => {
      const started = performance.now()
      let status = 500
      try {
        const shared = options?.tokenAuth ? policy.static : write ? policy.write : policy.read
        // The key that is configured decides first, so either key works and a 401 (not a 403) asks for one.
        const own = options?.access
        const order = own?.apiKey?.() !== undefined ? [own, shared] : [shared, own]
        for (const p of order) if (p) enforceAccess(p, request)
        // A route of an instance that was disabled (and perhaps replaced by a new one) never reaches it.
        if (supervisor.mode(name) !== mode)
          throw new HttpError(404, {error: 'not_found', reason: `mode ${name} is not enabled`})
        if (!supervisor.routable(name)) {
          const s = supervisor.get(name)!
          throw new HttpError(503, {error: 'mode_unavailable', mode: name, state: s.state, detail: s.detail})
        }
        const response = await handler(request)
        status = response.status ?? 200
        return response
      } catch (error) {
        status = error instanceof HttpError ? error.status : 500
        throw error
      } finally {
        httpRequests.inc({mode: name, method, code: String(status)})
        httpDuration.observe((performance.now() - started) / 1000, {mode: name})
      }
    }
  }

  const dockerProbe = new DockerProbe({
    ping:
      options.dockerPing ??
      (async (timeoutMs) => {
        const [{docker}, {pingDocker}] = await Promise.all([context.docker(), import('../docker/client.js')])
        await pingDocker(docker, timeoutMs)
      }),
  })

  // ---- core routes ----
  router.get('/health', async () => {
    const report = await health()
    return json(report, report.status === 'ok' ? 200 : 503)
  })
  router.get('/metrics', () => metricsResponse(metrics.render() + renderProcessMetrics()), {access: policy.read})
  router.get('/api/modes', async (request) => json(await modesReport(request)), {access: policy.read})
  router.get(
    '/api/modes/:mode/snapshot',
    async (request) => {
      const name = request.params.mode as Mode
      if (!supervisor.has(name)) {
        throw new HttpError(404, {error: 'not_found', reason: `mode ${request.params.mode} is not enabled`})
      }
      const mode = supervisor.mode(name)
      if (!mode || !supervisor.routable(name)) {
        const s = supervisor.get(name)!
        throw new HttpError(503, {error: 'mode_unavailable', mode: name, state: s.state, detail: s.detail})
      }
      if (!mode.snapshot) return json({})
      return json(await withDeadline(mode.snapshot(), SNAPSHOT_TIMEOUT_MS, `${name} snapshot`))
    },
    {access: policy.read},
  )
  // What this client may change, for the UI: `key` (send serve.apiKey), `loopback` (no key, local client),
  // `refused` (no key, remote client: read only). POST also checks a key before the UI stores it.
  const authReport = (request: HttpRequest) => ({
    required: config.serve.apiKey !== undefined,
    reads: Boolean(config.serve.apiKey && config.serve.protectReads),
    writes: writeAccess(config.serve.apiKey, request),
  })
  router.get('/api/auth', (request) => json(authReport(request)), {access: policy.static})
  router.post('/api/auth', (request) => json({ok: true, ...authReport(request)}), {access: policy.write})
  const files = staticFiles(root)
  router.get('/', (request) => files({...request, params: {'*': 'index.html'}}), {access: policy.static})
  router.get('/web/*', files, {access: policy.static})
  router.get('/favicon.ico', (request) => files({...request, params: {'*': 'shared/favicon.svg'}}), {
    access: policy.static,
  })

  async function health(): Promise<HealthReport> {
    const modes: HealthReport['modes'] = {}
    for (const {name, ...rest} of ordered()) modes[name] = rest
    const needsDocker = supervisor.names().some((name) => DOCKER_MODES.includes(name as Mode))
    const docker = needsDocker ? await dockerProbe.check() : undefined
    return {
      status: supervisor.allUp() && docker?.reachable !== false ? 'ok' : 'degraded',
      version: context.version,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      modes,
      ...(docker ? {docker} : {}),
    }
  }

  async function modesReport(request: HttpRequest) {
    const modes = await Promise.all(
      ordered().map(async (s) => ({
        ...s,
        title: MODE_TABLE[s.name as Mode]?.title ?? s.name,
        section: await exists(join(root, s.name, 'section.js')),
        hasSnapshot: typeof supervisor.mode(s.name)?.snapshot === 'function',
      })),
    )
    return {
      version: context.version,
      auth: {
        writes: Boolean(config.serve.apiKey),
        reads: Boolean(config.serve.apiKey && config.serve.protectReads),
        access: writeAccess(config.serve.apiKey, request),
      },
      modes,
    }
  }

  // ---- systemd STATUS= line, coalesced ----
  let statusTimer: NodeJS.Timeout | undefined
  let lastStatus = ''
  function scheduleStatus() {
    if (!notifier?.socket || statusTimer) return
    statusTimer = setTimeout(() => {
      statusTimer = undefined
      const text = statusLine(supervisor.status())
      if (text !== lastStatus) void notifier.status(text)
      lastStatus = text
    }, 100)
    statusTimer.unref()
  }

  // ---- start ----
  for (const name of wanted(config)) await addMode(name, config)
  if (supervisor.names().length === 0) {
    logger.warn('no mode is enabled: serving only the web UI, /health and /metrics', {
      hint: 'set <mode>.enabled: true in the config file (ddns, images, monitor, swarm, dns)',
    })
  }
  const server: RunningHttpServer = await startHttpServer({
    listen,
    router,
    logger,
    accessLog: options.accessLog ?? config.serve.accessLog ?? !process.stderr.isTTY,
    allowedHosts: () => configuredHosts(config),
    serverKey: () => config.serve.apiKey,
  })
  await supervisor.startAll()
  const summary = statusLine(supervisor.status())
  logger.info('serve ready', {url: server.url, modes: supervisor.names().join(',') || 'none'})
  lastStatus = summary
  await notifier?.ready(summary)
  notifier?.startWatchdog()

  let reloading: Promise<boolean> | undefined
  let stopping: Promise<ServeStopReport> | undefined

  async function reload(): Promise<boolean> {
    if (!options.reloadConfig || stopping) return false
    await notifier?.reloading()
    try {
      let next: HomeopsConfig
      try {
        next = options.reloadConfig()
        accessPolicies(() => next).check()
      } catch (error) {
        logger.error('configuration reload failed, keeping the running configuration', {error: errorMessage(error)})
        return false
      }
      const refusal = reloadRefusal(config, next, supervisor.names(), wanted(next))
      if (refusal) {
        logger.error('configuration reload refused, keeping the running configuration', refusal)
        return false
      }
      const previous = config
      config = next
      if (next.serve.listen !== previous.serve.listen && !options.listen) {
        logger.warn('serve.listen changed: restart homeops to listen on the new address', {
          listening: server.url,
        })
      }
      for (const key of ['state', 'docker', 'log'] as const) {
        if (JSON.stringify(next[key]) !== JSON.stringify(previous[key])) {
          logger.warn(`${key} settings changed: restart homeops to apply them`)
        }
      }
      const sharedChanged = JSON.stringify(next.registries) !== JSON.stringify(previous.registries)
      const target = new Set(wanted(next))
      const work: Promise<unknown>[] = []
      for (const name of supervisor.names() as Mode[]) {
        if (!target.has(name)) work.push(removeMode(name))
        else if (sharedChanged || JSON.stringify(next[name]) !== JSON.stringify(previous[name]))
          work.push(supervisor.restart(name, next))
      }
      await Promise.all(work)
      for (const name of target) {
        if (supervisor.has(name)) continue
        await addMode(name, next)
        logger.info('mode enabled by the new configuration', {mode: name})
        await supervisor.start(name)
      }
      logger.info('configuration reloaded', {modes: supervisor.names().join(',') || 'none'})
      return true
    } finally {
      await notifier?.ready(statusLine(supervisor.status()))
    }
  }

  return {
    url: server.url,
    supervisor,
    metrics,
    reload() {
      reloading = (reloading ?? Promise.resolve(true)).then(reload, reload)
      return reloading
    },
    stop(budgetMs = 5000) {
      stopping ??= (async () => {
        const started = Date.now()
        void notifier?.stopping('stopping')
        clearTimeout(statusTimer)
        const [late] = await Promise.all([supervisor.stopAll(budgetMs), server.close(budgetMs)])
        if (late.length > 0) logger.warn('modes did not stop in time', {modes: late.join(',')})
        await notifier?.close()
        const ms = Date.now() - started
        logger.info('serve stopped', {ms})
        return {late, ms}
      })()
      return stopping
    },
  }
}

/**
 * Why a reloaded configuration must not replace the running one, or undefined.
 * A file emptied or truncated by mistake (an editor, a failed deploy) would
 * otherwise stop every mode, or open every action to anyone who can reach the
 * port; the file has to say so explicitly (`serve.allowNoModes`,
 * `serve.allowNoApiKey`). Never refused: what was already so (no modes, no key).
 */
export function reloadRefusal(
  previous: HomeopsConfig,
  next: HomeopsConfig,
  running: string[],
  wanted: string[],
): {reason: string; hint: string} | undefined {
  if (running.length > 0 && wanted.length === 0 && !next.serve.allowNoModes) {
    return {
      reason: `the new configuration enables no mode: it would stop ${running.sort().join(', ')}`,
      hint: 'set serve.allowNoModes: true in the file to run only the web UI, /health and /metrics',
    }
  }
  if (previous.serve.apiKey && !next.serve.apiKey && !next.serve.allowNoApiKey) {
    return {
      reason: 'the new configuration has no serve.apiKey: actions would no longer need a key',
      hint: 'set serve.allowNoApiKey: true in the file to drop the key on purpose',
    }
  }
  return undefined
}

/** `3/4 modes up; down: dns (bind EADDRINUSE)` — systemd STATUS= and the ready log line. */
export function statusLine(statuses: ModeStatus[]): string {
  if (statuses.length === 0) return 'no modes enabled'
  const up = statuses.filter((s) => s.up)
  const down = statuses.filter((s) => !s.up)
  const text = `${up.length}/${statuses.length} modes up`
  if (down.length === 0) return text
  return `${text}; down: ${down.map((s) => s.name + (s.lastError ? ` (${s.lastError.slice(0, 80)})` : '')).join(', ')}`
}

interface Policies {
  read: AccessPolicy
  write: AccessPolicy
  /** Static files: the address allow-list only (the page must load to ask for a key). */
  static: AccessPolicy
  /** Throws a UserError when `serve.allowedIps` is invalid. */
  check(): void
}

function accessPolicies(current: () => HomeopsConfig): Policies {
  let cached: {entries: string; list: ReturnType<typeof parseAllowList> | undefined} | undefined
  const allowList = () => {
    const entries = current().serve.allowedIps
    const key = entries.join(',')
    if (cached?.entries !== key) {
      cached = {entries: key, list: entries.length > 0 ? parseAllowList(entries, 'serve.allowedIps') : undefined}
    }
    return cached.list
  }
  return {
    read: {allowList, apiKey: () => (current().serve.protectReads ? current().serve.apiKey : undefined)},
    write: {allowList, apiKey: () => current().serve.apiKey, keySetting: 'serve.apiKey (HOMEOPS_API_KEY)'},
    static: {allowList},
    check() {
      const entries = current().serve.allowedIps
      if (entries.length > 0) parseAllowList(entries, 'serve.allowedIps')
    },
  }
}

/**
 * serve's router: its own routes, plus one router per mode under `/<mode>`,
 * swapped as a whole when a mode is enabled, disabled or replaced on reload, so
 * a path can only ever reach the instance that is running now.
 */
class ServeRouter extends Router {
  private readonly modes = new Map<string, Router>()

  setMode(name: string, router: Router | undefined): void {
    if (router) this.modes.set(name, router)
    else this.modes.delete(name)
  }

  override match(method: string, path: string): RouteMatch {
    const [, first = '', ...rest] = path.split('/')
    const mode = this.modes.get(first)
    if (mode) {
      const found = mode.match(method, `/${rest.join('/')}`)
      if (found.kind !== 'not-found') return found
    }
    return super.match(method, path)
  }
}

/**
 * A Router whose handlers are wrapped as they are added, so each mode's
 * routes get serve's access policy, a 503 while the mode is down, and metrics.
 */
class GuardedRouter extends Router {
  constructor(private readonly wrap: (handler: Handler, method: string, options?: RouteOptions) => Handler) {
    super()
  }

  override add(method: string, pattern: string, handler: Handler, options?: RouteOptions): this {
    // The wrapper enforces the mode's access policy after serve's: the server must not check it first.
    const {access: _access, ...rest} = options ?? {}
    return super.add(method, pattern, this.wrap(handler, method.toUpperCase(), options), rest)
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}

async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new HttpError(504, {error: 'timeout', reason: `${what} took over ${ms} ms`})),
          ms,
        )
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}
