import {createHash, createHmac} from 'node:crypto'

export interface SigV4Request {
  method: string
  url: URL
  body: string
  accessKeyId: string
  secretAccessKey: string
  region: string
  service: string
  now: Date
}

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
function encode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

function hmac(key: string | Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest()
}

/**
 * AWS Signature Version 4 for one request, signing `host` and `x-amz-date` (and the body's hash): the headers
 * to send with it. Written out rather than pulling the AWS SDK (megabytes) into a timer run.
 */
export function signV4(request: SigV4Request): Record<string, string> {
  const amzDate = request.now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')
  const date = amzDate.slice(0, 8)
  const host = request.url.host
  const path =
    request.url.pathname
      .split('/')
      .map((s) => encode(decodeURIComponent(s)))
      .join('/') || '/'
  const query = [...request.url.searchParams.entries()]
    .map(([k, v]) => [encode(k), encode(v)] as const)
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&')
  const signedHeaders = 'host;x-amz-date'
  const canonical = [
    request.method,
    path,
    query,
    `host:${host}\nx-amz-date:${amzDate}\n`,
    signedHeaders,
    sha256(request.body),
  ].join('\n')
  const scope = `${date}/${request.region}/${request.service}/aws4_request`
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n')
  let key = hmac(`AWS4${request.secretAccessKey}`, date)
  for (const part of [request.region, request.service, 'aws4_request']) key = hmac(key, part)
  const signature = createHmac('sha256', key).update(toSign, 'utf8').digest('hex')
  return {
    host,
    'x-amz-date': amzDate,
    authorization: `AWS4-HMAC-SHA256 Credential=${request.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  }
}
