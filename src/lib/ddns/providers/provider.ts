import type {Family} from '../address.js'
import {quote} from '../detect.js'
import type {DdnsHttpClient, HttpAnswer} from '../http.js'
import type {DdnsRecord} from '../records.js'

/**
 * How the updater must treat a provider's answer:
 * - `good` / `nochg`: the provider holds the address now (store it);
 * - `fatal`: a human must act (badauth, nohost, …): block the record;
 * - `transient`: retry with backoff (911, dnserr, 5xx, timeouts);
 * - `error`: an answer we cannot trust (unknown text, wrong echoed address).
 */
export type AnswerKind = 'good' | 'nochg' | 'fatal' | 'transient' | 'error'

export interface ProviderAnswer {
  kind: AnswerKind
  /** Protocol code: `good`, `nochg`, `badauth`, `911`, `http-503`, `timeout`, … */
  code: string
  /** What the provider said, short and printable (first line of the body, or a description). */
  text: string
  /** The address the provider says it now holds, when it says. */
  echoedIp?: string
  httpStatus?: number
  /** The provider asked us to wait at least this long (HTTP Retry-After). */
  retryAfterSeconds?: number
}

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
    return {
      kind: 'transient',
      code: 'http-429',
      text: 'too many requests',
      httpStatus: 429,
      retryAfterSeconds: retryAfter,
    }
  }
  if (answer.status >= 500) {
    return {
      kind: 'transient',
      code: `http-${answer.status}`,
      text: firstLine(answer.body) || `HTTP ${answer.status}`,
      httpStatus: answer.status,
      retryAfterSeconds: retryAfter,
    }
  }
  return undefined
}

export function firstLine(body: string): string {
  const line = body.split(/\r?\n/).find((l) => l.trim() !== '') ?? ''
  return JSON.parse(quote(line.trim())) as string
}

function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value
  if (!text) return undefined
  if (/^\d+$/.test(text.trim())) return Number(text.trim())
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, Math.round((at - Date.now()) / 1000))
}
