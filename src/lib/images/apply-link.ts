import type {Context} from '../context.js'
import {LockedError, UserError, errorMessage} from '../errors.js'
import {type HttpRequest, type HttpResponse, HttpError, json} from '../http/router.js'
import type {ApplyFacts} from './apply-confirm.js'
import {applyPage, messagePage} from './apply-page.js'
import type {ApplyLinkPayload} from './links.js'

/** What the link endpoints need from the mode. */
export interface ApplyLinkDeps {
  context(): Context
  /** The last check's view of the workload, for the confirmation page. */
  facts(workload: string): Promise<ApplyFacts>
  /** Told the result of each update a link started (metrics). */
  applied(result: string): void
}

type LinkCheck =
  {ok: true; payload: ApplyLinkPayload; status: 200} | {ok: false; reason: string; message: string; status: number}

/**
 * `GET /apply?token=`: the confirmation page. Nothing changes on a GET (mail
 * scanners and link previews open links); the page's button posts the token.
 */
export async function confirmPage(deps: ApplyLinkDeps, request: HttpRequest): Promise<HttpResponse> {
  const token = request.query.get('token') ?? ''
  const check = await verify(deps.context(), token)
  if (!check.ok) return messagePage(check.status, 'Link refused', check.message, 'Nothing was changed.')
  const {w, v, e} = check.payload
  const {confirmBody} = await import('./apply-confirm.js')
  return applyPage(200, `Apply ${v} to ${w}?`, confirmBody(w, v, e, token, await deps.facts(w)))
}

/**
 * `POST /apply`: checks the token, uses it up, applies the update and says how
 * it went, as a page (the confirmation form) or JSON (scripts).
 */
export async function applyFromLink(deps: ApplyLinkDeps, request: HttpRequest): Promise<HttpResponse> {
  const text = await request.text()
  const type = String(request.headers['content-type'] ?? '')
  const token = tokenOf(text, type)
  const wantsJson = String(request.headers.accept ?? '').includes('application/json') && !type.includes('form')
  const answer = (status: number, title: string, message: string, data: Record<string, unknown>) =>
    wantsJson ? json(data, status) : messagePage(status, title, message)

  const context = deps.context()
  const check = await verify(context, token)
  if (!check.ok)
    return answer(check.status, 'Link refused', `${check.message}. Nothing was changed.`, {
      error: check.reason,
      message: check.message,
    })
  const {consumeNonce, releaseNonce} = await import('./links.js')
  const db = await context.state()
  if (!consumeNonce(db, check.payload))
    return answer(410, 'Link refused', 'this link was already used. Nothing was changed.', {
      error: 'used',
      message: 'this link was already used',
    })

  const {applyWorkloadUpdate} = await import('./watcher.js')
  const {w: workload, v: version} = check.payload
  try {
    const report = await applyWorkloadUpdate(context, {workload, to: version, by: 'link'})
    deps.applied(report.outcome?.result ?? 'up_to_date')
    const ok = report.action === 'updated' || report.action === 'up_to_date'
    const message =
      report.action === 'updated'
        ? `${report.workload} now runs ${version}.`
        : report.action === 'up_to_date'
          ? `${report.workload} already runs ${version}.`
          : `The update of ${report.workload} failed and was rolled back: ${report.outcome?.error ?? ''}`
    return answer(ok ? 200 : 502, ok ? 'Updated' : 'Update failed', message, {
      action: report.action,
      outcome: report.outcome,
    })
  } catch (error) {
    if (error instanceof LockedError) {
      // Another update holds the lock: the link stays usable.
      releaseNonce(db, check.payload.n)
      return answer(409, 'Busy', 'another update is running; try the link again in a minute.', {error: 'locked'})
    }
    context.logger.warn('apply link failed', {workload, error: errorMessage(error)})
    return answer(error instanceof UserError ? 400 : 502, 'Update failed', errorMessage(error), {
      error: errorMessage(error),
    })
  }
}

/** The token of a POST: `token=` of the confirmation form, or `{"token": …}` from a script. */
function tokenOf(text: string, contentType: string): string {
  if (!contentType.includes('application/json')) return new URLSearchParams(text).get('token') ?? ''
  try {
    const token = (JSON.parse(text) as {token?: unknown}).token
    return typeof token === 'string' ? token : ''
  } catch {
    throw new HttpError(400, {error: 'invalid_json'})
  }
}

/** Signature, expiry and one-time use, with the HTTP status a refusal answers. */
async function verify(context: Context, token: string): Promise<LinkCheck> {
  const {linkKey, nonceUsed, verifyApplyToken} = await import('./links.js')
  const db = await context.state()
  const check = verifyApplyToken(linkKey(db), token)
  if (!check.ok)
    return {...check, status: check.reason === 'expired' ? 410 : check.reason === 'bad_signature' ? 403 : 400}
  if (nonceUsed(db, check.payload.n))
    return {ok: false, reason: 'used', message: 'this link was already used', status: 410}
  return {...check, status: 200}
}
