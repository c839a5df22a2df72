import {createHash} from 'node:crypto'
import type {IncomingMessage} from 'node:http'
import {gzipSync} from 'node:zlib'

const COMPRESSIBLE = /^(text\/|application\/json|application\/javascript|image\/svg\+xml)/
const MIN_GZIP_BYTES = 1024
/** Past this a body is sent as is: compressing it on the event loop would stall other requests. */
const MAX_GZIP_BYTES = 8 * 1024 * 1024

/**
 * An entity tag for GET answers, `304 Not Modified` when the client has it,
 * and gzip when the client accepts it: the page polls the same JSON every few
 * seconds and reloads the same files.
 */
export function conditionalBody(
  req: IncomingMessage,
  method: string,
  status: number,
  headers: Record<string, string>,
  body: string | Buffer,
): {status: number; body: string | Buffer} {
  if ((method !== 'GET' && method !== 'HEAD') || status !== 200) return {status, body}
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  const tag = `"${createHash('sha1').update(bytes).digest('base64url').slice(0, 22)}"`
  headers.etag = tag
  const type = headers['content-type'] ?? ''
  const compressible = COMPRESSIBLE.test(type) && bytes.length >= MIN_GZIP_BYTES && bytes.length <= MAX_GZIP_BYTES
  if (compressible) headers.vary = 'Accept-Encoding'
  const match = String(req.headers['if-none-match'] ?? '')
  if (match.split(',').some((t) => t.trim().replace(/^W\//, '') === tag)) return {status: 304, body: ''}
  if (compressible && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    headers['content-encoding'] = 'gzip'
    return {status, body: gzipSync(bytes, {level: 6})}
  }
  return {status, body: bytes}
}
