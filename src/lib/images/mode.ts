import {LockedError, UserError, errorMessage} from '../errors.js'
import type {Context} from '../context.js'
import {type AllowList, parseAllowList} from '../http/access.js'
import {type HttpRequest, type HttpResponse, HttpError, type Router, json} from '../http/router.js'
import type {Counter, Gauge} from '../metrics/registry.js'
import type {ModeHealth, ModeRuntime, ServiceMode} from '../serve/mode.js'
import {type Periodic, periodic} from '../time/scheduler.js'
import {applyPage} from './apply-page.js'
import type {CheckResult} from './checker.js'
import type {WatchReport} from './watcher.js'

export interface ImagesModeOptions {
  /** Seconds between checks (default `images.intervalSeconds`). */
  intervalSeconds?: number
  /** Cron expression; wins over the interval (default `images.schedule`). */
  schedule?: string
  /** Check at start (default `images.runOnBoot` / RUN_ON_BOOT). */
  runOnBoot?: boolean
  /** Base URL for apply links (default `images.publicUrl`). */
  publicUrl?: string
}

export interface ImagesMode extends ServiceMode {
  /** Runs a pass now (or joins the one running). */
  runNow(): Promise<WatchReport | undefined>
  readonly nextRunAt: Date | undefined
}

/** Next run time from a cron expression or an interval. */
export async function nextRun(schedule: string | undefined, intervalSeconds: number, from = new Date()): Promise<Date> {
  if (schedule) {
    const {CronExpressionParser} = await import('cron-parser')
    return CronExpressionParser.parse(schedule, {currentDate: from}).next().toDate()
  }
  return new Date(from.getTime() + intervalSeconds * 1000)
}

export async function validateSchedule(schedule: string | undefined): Promise<void> {
  if (!schedule) return
  const {CronExpressionParser} = await import('cron-parser')
  try {
    CronExpressionParser.parse(schedule)
  } catch (error) {
    throw new UserError(`images.schedule "${schedule}" is not a cron expression: ${errorMessage(error)}`, {
      hint: 'five fields: minute hour day-of-month month day-of-week, e.g. "0 */6 * * *"',
    })
  }
}

/**
 * `images serve` as a ServiceMode (DESIGN.md §5.8): the check scheduler
 * (interval or cron, RUN_ON_BOOT), the apply-link endpoints, `/status` and
 * `/history`, metrics, and a snapshot for the web UI.
 */
export function createImagesMode(options: ImagesModeOptions = {}): ImagesMode {
  let context: Context | undefined
  let runtime: ModeRuntime | undefined
  let scheduler: Periodic | undefined
  let running: Promise<WatchReport | undefined> | undefined
  let stopped = false
  let lastReport: WatchReport | undefined
  let lastRunAt: Date | undefined
  let lastError: string | undefined
  let next: Date | undefined
  let metrics: {checked: Counter; available: Gauge; applied: Counter} | undefined

  const settings = () => {
    const images = context!.config.images
    return {
      intervalSeconds: options.intervalSeconds ?? images.intervalSeconds,
      schedule: options.schedule ?? images.schedule,
      runOnBoot: options.runOnBoot ?? images.runOnBoot,
      publicUrl: options.publicUrl ?? images.publicUrl,
    }
  }

  const nextDelayMs = async () => {
    const s = settings()
    next = await nextRun(s.schedule, s.intervalSeconds)
    context!.logger.debug('next image check', {at: next.toISOString()})
    return next.getTime() - Date.now()
  }
  const schedule = async () => {
    if (stopped) return
    scheduler = periodic({run: pass, nextDelayMs})
    await scheduler.start()
  }

  const pass = (): Promise<WatchReport | undefined> => {
    if (running) return running
    running = (async () => {
      const {runWatch} = await import('./watcher.js')
      const started = new Date()
      try {
        const report = await runWatch(context!, {publicUrl: settings().publicUrl})
        lastReport = report
        lastError = undefined
        metrics?.checked.inc({}, report.check.results.length)
        metrics?.available.set(report.check.summary.updates)
        for (const u of report.updates) metrics?.applied.inc({result: u.result})
        context!.logger.info('image check done', {
          workloads: report.check.summary.workloads,
          updates: report.check.summary.updates,
          errors: report.check.summary.errors,
          notified: report.notified.length,
          applied: report.updates.filter((u) => u.result === 'applied').length,
          ms: Date.now() - started.getTime(),
        })
        return report
      } catch (error) {
        lastError = errorMessage(error)
        context!.logger.error('image check failed', {error: lastError})
        return undefined
      } finally {
        lastRunAt = started
        running = undefined
      }
    })()
    return running
  }

  const mode: ImagesMode = {
    name: 'images',
    get nextRunAt() {
      return next
    },

    routes(router: Router) {
      router.get('/status', async () => json(await status()))
      router.get('/history', async (request) => {
        const {updateHistory} = await import('./history.js')
        const limit = Number(request.query.get('limit') ?? 100)
        const workload = request.query.get('workload') ?? undefined
        return json({
          updates: updateHistory(await context!.state(), {workload, limit: Number.isFinite(limit) ? limit : 100}),
        })
      })
      // Web UI actions: serve.apiKey, or from this machine only when none is set (the "no key" policy).
      const writes = {
        access: {apiKey: () => context?.config.serve.apiKey, allowList: () => allowList()},
        bodyLimit: 4 * 1024,
      }
      router.post('/update', (request) => updateFromUi(request), writes)
      router.post(
        '/check',
        async () => {
          const report = await pass()
          return json({ok: report !== undefined, lastError: lastError ?? null, summary: report?.check.summary ?? null})
        },
        writes,
      )
      // The signed one-time token is the authentication (see RouteOptions.tokenAuth).
      router.get('/apply', (request) => confirmPage(request), {tokenAuth: true})
      // The confirmation page's plain form posts it (form-urlencoded); scripts may send JSON.
      router.post('/apply', (request) => applyFromLink(request), {
        bodyLimit: 8 * 1024,
        tokenAuth: true,
        bodyTypes: ['form', 'json'],
      })
    },

    async start(rt: ModeRuntime) {
      runtime = rt
      context = rt.context
      stopped = false
      await validateSchedule(settings().schedule)
      // A notifier lacking a key fails the start (exit 2), not every check after it.
      await (await import('./watcher.js')).createNotifiers(context)
      metrics = {
        checked: rt.metrics.counter('homeops_images_checked_total', 'Workloads checked for image updates'),
        available: rt.metrics.gauge(
          'homeops_images_updates_available',
          'Workloads with an update available at the last check',
        ),
        applied: rt.metrics.counter('homeops_images_updates_applied_total', 'Image updates applied, by result'),
      }
      // Opens the database now: a broken state path fails the start, not the first check.
      await context.state()
      if (settings().runOnBoot) void pass().finally(() => void schedule())
      else await schedule()
    },

    async stop() {
      stopped = true
      scheduler?.stop()
      scheduler = undefined
      if (running) await running
    },

    health(): ModeHealth {
      if (lastError) return {up: false, detail: `last check failed: ${lastError}`}
      return {up: true, detail: lastRunAt ? `last check ${lastRunAt.toISOString()}` : 'no check yet'}
    },

    async snapshot() {
      const {updateHistory} = await import('./history.js')
      return {...(await status()), history: updateHistory(await context!.state(), {limit: 50})}
    },

    runNow: () => pass(),
  }

  async function status() {
    const s = settings()
    let results: unknown[]
    if (lastReport) results = lastReport.check.results.map(publicResult)
    else {
      const {latestChecks} = await import('./history.js')
      results = latestChecks(await context!.state())
    }
    return {
      running: running !== undefined,
      lastRunAt: lastRunAt?.toISOString() ?? null,
      nextRunAt: next?.toISOString() ?? null,
      schedule: s.schedule ?? `every ${s.intervalSeconds} s`,
      lastError: lastError ?? null,
      results,
    }
  }

  async function confirmPage(request: HttpRequest): Promise<HttpResponse> {
    const token = request.query.get('token') ?? ''
    const check = await verify(token)
    if (!check.ok) return page(check.status, 'Link refused', `<p>${esc(check.message)}</p><p>Nothing was changed.</p>`)
    const {w, v, e} = check.payload
    const {confirmBody} = await import('./apply-confirm.js')
    return applyPage(200, `Apply ${v} to ${w}?`, confirmBody(w, v, e, token, await workloadFacts(w)))
  }

  async function applyFromLink(request: HttpRequest): Promise<HttpResponse> {
    const text = await request.text()
    const type = String(request.headers['content-type'] ?? '')
    let token = ''
    if (type.includes('application/json')) {
      try {
        const sent = (JSON.parse(text) as {token?: unknown}).token
        token = typeof sent === 'string' ? sent : ''
      } catch {
        throw new HttpError(400, {error: 'invalid_json'})
      }
    } else token = new URLSearchParams(text).get('token') ?? ''
    const wantsJson = String(request.headers.accept ?? '').includes('application/json') && !type.includes('form')
    const answer = (status: number, title: string, message: string, data: Record<string, unknown>) =>
      wantsJson ? json(data, status) : page(status, title, `<p>${esc(message)}</p>`)
    const check = await verify(token)
    if (!check.ok)
      return answer(check.status, 'Link refused', `${check.message}. Nothing was changed.`, {
        error: check.reason,
        message: check.message,
      })
    const {consumeNonce} = await import('./links.js')
    const db = await context!.state()
    if (!consumeNonce(db, check.payload))
      return answer(410, 'Link refused', 'this link was already used. Nothing was changed.', {
        error: 'used',
        message: 'this link was already used',
      })
    const {applyWorkloadUpdate} = await import('./watcher.js')
    try {
      const report = await applyWorkloadUpdate(context!, {workload: check.payload.w, to: check.payload.v, by: 'link'})
      metrics?.applied.inc({result: report.outcome?.result ?? 'up_to_date'})
      const ok = report.action === 'updated' || report.action === 'up_to_date'
      const message =
        report.action === 'updated'
          ? `${report.workload} now runs ${check.payload.v}.`
          : report.action === 'up_to_date'
            ? `${report.workload} already runs ${check.payload.v}.`
            : `The update of ${report.workload} failed and was rolled back: ${report.outcome?.error ?? ''}`
      return answer(ok ? 200 : 502, ok ? 'Updated' : 'Update failed', message, {
        action: report.action,
        outcome: report.outcome,
      })
    } catch (error) {
      if (error instanceof LockedError) {
        // Another update holds the lock: the link stays usable.
        db.prepare('DELETE FROM images_link_nonces WHERE nonce = ?').run(check.payload.n)
        return answer(409, 'Busy', 'another update is running; try the link again in a minute.', {error: 'locked'})
      }
      runtime?.context.logger.warn('apply link failed', {workload: check.payload.w, error: errorMessage(error)})
      return answer(error instanceof UserError ? 400 : 502, 'Update failed', errorMessage(error), {
        error: errorMessage(error),
      })
    }
  }

  async function updateFromUi(request: HttpRequest): Promise<HttpResponse> {
    const body = (await request.json()) as {workload?: unknown; to?: unknown}
    if (typeof body.workload !== 'string' || body.workload === '')
      throw new HttpError(400, {error: 'bad_request', message: 'workload is required'})
    if (body.to !== undefined && (typeof body.to !== 'string' || !/^[\w][\w.-]{0,127}$/.test(body.to)))
      throw new HttpError(400, {error: 'bad_request', message: 'to must be a tag'})
    const {applyWorkloadUpdate} = await import('./watcher.js')
    try {
      const report = await applyWorkloadUpdate(context!, {
        workload: body.workload,
        to: body.to,
        by: 'manual',
      })
      metrics?.applied.inc({result: report.outcome?.result ?? 'up_to_date'})
      const ok = report.action === 'updated' || report.action === 'up_to_date'
      return json({action: report.action, outcome: report.outcome}, ok ? 200 : 502)
    } catch (error) {
      if (error instanceof LockedError) throw new HttpError(409, {error: 'locked', message: errorMessage(error)})
      throw error
    }
  }

  let allowCache: {key: string; list: AllowList | undefined} | undefined
  function allowList(): AllowList | undefined {
    const entries = context?.config.serve.allowedIps ?? []
    const key = entries.join(',')
    if (allowCache?.key !== key)
      allowCache = {key, list: entries.length > 0 ? parseAllowList(entries, 'serve.allowedIps') : undefined}
    return allowCache.list
  }

  /** The last check's view of a workload, for the apply page (current version, image, release notes). */
  async function workloadFacts(workload: string) {
    const live = lastReport?.check.results.find((r) => r.workload === workload)
    if (live) return live
    const {latestChecks} = await import('./history.js')
    return latestChecks(await context!.state()).find((r) => r.workload === workload) ?? {}
  }

  async function verify(token: string) {
    const {linkKey, nonceUsed, verifyApplyToken} = await import('./links.js')
    const db = await context!.state()
    const check = verifyApplyToken(linkKey(db), token)
    if (!check.ok)
      return {...check, status: check.reason === 'expired' ? 410 : check.reason === 'bad_signature' ? 403 : 400}
    if (nonceUsed(db, check.payload.n))
      return {ok: false as const, reason: 'used' as const, message: 'this link was already used', status: 410}
    return {...check, status: 200}
  }

  return mode
}

function publicResult(r: CheckResult) {
  return {
    workload: r.workload,
    kind: r.kind,
    image: r.image,
    currentTag: r.currentTag,
    newestAllowed: r.newestAllowed,
    newestOverall: r.newestOverall,
    mode: r.mode,
    strategy: r.strategy,
    status: r.status,
    update: r.update,
    error: r.error,
    note: r.note,
  }
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'})[c]!)
}

function page(status: number, title: string, body: string): HttpResponse {
  const kind = status >= 400 ? 'bad' : /^Updated/.test(title) ? 'ok' : 'plain'
  return applyPage(status, title, body, kind)
}
