import {join} from 'node:path'

import type {SelfIdentity} from '../docker/self.js'
import {errorMessage} from '../errors.js'
import {HttpError, type Router} from '../http/router.js'
import type {ModeHealth, ModeRuntime, ServiceMode} from '../serve/mode.js'
import type {Clock} from '../time/sleep.js'
import {monitorPolicies} from './access-policies.js'
import {ActivityLog} from '../activity/log.js'
import {MonitorBackground} from './background.js'
import {MetricHistory} from './metric-history.js'
import {registerMonitorRoutes} from './routes.js'
import type {MonitorService} from './service.js'
import type {SettingsStore} from './settings.js'
import {ContainerDetails} from './ui-rows.js'

export interface MonitorMode extends ServiceMode {
  /** Set once started (tests, the standalone command). */
  readonly service: MonitorService | undefined
  readonly settings: SettingsStore | undefined
}

export interface MonitorModeOptions {
  /** Who "self" is, for the self-update guard (default: detected); for tests. */
  self?: SelfIdentity
  /** Tests: the clock of the background jobs. */
  clock?: Clock
}

/**
 * `monitor serve` / the monitor part of `homeops serve`: the settings, the
 * service (Docker watcher, stats, registry cache), the background jobs
 * (`background.ts`) and the routes (`routes.ts`, access in `access-policies.ts`).
 */
export function createMonitorMode(options: MonitorModeOptions = {}): MonitorMode {
  let service: MonitorService | undefined
  let settings: SettingsStore | undefined
  let background: MonitorBackground | undefined
  let startError: string | undefined
  let details: ContainerDetails | undefined
  let signal: AbortSignal | undefined
  // The shared history lives in the state database once started (every process writes it); until then, in memory.
  let activity = new ActivityLog()
  const history = new MetricHistory()

  return {
    name: 'monitor',
    get service() {
      return service
    },
    get settings() {
      return settings
    },

    routes(router: Router) {
      registerMonitorRoutes(router, {
        service: () => {
          if (!service) throw new HttpError(503, {error: 'starting', message: startError ?? 'the monitor is starting'})
          return service
        },
        current: () => service,
        settings: () => settings,
        details: () => details,
        signal: () => signal,
        activity: () => activity,
        history,
        policies: monitorPolicies(() => settings),
      })
    },

    async start(runtime: ModeRuntime) {
      const {context} = runtime
      signal = runtime.signal
      const [{SettingsStore}, {openMonitorService}, {stateDir}] = await Promise.all([
        import('./settings.js'),
        import('./service.js'),
        import('../paths.js'),
      ])
      const config = context.config.monitor
      settings = await SettingsStore.load({
        path: config.settingsPath ?? join(stateDir(context.statePath), 'monitor-settings.json'),
        defaults: {
          apiEnabled: config.api,
          guiEnabled: config.gui,
          authEnabled: config.auth,
          apiKey: config.apiKey,
          allowedCidrs: config.allowedIps,
        },
        logger: context.logger,
      })
      try {
        service = await openMonitorService(context, {self: options.self})
      } catch (error) {
        startError = errorMessage(error)
        throw error
      }
      const svc = service
      // An update killed with the previous process (SIGKILL, a crash) is finished or rolled back before serving.
      await svc
        .recoverInterrupted()
        .catch((error: unknown) =>
          context.logger.error('cannot repair interrupted container updates', {error: errorMessage(error)}),
        )
      if (svc.options.activity) activity = svc.options.activity
      details = new ContainerDetails(svc.options.docker)
      const rows = () =>
        svc.watcher
          .containers()
          .filter((c) => c.state === 'running')
          .map((c) => ({c, m: svc.watcher.metrics(c.id)}))
      runtime.metrics.collectedGauge(
        'homeops_container_cpu_percent',
        'CPU use of a running container in percent, as docker stats shows it (100 = one CPU busy)',
        () => rows().flatMap(({c, m}) => (m?.cpu == null ? [] : [{labels: {name: c.name}, value: m.cpu}])),
      )
      runtime.metrics.collectedGauge(
        'homeops_container_memory_bytes',
        'Memory used by a running container, page cache excluded',
        () => rows().flatMap(({c, m}) => (m?.memUsage == null ? [] : [{labels: {name: c.name}, value: m.memUsage}])),
      )
      background = new MonitorBackground({
        service: svc,
        history,
        refreshMs: config.registryCacheMinutes * 60_000,
        logger: context.logger,
        clock: options.clock,
      })
      await background.start()
      context.logger.info('monitor started', {
        containers: svc.watcher.containers().length,
        api: settings.current.apiEnabled,
        auth: settings.current.authEnabled,
        gui: settings.current.guiEnabled,
        allowed: settings.current.allowedCidrs.join(','),
      })
    },

    async stop() {
      background?.stop()
      background = undefined
      const svc = service
      service = undefined
      await svc?.stop()
    },

    health(): ModeHealth {
      if (!service) return {up: false, detail: startError ?? 'not started'}
      const info = service.watcher.info
      return info.connected
        ? {up: true, detail: `${service.watcher.containers().length} containers, ${info.streams} stats streams`}
        : {up: false, detail: `Docker unreachable: ${info.lastError ?? 'reconnecting'}`}
    },

    async snapshot() {
      if (!service) return {containers: []}
      return {containers: await service.rows()}
    },
  }
}
