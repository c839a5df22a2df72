import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {ContainerNotFoundError, SelfUpdateError, SwarmTaskError} from '../docker/recreate.js'
import {HomeopsError, LockedError, UserError, errorMessage} from '../errors.js'
import {type Handler, type HttpRequest, HttpError, type Router, json} from '../http/router.js'
import {staticFiles, webRoot} from '../http/static-files.js'
import type {MonitorPolicies} from './access-policies.js'
import type {ActivityLog} from '../activity/log.js'
import {HISTORY_SAMPLES, type MetricHistory} from './metric-history.js'
import type {MonitorService} from './service.js'
import type {SettingsStore} from './settings.js'
import {type ContainerDetails, HISTORY_STEP_SECONDS, uiRow} from './ui-rows.js'

const UPDATE_BODY_LIMIT = 4 * 1024
const SETTINGS_BODY_LIMIT = 8 * 1024
const PAGE_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'"

export interface MonitorRoutesDeps {
  /** The running service; a 503 "starting" (with the start error, if any) before. */
  service(): MonitorService
  /** The running service, or undefined (for `/health`). */
  current(): MonitorService | undefined
  settings(): SettingsStore | undefined
  details(): ContainerDetails | undefined
  /** Aborted when the process stops (an update in progress then winds down). */
  signal(): AbortSignal | undefined
  /** The shared history of actions (the state database's once the service runs). */
  activity(): ActivityLog
  history: MetricHistory
  policies: MonitorPolicies
}

/**
 * The monitor's routes (the original Docker Monitor Image API, wire-compatible
 * with its Home Assistant integration, and the web page):
 *
 * - API (off until enabled; allow-list; key when auth is on): `GET /status`,
 *   `GET /status/:name`, `POST /update_container`, `GET /diag`,
 *   `GET /images/unused`, `POST /images/prune`.
 * - The same actions for the web page under `/ui/…`, governed by the GUI
 *   toggle instead of the API toggle (so the page works with the API off).
 * - `GET/POST /settings`: allow-list, and the key when auth is on.
 * - `GET /health`: open. `GET /` and `/web/monitor|shared/…`: the page (allow-list, GUI toggle).
 */
export function registerMonitorRoutes(router: Router, deps: MonitorRoutesDeps): void {
  const {policies} = deps
  const statusAll: Handler = async (request) =>
    json(await deps.service().status({force: truthy(request, 'force'), light: truthy(request, 'light')}))
  const statusOne: Handler = async (request) =>
    json(
      await deps.service().status({
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
    const svc = deps.service()
    try {
      // The service records the update, its steps and its outcome in the shared history.
      return json(await svc.update(name.trim(), {signal: deps.signal(), by: who(request)}))
    } catch (error) {
      throw updateError(error)
    }
  }
  const diag: Handler = async () => json(await deps.service().diag())
  const unused: Handler = async () => {
    const items = await deps.service().unusedImages()
    return json({
      count: items.length,
      items: items.map((i) => ({id: i.id, tags: i.tags, size: i.size, created: i.created, dangling: i.dangling})),
    })
  }
  const prune: Handler = async (request) => {
    const body = (await request.json()) as {label?: unknown} | null
    const labels = Array.isArray(body?.label) ? body.label.filter((l): l is string => typeof l === 'string') : []
    const record = deps.activity().begin('prune images', labels.join(',') || 'unused images', who(request))
    try {
      const result = await deps.service().prune(labels.length ? {labels} : undefined)
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
    const svc = deps.service()
    const list = svc.watcher.containers()
    const [rows, facts] = await Promise.all([
      svc.rows({force: truthy(request, 'force')}),
      deps.details()?.facts(list) ?? Promise.resolve(new Map<string, never>()),
    ])
    const byId = new Map(rows.map((r) => [r.id, r]))
    return json({
      ...svc.freshness(),
      history: {step_seconds: HISTORY_STEP_SECONDS, samples: HISTORY_SAMPLES},
      containers: list.map((c) => uiRow(c, byId.get(c.id), facts.get(c.id), deps.history)),
    })
  }
  const activityList: Handler = (request) =>
    json({entries: deps.activity().list(Number(request.query.get('limit') ?? 50) || 50)})
  const health: Handler = () => {
    const up = Boolean(deps.current()?.watcher.connected)
    return json({status: up ? 'ok' : 'degraded', docker: up}, up ? 200 : 503)
  }
  const getSettings: Handler = () => {
    const settings = deps.settings()
    if (!settings) throw new HttpError(503, {error: 'starting'})
    return json({...settings.view(), settings_path: settings.path})
  }
  const postSettings: Handler = async (request) => {
    const settings = deps.settings()
    if (!settings) throw new HttpError(503, {error: 'starting'})
    const body = await request.json()
    try {
      const change = await settings.update(body, request.remoteAddress)
      const changed = (change as {changed?: string[]}).changed ?? []
      if (changed.length) deps.activity().begin('settings', changed.join(', '), who(request)).finish(true, 'saved')
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

  router.get('/health', health)
  router.get('/status', statusAll, {access: policies.api})
  router.get('/status/:name', statusOne, {access: policies.api})
  router.post('/update_container', update, {access: policies.api, bodyLimit: UPDATE_BODY_LIMIT})
  router.get('/diag', diag, {access: policies.api})
  router.get('/images/unused', unused, {access: policies.api})
  router.post('/images/prune', prune, {access: policies.api, bodyLimit: UPDATE_BODY_LIMIT})
  router.get('/settings', getSettings, {access: policies.settings})
  router.post('/settings', postSettings, {access: policies.settings, bodyLimit: SETTINGS_BODY_LIMIT})
  router.get('/ui/status', statusAll, {access: policies.gui})
  router.get('/ui/containers', containers, {access: policies.gui})
  router.get('/ui/activity', activityList, {access: policies.gui})
  router.get('/ui/status/:name', statusOne, {access: policies.gui})
  router.post('/ui/update_container', update, {access: policies.gui, bodyLimit: UPDATE_BODY_LIMIT})
  router.get('/ui/diag', diag, {access: policies.gui})
  router.get('/ui/images/unused', unused, {access: policies.gui})
  router.post('/ui/images/prune', prune, {access: policies.gui, bodyLimit: UPDATE_BODY_LIMIT})
  router.get('/', page, {access: policies.page})
  router.get('/web/*', assets, {access: policies.page})
  router.get('/favicon.ico', (request) => files({...request, params: {'*': 'shared/favicon.svg'}}), {
    access: policies.page,
  })
}

/** Who started an action, for the shared history: the page or the API, and the client address. */
function who(request: HttpRequest): string {
  return request.path.includes('/ui/') ? `Containers page (${request.remoteAddress})` : `API ${request.remoteAddress}`
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
