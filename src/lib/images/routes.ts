import type {Context} from '../context.js'
import {LockedError, errorMessage} from '../errors.js'
import {configAllowList} from '../http/config-allow-list.js'
import {type HttpRequest, type HttpResponse, HttpError, type Router, json} from '../http/router.js'
import {type ApplyLinkDeps, applyFromLink, confirmPage} from './apply-link.js'
import type {CheckRuns} from './check-runs.js'

const TAG = /^[\w][\w.-]{0,127}$/

export interface ImagesRoutesDeps extends ApplyLinkDeps {
  /** The context while started; undefined before (actions then fail). */
  current(): Context | undefined
  runs: CheckRuns
}

/**
 * The routes of `images serve`, relative to the mode: `/status`, `/history`,
 * the web UI's actions (`POST /update`, `POST /check`) and the apply link
 * (`/apply`, authenticated by its signed token).
 */
export function registerImagesRoutes(router: Router, deps: ImagesRoutesDeps): void {
  const {runs} = deps
  router.get('/status', async () => json(await runs.status()))
  router.get('/history', async (request) => {
    const {updateHistory} = await import('./history.js')
    const limit = Number(request.query.get('limit') ?? 100)
    const workload = request.query.get('workload') ?? undefined
    return json({
      updates: updateHistory(await deps.context().state(), {workload, limit: Number.isFinite(limit) ? limit : 100}),
    })
  })
  // Web UI actions: serve.apiKey, or from this machine only when none is set (the "no key" policy).
  const allowList = configAllowList(() => deps.current()?.config.serve.allowedIps ?? [], 'serve.allowedIps')
  const writes = {access: {apiKey: () => deps.current()?.config.serve.apiKey, allowList}, bodyLimit: 4 * 1024}
  router.post('/update', (request) => updateFromUi(deps, request), writes)
  router.post(
    '/check',
    async () => {
      const report = await runs.runNow()
      return json({ok: report !== undefined, lastError: runs.error ?? null, summary: report?.check.summary ?? null})
    },
    writes,
  )
  // The signed one-time token is the authentication (see RouteOptions.tokenAuth).
  router.get('/apply', (request) => confirmPage(deps, request), {tokenAuth: true})
  // The confirmation page's plain form posts it (form-urlencoded); scripts may send JSON.
  router.post('/apply', (request) => applyFromLink(deps, request), {
    bodyLimit: 8 * 1024,
    tokenAuth: true,
    bodyTypes: ['form', 'json'],
  })
}

/** `POST /update` of the web UI: `{workload, to?}`; applies now, whatever the workload's mode. */
async function updateFromUi(deps: ImagesRoutesDeps, request: HttpRequest): Promise<HttpResponse> {
  const body = ((await request.json()) ?? {}) as {workload?: unknown; to?: unknown}
  if (typeof body.workload !== 'string' || body.workload === '')
    throw new HttpError(400, {error: 'bad_request', message: 'workload is required'})
  if (body.to !== undefined && (typeof body.to !== 'string' || !TAG.test(body.to)))
    throw new HttpError(400, {error: 'bad_request', message: 'to must be a tag'})
  const {applyWorkloadUpdate} = await import('./watcher.js')
  try {
    const report = await applyWorkloadUpdate(deps.context(), {
      workload: body.workload,
      to: body.to as string | undefined,
      by: 'manual',
    })
    deps.applied(report.outcome?.result ?? 'up_to_date')
    const ok = report.action === 'updated' || report.action === 'up_to_date'
    return json({action: report.action, outcome: report.outcome}, ok ? 200 : 502)
  } catch (error) {
    if (error instanceof LockedError) throw new HttpError(409, {error: 'locked', message: errorMessage(error)})
    throw error
  }
}
