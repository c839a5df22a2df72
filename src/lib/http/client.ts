import {StringDecoder} from 'node:string_decoder'

import {OperationError, TransientError} from '../errors.js'
import {describeNetworkError} from './network-error.js'

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

const REDIRECTS = new Set([301, 302, 303, 307, 308])

/**
 * One small request to a remote service (notifiers, GitHub, an OpenAI-compatible
 * endpoint) with undici, loaded on first use. A network failure or timeout
 * throws a TransientError naming `service`, never the URL: webhook URLs and
 * query strings often hold tokens; a TLS mistake (an https:// URL to a plain
 * HTTP port) or a redirect loop is an OperationError, not retried. Any other
 * HTTP status is returned to the caller.
 */
export async function requestText(
  url: string,
  service: string,
  request: OutgoingRequest = {},
): Promise<OutgoingAnswer> {
  const timeoutMs = request.timeoutMs ?? 10_000
  const {request: send} = await import('undici')
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new DOMException('deadline passed', 'TimeoutError')), timeoutMs)
  try {
    return await follow(send, url, service, request, controller.signal, timeoutMs)
  } finally {
    clearTimeout(timer)
  }
}

async function follow(
  send: typeof import('undici').request,
  url: string,
  service: string,
  request: OutgoingRequest,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<OutgoingAnswer> {
  const maxChars = request.maxChars ?? 1_000_000
  const maxRedirects = request.maxRedirects ?? 5
  let target: URL
  try {
    target = new URL(url)
  } catch {
    throw new OperationError(`${service}: the URL is not a valid http(s) URL`, {hint: 'check the URL in the config'})
  }
  let method: string = request.method ?? 'GET'
  let body = request.body
  const visited = new Set<string>([target.href])
  for (let hop = 0; ; hop++) {
    try {
      const response = await send(target, {
        method: method as 'GET',
        body,
        headers: {'user-agent': 'homeops', ...request.headers},
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      })
      const location = response.headers.location
      if (REDIRECTS.has(response.statusCode) && typeof location === 'string' && maxRedirects > 0) {
        discard(response.body)
        const next = new URL(location, target)
        if (next.hostname !== target.hostname || (target.protocol === 'https:' && next.protocol !== 'https:')) {
          throw new OperationError(
            `${service}: answered HTTP ${response.statusCode}, a redirect to ${next.protocol}//${next.host} (another host or plain http), not followed`,
            {hint: 'put the final URL in the config'},
          )
        }
        if (visited.has(next.href)) {
          throw new OperationError(
            `${service}: redirect loop (HTTP ${response.statusCode} back to an address already visited)`,
            {
              hint: 'the service is misconfigured, or the URL in the config is not its API endpoint',
            },
          )
        }
        if (hop + 1 > maxRedirects) {
          throw new OperationError(`${service}: too many redirects (more than ${maxRedirects}), a redirect loop`, {
            hint: 'the service is misconfigured, or the URL in the config is not its API endpoint',
          })
        }
        visited.add(next.href)
        if (response.statusCode === 303) {
          method = 'GET'
          body = undefined
        }
        target = next
        continue
      }
      return {status: response.statusCode, text: await readCapped(response.body, maxChars)}
    } catch (error) {
      if (error instanceof OperationError) throw error
      const failure = describeNetworkError(error, timeoutMs)
      if (!failure.transient) {
        throw new OperationError(`${service}: ${failure.reason}`, {
          hint: 'check the URL in the config (scheme, host and port)',
          cause: error,
        })
      }
      throw new TransientError(`${service}: ${failure.reason}`, {cause: error})
    }
  }
}

/** At most `maxChars` characters of a body; reading stops (and the connection is dropped) once that much arrived. */
async function readCapped(
  body: AsyncIterable<Buffer> & {destroy(error?: Error): unknown},
  maxChars: number,
): Promise<string> {
  const decoder = new StringDecoder('utf8')
  let text = ''
  for await (const chunk of body) {
    text += decoder.write(chunk)
    if (text.length >= maxChars) {
      discard(body)
      return text.slice(0, maxChars)
    }
  }
  return (text + decoder.end()).slice(0, maxChars)
}

/** Drops the rest of a body; a late abort of the request must not surface as an unhandled stream error. */
function discard(body: {destroy(error?: Error): unknown; on?(event: 'error', listener: () => void): unknown}): void {
  body.on?.('error', () => undefined)
  body.destroy()
}
