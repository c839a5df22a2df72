import type {Family} from '../address.js'
import {quote} from '../detect.js'
import type {DdnsHttpClient, HttpAnswer} from '../http.js'
import type {DdnsRecord} from '../records.js'

/**
 * How the updater must treat a provider's answer:
 * - `good` / `nochg`: the provider holds the address now (store it);
 * - `fatal`: a human must act (badauth, nohost, …): block the record;
 * - `transient`: the provider's side is failing (911, dnserr, 5xx, 429, a malformed answer): persisted back-off;
 * - `error`: an answer we cannot trust (unknown text, wrong echoed address): persisted back-off, exit 1;
 * - `unknown`: no answer, but the request may have reached the provider (timeout, stopped): decided next run;
 * - `unreached`: nothing reached the provider (refused, name not resolved): no back-off, next run sends.
 */
export type AnswerKind = 'good' | 'nochg' | 'fatal' | 'transient' | 'error' | 'unknown' | 'unreached'

export interface ProviderAnswer {
  kind: AnswerKind
  /** Protocol code: `good`, `nochg`, `badauth`, `911`, `http-503`, `timeout`, … */
  code: string
  /** What the provider said, short and printable (first line of the body, or a description). */
  text: string
  /** The address the provider says it now holds, when it says. */
  echoedIp?: string
  httpStatus?: number
  /** The provider asked us to wait at least this long (HTTP Retry-After), already clamped to MAX_REMOTE_DELAY_S. */
  retryAfterSeconds?: number
  /** The Retry-After as sent, when it was out of range or unreadable (the updater warns about it). */
  retryAfterRaw?: string
}

/** The longest wait a remote may impose (the persisted back-off's cap): a huge Retry-After never defers for years. */
export const MAX_REMOTE_DELAY_S = 4 * 3600

export interface UpdateRequest {
  family: Family
  ip: string
  /** Addresses detected this pass, for providers that set both families in one call (DuckDNS). */
  detected: Partial<Record<Family, string>>
}

/** One dynamic DNS service. Implementations never log and never put secrets in errors. */
export interface DdnsProvider {
  update(request: UpdateRequest): Promise<ProviderAnswer>
}

export interface ProviderDeps {
  record: DdnsRecord
  http: DdnsHttpClient
}

/** 5xx, 429 and the like: the shared part of every provider's HTTP status handling. */
export function statusAnswer(answer: HttpAnswer): ProviderAnswer | undefined {
  const retryAfter = parseRetryAfter(answer.headers['retry-after'])
  if (answer.status === 429) {
    return {kind: 'transient', code: 'http-429', text: 'too many requests', httpStatus: 429, ...retryAfter}
  }
  if (answer.status >= 500) {
    return {
      kind: 'transient',
      code: `http-${answer.status}`,
      text: firstLine(answer.body) || `HTTP ${answer.status}`,
      httpStatus: answer.status,
      ...retryAfter,
    }
  }
  return undefined
}

/** An answer that does not have the documented shape: the provider's side is broken, never a reason to block. */
export function malformed(what: string, answer: HttpAnswer): ProviderAnswer {
  return {kind: 'transient', code: 'malformed', text: `${what} (HTTP ${answer.status})`, httpStatus: answer.status}
}

export function firstLine(body: string): string {
  const line = body.split(/\r?\n/).find((l) => l.trim() !== '') ?? ''
  return JSON.parse(quote(line.trim())) as string
}

/**
 * HTTP Retry-After (RFC 9110 §10.2.3: delay-seconds or an HTTP date), clamped to 0…MAX_REMOTE_DELAY_S.
 * A value out of range or unreadable is reported in `retryAfterRaw` (cut to 64 characters).
 */
export function parseRetryAfter(
  value: string | string[] | undefined,
  now: number = Date.now(),
): Pick<ProviderAnswer, 'retryAfterSeconds' | 'retryAfterRaw'> {
  const text = (Array.isArray(value) ? value[0] : value)?.trim()
  if (!text) return {}
  const raw = text.slice(0, 64)
  let seconds: number
  if (/^\d+$/.test(text)) seconds = Number(text)
  else {
    // An HTTP date starts with the day name (IMF-fixdate, RFC 850, asctime); Date.parse alone takes "-5".
    const at = /^[A-Za-z]{3}/.test(text) ? Date.parse(text) : Number.NaN
    if (Number.isNaN(at)) return {retryAfterRaw: raw}
    seconds = Math.max(0, Math.ceil((at - now) / 1000))
  }
  if (!Number.isFinite(seconds) || seconds > MAX_REMOTE_DELAY_S) {
    return {retryAfterSeconds: MAX_REMOTE_DELAY_S, retryAfterRaw: raw}
  }
  return {retryAfterSeconds: seconds}
}
