import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {ContainerNotFoundError, SelfUpdateError, SwarmTaskError} from '../docker/recreate.js'
import type {SelfIdentity} from '../docker/self.js'
import {HomeopsError, LockedError, UserError, errorMessage} from '../errors.js'
import type {AccessPolicy} from '../http/access.js'
import {type Handler, type HttpRequest, HttpError, type Router, json} from '../http/router.js'
import {staticFiles, webRoot} from '../http/static-files.js'
import type {ModeHealth, ModeRuntime, ServiceMode} from '../serve/mode.js'
import {ActivityLog} from './activity.js'
import {HISTORY_INTERVAL_MS, HISTORY_SAMPLES, MetricHistory, type MetricSample} from './metric-history.js'
import type {MonitorService} from './service.js'
import {ContainerDetails, HISTORY_STEP_SECONDS, uiRow} from './ui-rows.js'
import type {SettingsStore} from './settings.js'

export interface MonitorMode extends ServiceMode {
  /** Set once started (tests, the standalone command). */
  readonly service: MonitorService | undefined
  readonly settings: SettingsStore | undefined
}

const UPDATE_BODY_LIMIT = 4 * 1024
const SETTINGS_BODY_LIMIT = 8 * 1024
const PAGE_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'"

/**
 * `monitor serve` / the monitor part of `homeops serve`: the HTTP API of the
 * original Docker Monitor Image tool (wire-compatible with its Home Assistant
 * integration) and the web page. Routes:
 *
 * - API (off until enabled; allow-list; key when auth is on): `GET /status`,
 *   `GET /status/:name`, `POST /update_container`, `GET /diag`,
 *   `GET /images/unused`, `POST /images/prune`.
 * - The same actions for the web page under `/ui/…`, governed by the GUI
 *   toggle instead of the API toggle (so the page works with the API off).
 * - `GET/POST /settings`: allow-list, and the key when auth is on.
 * - `GET /health`: open. `GET /` and `/web/monitor|shared/…`: the page (allow-list, GUI toggle).
 */
export interface MonitorModeOptions {
  /** Who "self" is, for the self-update guard (default: detected); for tests. */
  self?: SelfIdentity
}

export function createMonitorMode(options: MonitorModeOptions = {}): MonitorMode {
  let service: MonitorService | undefined
  let settings: SettingsStore | undefined
  let refreshTimer: NodeJS.Timeout | undefined
  let historyTimer: NodeJS.Timeout | undefined
  let startError: string | undefined
  let details: ContainerDetails | undefined
  const activity = new ActivityLog()
  const history = new MetricHistory()

  const allowList = () => settings?.allowList()
  const apiKey = () => settings?.requiredKey()
  // Without auth, changes come from this machine only (the "no key" policy in enforceAccess).
  const keySetting = 'AUTH_ENABLED=true with API_KEY (monitor.auth, monitor.apiKey, or the settings dialog)'
  const apiPolicy: AccessPolicy = {
    allowList,
    enabled: () => settings?.current.apiEnabled ?? false,
    apiKey,
    keySetting,
  }
  const guiPolicy: AccessPolicy = {
    allowList,
    enabled: () => settings?.current.guiEnabled ?? false,
    apiKey,
    keySetting,
  }
  const pagePolicy: AccessPolicy = {allowList, enabled: () => settings?.current.guiEnabled ?? false}
  const settingsPolicy: AccessPolicy = {
    allowList,
    enabled: () => Boolean(settings && (settings.current.apiEnabled || settings.current.guiEnabled)),
    apiKey,
    keySetting,
  }

  const running = (): MonitorService => {
    if (!service) throw new HttpError(503, {error: 'starting', message: startError ?? 'the monitor is starting'})
    return service
  }

  const statusAll: Handler = async (request) =>
    json(await running().status({force: truthy(request, 'force'), light: truthy(request, 'light')}))
  const statusOne: Handler = async (request) =>
    json(
      await running().status({
        name: request.params.name!,
        force: truthy(request, 'force'),
        light: truthy(request, 'light'),
      }),
    )
  const update: Handler = async (request) => {
    const body = (await request.json()) as Record<string, unknown> | null
    const name =
      (body && typeof body === 'object' && typeof body.name === 'string' ? body.name : undefined) ??
      request.query.get('name') ??
      undefined
    if (!name || !name.trim()) throw new HttpError(400, {error: "Missing 'name'"})
    const svc = running()
    const record = activity.begin('update', name.trim(), who(request))
    try {
      const outcome = await svc.update(name.trim(), {signal: runtimeSignal, onStep: (step) => record.step(step)})
      record.finish(true, outcome.message)
      return json(outcome)
    } catch (error) {
      const failure = updateError(error)
      const body = failure.body as {error?: string; message?: string}
      record.finish(false, body.message ?? body.error ?? errorMessage(error))
      throw failure
    }
  }
  const diag: Handler = async () => json(await running().diag())
  const unused: Handler = async () => {
    const items = await running().unusedImages()
    return json({
      count: items.length,
      items: items.map((i) => ({id: i.id, tags: i.tags, size: i.size, created: i.created, dangling: i.dangling})),
    })
  }
  const prune: Handler = async (request) => {
    const body = (await request.json()) as {label?: unknown} | null
    const labels = Array.isArray(body?.label) ? body.label.filter((l): l is string => typeof l === 'string') : []
    const record = activity.begin('prune images', labels.join(',') || 'unused images', who(request))
    try {
      const result = await running().prune(labels.length ? {labels} : undefined)
      const removed = (result.ImagesDeleted ?? []).filter((d) => d.Deleted).length
      record.finish(
        true,
        `removed ${removed} image layer(s), Docker reports ${result.SpaceReclaimed ?? 0} bytes reclaimed`,
      )
      return json(result)
    } catch (error) {
      record.finish(false, prefixed(errorMessage(error)))
      throw new HttpError(500, {error: prefixed(errorMessage(error))})
    }
  }
  // The page's view: per-row health with reasons, groups, server-side metric history, freshness.
  const containers: Handler = async (request) => {
    const svc = running()
    const list = svc.watcher.containers()
    const [rows, facts] = await Promise.all([
      svc.rows({force: truthy(request, 'force')}),
      details ? details.facts(list) : Promise.resolve(new Map<string, never>()),
    ])
    const byId = new Map(rows.map((r) => [r.id, r]))
    return json({
      ...svc.freshness(),
      history: {step_seconds: HISTORY_STEP_SECONDS, samples: HISTORY_SAMPLES},
      containers: list.map((c) => uiRow(c, byId.get(c.id), facts.get(c.id), history)),
    })
  }
  const activityList: Handler = (request) =>
    json({entries: activity.list(Number(request.query.get('limit') ?? 50) || 50)})
  const health: Handler = () => {
    const up = Boolean(service?.watcher.connected)
    return json({status: up ? 'ok' : 'degraded', docker: up}, up ? 200 : 503)
  }
  const getSettings: Handler = () => {
    if (!settings) throw new HttpError(503, {error: 'starting'})
    return json({...settings.view(), settings_path: settings.path})
  }
  const postSettings: Handler = async (request) => {
    if (!settings) throw new HttpError(503, {error: 'starting'})
    const body = await request.json()
    try {
      const change = await settings.update(body, request.remoteAddress)
      const changed = (change as {changed?: string[]}).changed ?? []
      if (changed.length) activity.begin('settings', changed.join(', '), who(request)).finish(true, 'saved')
      return json({ok: true, ...change})
    } catch (error) {
      if (error instanceof UserError) throw new HttpError(400, {error: error.message})
      throw error
    }
  }
  const page: Handler = async () => {
    const html = await readFile(join(webRoot(), 'monitor', 'index.html'), 'utf8')
    return {
      body: html,
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-cache',
        'content-security-policy': PAGE_CSP,
      },
    }
  }
  const files = staticFiles(webRoot())
  const assets: Handler = (request) => {
    const path = request.params['*'] ?? ''
    if (!/^(monitor|shared)\/[\w.-]+\.(js|css|svg|ico)$/.test(path)) throw new HttpError(404, {error: 'not_found'})
    return files(request)
  }

  let runtimeSignal: AbortSignal | undefined

  return {
    name: 'monitor',
    get service() {
      return service
    },
    get settings() {
      return settings
    },

    routes(router: Router) {
      router.get('/health', health)
      router.get('/status', statusAll, {access: apiPolicy})
      router.get('/status/:name', statusOne, {access: apiPolicy})
      router.post('/update_container', update, {access: apiPolicy, bodyLimit: UPDATE_BODY_LIMIT})
      router.get('/diag', diag, {access: apiPolicy})
      router.get('/images/unused', unused, {access: apiPolicy})
      router.post('/images/prune', prune, {access: apiPolicy, bodyLimit: UPDATE_BODY_LIMIT})
      router.get('/settings', getSettings, {access: settingsPolicy})
      router.post('/settings', postSettings, {access: settingsPolicy, bodyLimit: SETTINGS_BODY_LIMIT})
      router.get('/ui/status', statusAll, {access: guiPolicy})
      router.get('/ui/containers', containers, {access: guiPolicy})
      router.get('/ui/activity', activityList, {access: guiPolicy})
      router.get('/ui/status/:name', statusOne, {access: guiPolicy})
      router.post('/ui/update_container', update, {access: guiPolicy, bodyLimit: UPDATE_BODY_LIMIT})
      router.get('/ui/diag', diag, {access: guiPolicy})
      router.get('/ui/images/unused', unused, {access: guiPolicy})
      router.post('/ui/images/prune', prune, {access: guiPolicy, bodyLimit: UPDATE_BODY_LIMIT})
      router.get('/', page, {access: pagePolicy})
      router.get('/web/*', assets, {access: pagePolicy})
      router.get('/favicon.ico', (request) => files({...request, params: {'*': 'shared/favicon.svg'}}), {
        access: pagePolicy,
      })
    },

    async start(runtime: ModeRuntime) {
      const {context} = runtime
      runtimeSignal = runtime.signal
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
      details = new ContainerDetails(svc.options.docker)
      const sample = () => {
        const samples = new Map<string, MetricSample>()
        for (const c of svc.watcher.containers()) {
          if (c.state !== 'running') continue
          const m = svc.watcher.metrics(c.id)
          samples.set(c.id, {cpu: m?.cpu ?? null, mem: m?.memUsage ?? null})
        }
        history.record(samples)
      }
      historyTimer = setInterval(sample, HISTORY_INTERVAL_MS)
      historyTimer.unref()
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
      // Warm the registry cache now and keep it fresh, so requests answer from memory.
      const warm = () =>
        void svc
          .rows()
          .catch((error: unknown) => context.logger.debug('registry refresh failed', {error: errorMessage(error)}))
      warm()
      refreshTimer = setInterval(warm, context.config.monitor.registryCacheMinutes * 60_000)
      refreshTimer.unref()
      context.logger.info('monitor started', {
        containers: svc.watcher.containers().length,
        api: settings.current.apiEnabled,
        auth: settings.current.authEnabled,
        gui: settings.current.guiEnabled,
        allowed: settings.current.allowedCidrs.join(','),
      })
    },

    async stop() {
      clearInterval(refreshTimer)
      clearInterval(historyTimer)
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

/** Who started an action, for the shared history: the page or the API, and the client address. */
function who(request: HttpRequest): string {
  return `${request.path.includes('/ui/') ? 'web' : 'api'} ${request.remoteAddress}`
}

function truthy(request: HttpRequest, name: string): boolean {
  const value = request.query.get(name)
  return value !== null && value !== '0' && value.toLowerCase() !== 'false'
}

function prefixed(message: string): string {
  return message.startsWith('docker api error') ? message : `docker api error: ${message}`
}

function updateError(error: unknown): HttpError {
  if (error instanceof HttpError) return error
  if (error instanceof ContainerNotFoundError) return new HttpError(404, {error: 'container not found'})
  if (error instanceof SwarmTaskError) {
    return new HttpError(409, {error: 'swarm_task', message: error.message, service: error.service, updated: false})
  }
  if (error instanceof SelfUpdateError) {
    return new HttpError(409, {error: 'self_update_blocked', message: error.message, updated: false})
  }
  if (
    error instanceof LockedError ||
    (error instanceof HomeopsError && (error as {code?: string}).code === 'update_in_progress')
  ) {
    return new HttpError(409, {error: 'update_in_progress', message: error.message, updated: false})
  }
  const message = errorMessage(error)
  return new HttpError(500, {
    error: prefixed(message),
    updated: false,
    rolled_back: /rolled back to the previous container/.test(message),
  })
}
