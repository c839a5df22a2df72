import {OperationError, TransientError, errnoCode, errorMessage} from '../errors.js'

export interface PostResult {
  status: number
  body: string
}

/**
 * POSTs to a notification service with a timeout. 4xx is a configuration
 * problem (OperationError), 5xx/429/network trouble is worth retrying
 * (TransientError). `what` names the notifier, never its URL (it may hold a secret).
 */
export async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  what: string,
  timeoutMs = 10_000,
): Promise<PostResult> {
  const {request} = await import('undici')
  let response
  try {
    response = await request(url, {
      method: 'POST',
      body,
      headers: {'user-agent': 'homeops', ...headers},
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    })
  } catch (error) {
    const code = errnoCode(error) ?? errnoCode((error as {cause?: unknown}).cause)
    const reason =
      (error as {name?: string}).name === 'TimeoutError'
        ? `no answer within ${timeoutMs / 1000} s`
        : (code ?? errorMessage(error))
    throw new TransientError(`${what}: cannot deliver the notification (${reason})`)
  }
  const text = (await response.body.text()).slice(0, 2000)
  if (response.statusCode >= 200 && response.statusCode < 300) return {status: response.statusCode, body: text}
  const detail = text.replace(/\s+/g, ' ').trim().slice(0, 200)
  const message = `${what}: the service answered HTTP ${response.statusCode}${detail ? ` (${detail})` : ''}`
  if (response.statusCode === 429 || response.statusCode >= 500) throw new TransientError(message)
  throw new OperationError(message, {hint: 'check the notifier URL and token in the config'})
}
