import {OperationError, TransientError} from '../errors.js'
import {type OutgoingAnswer, requestText} from '../http/client.js'

/**
 * Sends a JSON or form body to a notification service. 4xx is a configuration problem
 * (OperationError), 5xx/429/network trouble is worth retrying (TransientError). `what` names the
 * notifier, never its URL (it may hold a secret: Telegram and Discord put tokens in the path).
 */
export async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  what: string,
  timeoutMs = 10_000,
  method: 'POST' | 'PUT' = 'POST',
): Promise<OutgoingAnswer> {
  // Network trouble: TransientError "<what>: cannot deliver the notification: <reason>".
  const answer = await requestText(url, `${what}: cannot deliver the notification`, {
    method,
    body,
    headers,
    timeoutMs,
    maxChars: 2000,
  })
  if (answer.status >= 200 && answer.status < 300) return answer
  const detail = answer.text.replace(/\s+/g, ' ').trim().slice(0, 200)
  const message = `${what}: the service answered HTTP ${answer.status}${detail ? ` (${detail})` : ''}`
  if (answer.status === 429 || answer.status >= 500) throw new TransientError(message)
  throw new OperationError(message, {hint: 'check the notifier URL and token in the config'})
}
