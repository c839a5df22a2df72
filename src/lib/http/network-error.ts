import {errnoCode, errorMessage} from '../errors.js'

/** How a failed request is worded, and whether trying again later can help. */
export interface NetworkFailure {
  /** One line, no URL (URLs carry tokens): `connection refused`, `no answer within 10 s`, … */
  reason: string
  /** Worth retrying (refused, reset, timeout, DNS); false for TLS and protocol mistakes a human must fix. */
  transient: boolean
  timedOut: boolean
  /** The request never left (refused, name not resolved, no route): nothing reached the server, resending is harmless. */
  unreachable: boolean
}

/** Errors raised before a request could reach the server. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EADDRNOTAVAIL',
])

/**
 * A request that got no (complete) answer, as thrown by the outgoing HTTP module (client.ts): already
 * worded in the vocabulary below. `phase` says whether the failure came before the status line
 * (`request`) or while the body streamed (`body`).
 */
export class NetworkError extends Error {
  readonly reason: string
  readonly transient: boolean
  readonly timedOut: boolean
  readonly unreachable: boolean
  readonly aborted: boolean

  constructor(
    failure: NetworkFailure & {aborted?: boolean},
    readonly phase: 'request' | 'body',
    cause?: unknown,
  ) {
    super(failure.reason, {cause})
    this.name = 'NetworkError'
    this.reason = failure.reason
    this.transient = failure.transient
    this.timedOut = failure.timedOut
    this.unreachable = failure.unreachable
    this.aborted = failure.aborted ?? false
  }
}

const TLS_CERT = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

/**
 * The one vocabulary for network failures of outgoing requests (undici or
 * node's http): every caller that words an error for a user goes through here,
 * so the same failure reads the same in ddns, notifiers, registries and Docker.
 */
export function describeNetworkError(error: unknown, timeoutMs?: number): NetworkFailure {
  if (error instanceof NetworkError) {
    const {reason, transient, timedOut, unreachable} = error
    return {reason, transient, timedOut, unreachable}
  }
  const cause = (error as {cause?: unknown} | undefined)?.cause
  const code = errnoCode(error) ?? errnoCode(cause)
  const name = (error as {name?: string} | undefined)?.name
  const text = `${errorMessage(error)} ${cause ? errorMessage(cause) : ''}`
  const fail = (reason: string, transient = true, timedOut = false): NetworkFailure => ({
    reason,
    transient,
    timedOut,
    unreachable: code !== undefined && UNREACHABLE.has(code),
  })
  if (
    name === 'TimeoutError' ||
    code === 'ETIMEDOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT'
  ) {
    return fail(timeoutMs === undefined ? 'no answer in time' : `no answer within ${timeoutMs / 1000} s`, true, true)
  }
  if (name === 'AbortError' || code === 'ABORT_ERR' || code === 'UND_ERR_ABORTED') return fail('aborted')
  if (
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' ||
    /wrong version number|packet length too long/i.test(text)
  ) {
    return fail(
      'TLS handshake failed: the server does not speak TLS on this port (an https:// URL for a plain http:// service?)',
      false,
    )
  }
  if (code !== undefined && TLS_CERT.has(code)) return fail(`TLS certificate rejected (${code})`, false)
  if (code?.startsWith('ERR_SSL_') || code === 'EPROTO' || /SSL routines/.test(text)) {
    return fail(`TLS handshake failed (${code ?? 'protocol error'})`, false)
  }
  switch (code) {
    case 'ECONNREFUSED':
      return fail('connection refused')
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return fail('name not resolved')
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return fail('connection reset')
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
    case 'EADDRNOTAVAIL':
      return fail('network unreachable over this address family')
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_INVALID_VERSION':
    case 'HPE_INVALID_HEADER_TOKEN':
      return fail('the server did not answer with valid HTTP', false)
    default:
      return fail(oneLine(errorMessage(error)))
  }
}

/** A message fit for a log field or a table cell: one line, bounded. */
export function oneLine(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max)}…` : flat
}
