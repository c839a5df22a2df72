import type {Context} from '../context.js'
import {LockedError, errorMessage} from '../errors.js'
import {configAllowList} from '../http/config-allow-list.js'
import {type HttpRequest, type HttpResponse, HttpError, type Router, json} from '../http/router.js'
import {type ApplyLinkDeps, applyFromLink, confirmPage} from './apply-link.js'
import type {CheckRuns} from './check-runs.js'
import type {ApplyReport} from './watcher.js'

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
  // The shared history of actions (every page, the API, apply links, the CLI), with the steps of running ones.
  router.get('/activity', async (request) => {
    const {ActivityLog} = await import('../activity/log.js')
    const limit = Number(request.query.get('limit') ?? 30)
    return json({entries: new ActivityLog(await deps.context().state()).list(Number.isFinite(limit) ? limit : 30)})
  })
  router.post(
    '/check',
    async (request) => {
      const {ActivityLog} = await import('../activity/log.js')
      const record = new ActivityLog(await deps.context().state()).begin(
        'check images',
        'every watched workload',
        `Image updates page (${request.remoteAddress})`,
      )
      const report = await runs.runNow()
      const summary = report?.check.summary
      record.finish(
        report !== undefined && summary?.errors === 0,
        summary
          ? `${summary.workloads} checked, ${summary.updates} update(s) available, ${summary.errors} failed`
          : `check failed: ${runs.error ?? 'unknown error'}`,
      )
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
      to: body.to,
      by: 'manual',
      origin: `Image updates page (${request.remoteAddress})`,
    })
    deps.applied(report.outcome?.result ?? 'up_to_date')
    const ok = report.action === 'updated' || report.action === 'up_to_date'
    return json(
      {action: report.action, outcome: report.outcome, message: await uiMessage(deps.context(), report)},
      ok ? 200 : 502,
    )
  } catch (error) {
    if (error instanceof LockedError) throw new HttpError(409, {error: 'locked', message: errorMessage(error)})
    throw error
  }
}

/** What the page says after an apply: with "already up to date", who updated it and when (another page, the CLI). */
async function uiMessage(context: Context, report: ApplyReport): Promise<string> {
  const now = report.check.currentTag ?? '?'
  if (report.action === 'updated') return `${report.workload} now runs ${report.outcome?.newVersion ?? now}`
  if (report.action !== 'up_to_date')
    return `The update of ${report.workload} ${report.action.replace(/_/g, ' ')}: ${report.outcome?.error ?? ''}`
  const {updateHistory} = await import('./history.js')
  const last = updateHistory(await context.state(), {workload: report.workload, limit: 1})[0]
  return last?.result === 'applied'
    ? `${report.workload} already runs ${now}: updated ${last.at} (${last.by === 'link' ? 'apply link' : last.by}), nothing to do`
    : `${report.workload} already runs ${now}: nothing to do`
}
