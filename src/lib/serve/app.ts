import {type HomeopsConfig, type Mode} from '../config/root-schema.js'
import type {Context} from '../context.js'
import {DockerProbe} from '../docker/probe.js'
import {errorMessage} from '../errors.js'
import {configuredHosts} from '../http/access-config.js'
import {parseListen} from '../http/address.js'
import {type RunningHttpServer, startHttpServer} from '../http/server.js'
import {webRoot} from '../http/static-files.js'
import {MetricsRegistry} from '../metrics/registry.js'
import type {Notifier} from '../systemd/notify.js'
import {servePolicies} from './access-policies.js'
import {registerCoreRoutes} from './core-routes.js'
import {healthReport} from './health.js'
import {registerProcessMetrics} from './metrics.js'
import type {ServiceMode} from './mode.js'
import {ServeRouter, modeRouter} from './mode-router.js'
import {MODE_TABLE, type ModeLoader, loadMode} from './modes.js'
import {planReload} from './reload.js'
import {type BackoffOptions, ModeSupervisor} from './supervisor.js'
import {SystemdStatus} from './systemd-status.js'

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

/**
 * `homeops serve`: one HTTP server (web UI, `/health`, `/metrics`, each mode's
 * routes under `/<mode>`) and every enabled mode, supervised. The parts: access
 * (`access-policies.ts`), routing (`mode-router.ts`, `core-routes.ts`), health
 * (`health.ts`), systemd status (`systemd-status.ts`) and reloads (`reload.ts`).
 */
export async function startServe(context: Context, options: ServeOptions = {}): Promise<ServeHandle> {
  const logger = context.logger
  const startedAt = Date.now()
  let config = context.config
  const listen = parseListen(options.listen ?? config.serve.listen, options.listen ? '--listen' : 'serve.listen')
  const policies = servePolicies(() => config)
  policies.check() // a bad allowedIps entry stops start-up with the key's name

  const metrics = new MetricsRegistry()
  const renderProcessMetrics = registerProcessMetrics(metrics, context.version, startedAt)
  const guardOptions = {
    policies,
    requests: metrics.counter('homeops_http_requests_total', 'HTTP requests to mode APIs by mode and status'),
    duration: metrics.histogram(
      'homeops_http_request_duration_seconds',
      'Time to answer HTTP requests to mode APIs',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
  }
  const notifier = options.notifier
  const systemd = new SystemdStatus(notifier, () => supervisor.status())
  const supervisor = new ModeSupervisor({
    context,
    metrics,
    logger,
    backoff: options.backoff,
    startTimeoutMs: options.startTimeoutMs,
    onChange: () => systemd.changed(),
  })
  const load = options.loadMode ?? loadMode
  const router = new ServeRouter()

  // The order of the page: containers, images, ddns, swarm, dns.
  const order = Object.keys(MODE_TABLE) as Mode[]
  const wanted = (cfg: HomeopsConfig): Mode[] =>
    order.filter((m) => (options.modes ? options.modes.includes(m) : cfg[m].enabled))

  async function addMode(name: Mode, cfg: HomeopsConfig): Promise<void> {
    let mode: ServiceMode
    try {
      mode = await load(name)
    } catch (error) {
      supervisor.add(name, {loadError: errorMessage(error)}, cfg)
      return
    }
    const routes = modeRouter(name, mode, {...guardOptions, supervisor})
    try {
      mode.routes?.(routes)
    } catch (error) {
      supervisor.add(name, {loadError: `registering its routes failed: ${errorMessage(error)}`}, cfg)
      return
    }
    // One synchronous step: from here on `/<name>/…` reaches this instance and no other.
    router.setMode(name, routes)
    supervisor.add(name, mode, cfg)
  }

  async function removeMode(name: Mode): Promise<void> {
    await supervisor.remove(name)
    router.setMode(name, undefined)
  }

  const dockerProbe = new DockerProbe({
    ping:
      options.dockerPing ??
      (async (timeoutMs) => {
        const [{docker}, {pingDocker}] = await Promise.all([context.docker(), import('../docker/client.js')])
        await pingDocker(docker, timeoutMs)
      }),
  })
  registerCoreRoutes(router, {
    config: () => config,
    policies,
    supervisor,
    order,
    root: options.webRoot ?? webRoot(),
    version: context.version,
    health: () => healthReport({supervisor, order, probe: dockerProbe, version: context.version, startedAt}),
    metricsText: () => metrics.render() + renderProcessMetrics(),
  })

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
  logger.info('serve ready', {url: server.url, modes: supervisor.names().join(',') || 'none'})
  await systemd.ready()
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
        servePolicies(() => next).check()
      } catch (error) {
        logger.error('configuration reload failed, keeping the running configuration', {error: errorMessage(error)})
        return false
      }
      const decided = planReload({
        previous: config,
        next,
        running: supervisor.names() as Mode[],
        wanted: wanted(next),
        listenFlag: Boolean(options.listen),
        listening: server.url,
      })
      if ('refusal' in decided) {
        logger.error('configuration reload refused, keeping the running configuration', decided.refusal)
        return false
      }
      const {plan} = decided
      config = next
      for (const note of plan.needsRestart) logger.warn(note.message, note.fields)
      await Promise.all([
        ...plan.remove.map((name) => removeMode(name)),
        ...plan.restart.map((name) => supervisor.restart(name, next)),
      ])
      for (const name of plan.add) {
        await addMode(name, next)
        logger.info('mode enabled by the new configuration', {mode: name})
        await supervisor.start(name)
      }
      logger.info('configuration reloaded', {modes: supervisor.names().join(',') || 'none'})
      return true
    } finally {
      await systemd.ready()
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
        systemd.cancel()
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
