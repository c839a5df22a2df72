import {TransientError, errnoCode, errorMessage} from '../errors.js'

export interface OutgoingRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH'
  headers?: Record<string, string>
  body?: string
  /** One deadline for connect, headers and body. */
  timeoutMs?: number
  /** Longer answers are cut: a broken service must not fill memory. */
  maxChars?: number
}

export interface OutgoingAnswer {
  status: number
  text: string
}

/**
 * One small request to a remote service (notifiers, GitHub, an OpenAI-compatible
 * endpoint) with undici, loaded on first use. A network failure or timeout
 * throws a TransientError naming `service`, never the URL: webhook URLs and
 * query strings often hold tokens. Any HTTP status is returned to the caller.
 */
export async function requestText(
  url: string,
  service: string,
  request: OutgoingRequest = {},
): Promise<OutgoingAnswer> {
  const timeoutMs = request.timeoutMs ?? 10_000
  const {request: send} = await import('undici')
  try {
    const response = await send(url, {
      method: request.method ?? 'GET',
      body: request.body,
      headers: {'user-agent': 'homeops', ...request.headers},
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    })
    const text = await response.body.text()
    return {status: response.statusCode, text: text.slice(0, request.maxChars ?? 1_000_000)}
  } catch (error) {
    const code = errnoCode(error) ?? errnoCode((error as {cause?: unknown}).cause)
    const reason =
      (error as {name?: string}).name === 'TimeoutError'
        ? `no answer within ${timeoutMs / 1000} s`
        : (code ?? errorMessage(error))
    throw new TransientError(`${service}: ${reason}`, {cause: error})
  }
}
