import {StringDecoder} from 'node:string_decoder'

import {OperationError, TransientError} from '../errors.js'
import {NetworkError, describeNetworkError} from './network-error.js'
import {proxyFor} from './proxy.js'
import {
  type Exchange,
  type HttpHeaders,
  ProxyRefusedError,
  type Transport,
  type TransportOptions,
  TransportTimeoutError,
} from './transport.js'

export type {HttpHeaders} from './transport.js'

/**
 * The one module every outgoing HTTP request of homeops goes through (docs/contributing.md, "Principles":
 * "outgoing HTTP through one module on undici"): registries, notifiers, GitHub, OpenAI-compatible endpoints,
 * cloud token services, ddns providers and IP echo services, doctor. It owns, once for all:
 * - deadlines: connect (per pool), idle (no byte for that long) and one total deadline covering
 *   connect, headers, body and every redirect;
 * - answer size caps applied while the body streams (the rest is never read);
 * - redirects: followed on the same host only, unless a caller opts in to other hosts; credentials
 *   (Authorization, Cookie) never follow to another host or from https to http; loops reported as such;
 * - proxies from the environment (`proxy.ts`: HTTPS_PROXY, HTTP_PROXY, NO_PROXY);
 * - one error vocabulary: every failure is a `NetworkError` worded by `describeNetworkError`.
 *
 * The wire underneath is a `Transport` (transport.ts), chosen per pool. Measured on Node 20
 * (scripts/bench/ddns.mjs, figures in docs/performance.md): undici costs ~100 ms of CPU and ~20 MiB to import and
 * ~100 ms more to compile its WebAssembly parser on the first request (Node's bundled undici behind
 * `fetch` ~125 ms and ~43 MiB), against ~12 ms and ~4 MiB for node's http. So undici serves every caller
 * (the default), except the short-lived timer run (`ddns update`, a pool with `transport: 'node'`), where
 * undici alone would cost more than twice the run.
 */
export interface HttpRequestOptions {
  method?: string
  headers?: Record<string, string>
  body?: string | Buffer
  /** One deadline for connect, headers, body and every redirect (default 10 s). */
  timeoutMs?: number
  /** Longest silence while waiting for the answer or its next bytes (default: the total deadline). */
  idleTimeoutMs?: number
  /** Longest answer body (default 16 MiB). */
  maxBytes?: number
  /** Past `maxBytes`: fail with AnswerTooLargeError (default), or keep the first `maxBytes` and stop reading. */
  overflow?: 'error' | 'cut'
  redirects?: {
    /** Redirects followed (default 5); 0 returns a 3xx answer as it is. More than this is an error. */
    max?: number
    /** Follow a redirect to another host (default: refuse it with a RedirectError). Credentials never follow. */
    crossHost?: boolean
  }
  /** Connect over this address family only. */
  family?: 4 | 6
  signal?: AbortSignal
  /** Keep-alive connections to reuse (and which transport); default: one shared undici pool. */
  pool?: HttpPool
  /** Where proxy settings come from (default process.env). */
  env?: Record<string, string | undefined>
}

export interface HttpAnswer {
  status: number
  headers: HttpHeaders
  body: Buffer
  /** The URL that answered, after redirects. */
  url: string
}

export interface HttpPoolOptions extends Partial<TransportOptions> {
  /** `undici` (default) or node's own `http` for short-lived processes (see above). */
  transport?: 'undici' | 'node'
}

/** Keep-alive connections (one transport); `close()` them when the owner is done. */
export class HttpPool {
  private transport?: Promise<Transport>
  readonly connectTimeoutMs: number

  constructor(private readonly options: HttpPoolOptions = {}) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000
  }

  /** @internal */
  get(): Promise<Transport> {
    this.transport ??= (async () => {
      const settings: TransportOptions = {
        connectTimeoutMs: this.connectTimeoutMs,
        keepAliveMs: this.options.keepAliveMs ?? 10_000,
        maxSockets: this.options.maxSockets,
      }
      if (this.options.transport === 'node') {
        const {NodeTransport} = await import('./transport-node.js')
        return new NodeTransport(settings)
      }
      const {UndiciTransport} = await import('./transport-undici.js')
      return new UndiciTransport(settings)
    })()
    return this.transport
  }

  async close(): Promise<void> {
    const transport = this.transport
    this.transport = undefined
    if (transport) await (await transport).close()
  }
}

const sharedPool = new HttpPool()

export class AnswerTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the answer is longer than ${maxBytes} bytes`)
    this.name = 'AnswerTooLargeError'
  }
}

/** A redirect refused (another host, https to http), a loop, or too many: the URL needs fixing, not a retry. */
export class RedirectError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message)
    this.name = 'RedirectError'
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])
/** Headers that carry credentials: never sent to another host than the one they were given for. */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization']
const MISCONFIGURED = 'the service is misconfigured, or the URL in the config is not its API endpoint'

/**
 * One request. Resolves with any HTTP status; rejects with NetworkError (no or no complete answer,
 * worded by network-error.ts), RedirectError, AnswerTooLargeError, or OperationError for a bad proxy
 * setting. Never puts the URL in an error (URLs carry tokens).
 */
export async function httpRequest(url: string | URL, options: HttpRequestOptions = {}): Promise<HttpAnswer> {
  const totalMs = options.timeoutMs ?? 10_000
  const idleMs = Math.min(options.idleTimeoutMs ?? totalMs, totalMs)
  const pool = options.pool ?? sharedPool
  const transport = await pool.get()
  const deadline = new AbortController()
  const caller = options.signal
  const onAbort = () => deadline.abort(caller?.reason)
  if (caller?.aborted) onAbort()
  else caller?.addEventListener('abort', onAbort, {once: true})
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    deadline.abort(new DOMException('deadline passed', 'TimeoutError'))
  }, totalMs)
  const fail = (error: unknown, phase: 'request' | 'body'): never => {
    if (error instanceof NetworkError || error instanceof AnswerTooLargeError || error instanceof RedirectError)
      throw error
    if (error instanceof OperationError) throw error
    if (caller?.aborted) {
      throw new NetworkError(
        {reason: 'aborted', transient: true, timedOut: false, unreachable: false, aborted: true},
        phase,
        error,
      )
    }
    if (timedOut)
      throw new NetworkError(describeNetworkError(new DOMException('deadline', 'TimeoutError'), totalMs), phase, error)
    if (error instanceof ProxyRefusedError) {
      throw new NetworkError({reason: error.message, transient: true, timedOut: false, unreachable: true}, phase, error)
    }
    const code = (error as {code?: string} | undefined)?.code
    const bound =
      error instanceof TransportTimeoutError
        ? error.timeoutMs
        : code === 'UND_ERR_CONNECT_TIMEOUT'
          ? pool.connectTimeoutMs
          : code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT'
            ? idleMs
            : totalMs
    throw new NetworkError(describeNetworkError(error, bound), phase, error)
  }
  try {
    let target = typeof url === 'string' ? new URL(url) : url
    let method = options.method ?? 'GET'
    let body = typeof options.body === 'string' ? Buffer.from(options.body) : options.body
    let headers: Record<string, string> = {'user-agent': 'homeops', ...lowercased(options.headers)}
    const maxRedirects = options.redirects?.max ?? 5
    const visited = new Set([target.href])
    for (let hop = 0; ; hop++) {
      let exchange: Exchange
      try {
        exchange = await transport.send({
          url: target,
          method,
          headers,
          body,
          signal: deadline.signal,
          family: options.family,
          proxy: proxyFor(target, options.env),
          idleTimeoutMs: idleMs,
        })
      } catch (error) {
        return fail(error, 'request')
      }
      const location = single(exchange.headers.location)
      if (maxRedirects > 0 && REDIRECTS.has(exchange.status) && location !== undefined) {
        exchange.destroy()
        const next = new URL(location, target)
        const otherHost = next.host !== target.host
        const downgrade = target.protocol === 'https:' && next.protocol !== 'https:'
        if ((otherHost || downgrade) && !options.redirects?.crossHost) {
          throw new RedirectError(
            `answered HTTP ${exchange.status}, a redirect to ${next.protocol}//${next.host} (another host or plain http), not followed`,
            'put the final URL in the config',
          )
        }
        if (visited.has(next.href)) {
          throw new RedirectError(
            `redirect loop (HTTP ${exchange.status} back to an address already visited)`,
            MISCONFIGURED,
          )
        }
        if (hop + 1 > maxRedirects) {
          throw new RedirectError(`too many redirects (more than ${maxRedirects}), a redirect loop`, MISCONFIGURED)
        }
        if (otherHost || downgrade)
          headers = Object.fromEntries(Object.entries(headers).filter(([name]) => !CREDENTIAL_HEADERS.includes(name)))
        visited.add(next.href)
        if (exchange.status === 303) {
          method = 'GET'
          body = undefined
          headers = Object.fromEntries(
            Object.entries(headers).filter(([name]) => name !== 'content-length' && name !== 'content-type'),
          )
        }
        target = next
        continue
      }
      let answer: Buffer
      try {
        answer = await readCapped(exchange, options.maxBytes ?? 16 * 1024 * 1024, options.overflow ?? 'error')
      } catch (error) {
        return fail(error, 'body')
      }
      return {status: exchange.status, headers: exchange.headers, body: answer, url: target.href}
    }
  } finally {
    clearTimeout(timer)
    caller?.removeEventListener('abort', onAbort)
  }
}

/** At most `maxBytes` of a body; reading stops (and the connection is dropped) once more arrives. */
async function readCapped(exchange: Exchange, maxBytes: number, overflow: 'error' | 'cut'): Promise<Buffer> {
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of exchange.body) {
    if (length + chunk.length <= maxBytes) {
      chunks.push(chunk)
      length += chunk.length
      continue
    }
    exchange.destroy()
    if (overflow === 'error') throw new AnswerTooLargeError(maxBytes)
    chunks.push(chunk.subarray(0, maxBytes - length))
    break
  }
  return Buffer.concat(chunks)
}

function lowercased(headers: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]))
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

// ---- text answers for a named service -------------------------------------------------------------

export interface OutgoingRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH'
  headers?: Record<string, string>
  body?: string
  /** One deadline for connect, headers, body and every redirect. */
  timeoutMs?: number
  /** Longer answers are cut while they stream (the rest is never read): a broken service must not fill memory. */
  maxChars?: number
  /** Redirects followed on the same host (default 5); to another host they are refused, never followed. */
  maxRedirects?: number
}

export interface OutgoingAnswer {
  status: number
  text: string
}

/**
 * One small request to a remote service (notifiers, GitHub, an OpenAI-compatible endpoint). A network
 * failure or timeout throws a TransientError naming `service`, never the URL: webhook URLs and query
 * strings often hold tokens; a TLS mistake (an https:// URL to a plain HTTP port) or a redirect refused
 * or looping is an OperationError, not retried. Any other HTTP status is returned to the caller.
 */
export async function requestText(
  url: string,
  service: string,
  request: OutgoingRequest = {},
): Promise<OutgoingAnswer> {
  let target: URL
  try {
    target = new URL(url)
  } catch {
    throw new OperationError(`${service}: the URL is not a valid http(s) URL`, {hint: 'check the URL in the config'})
  }
  const maxChars = request.maxChars ?? 1_000_000
  try {
    const answer = await httpRequest(target, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      timeoutMs: request.timeoutMs,
      // A UTF-8 character is at most 4 bytes: this many bytes always hold `maxChars` characters.
      maxBytes: maxChars * 4 + 4,
      overflow: 'cut',
      redirects: {max: request.maxRedirects ?? 5},
    })
    const decoder = new StringDecoder('utf8')
    return {status: answer.status, text: (decoder.write(answer.body) + decoder.end()).slice(0, maxChars)}
  } catch (error) {
    if (error instanceof RedirectError) throw new OperationError(`${service}: ${error.message}`, {hint: error.hint})
    if (error instanceof NetworkError && !error.transient) {
      throw new OperationError(`${service}: ${error.reason}`, {
        hint: 'check the URL in the config (scheme, host and port)',
        cause: error.cause,
      })
    }
    if (error instanceof NetworkError) throw new TransientError(`${service}: ${error.reason}`, {cause: error.cause})
    throw error
  }
}
