import type {Agent, IncomingHttpHeaders} from 'node:http'

/**
 * Kept only for its two remaining callers, which issue 18 removes in this same round: the Docker Engine
 * API on its socket (`docker/engine.ts`, replaced by dockerode) and a git remote's ref advertisement
 * (`swarm/remote-head.ts`, replaced by `git ls-remote`). Delete this file with the last of them. Every
 * other outgoing request goes through the one HTTP module, `client.ts` (`httpRequest`), whose node
 * transport (transport-node.ts) covers what this did for the timer run.
 */
export interface NodeRequest {
  /** `http(s)://…` URL, or the path (with query) on `socketPath`. */
  url: string
  /** A unix socket to send the request to (`url` is then the path). */
  socketPath?: string
  method?: string
  headers?: Record<string, string>
  body?: Buffer
  timeoutMs?: number
  /** Default 16 MiB. */
  maxBytes?: number
  /** Past `maxBytes`: fail with AnswerTooLargeError (default), or keep the first `maxBytes` and stop reading. */
  overflow?: 'error' | 'cut'
  /** A keep-alive pool (of the right module for the URL's scheme), e.g. pinned to one address family. */
  agent?: Agent
  /** Client certificate and CA for https (Docker TLS). */
  tls?: {ca?: Buffer; cert?: Buffer; key?: Buffer}
  signal?: AbortSignal
}

export interface NodeAnswer {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

export class AnswerTooLargeError extends Error {
  constructor(maxBytes: number) {
    super(`the answer is longer than ${maxBytes} bytes`)
    this.name = 'AnswerTooLargeError'
  }
}

export class RequestTimeoutError extends Error {
  readonly code = 'ETIMEDOUT'

  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs / 1000} s`)
    this.name = 'RequestTimeoutError'
  }
}

export async function nodeRequest(request: NodeRequest): Promise<NodeAnswer> {
  const https = request.socketPath === undefined && /^https:/i.test(request.url)
  const {request: send} = https ? await import('node:https') : await import('node:http')
  const maxBytes = request.maxBytes ?? 16 * 1024 * 1024
  const target = request.socketPath === undefined ? new URL(request.url) : undefined
  return new Promise<NodeAnswer>((resolve, reject) => {
    const req = send(
      {
        ...(target
          ? {
              protocol: target.protocol,
              hostname: target.hostname.replace(/^\[|\]$/g, ''),
              port: target.port,
              path: `${target.pathname}${target.search}`,
            }
          : {socketPath: request.socketPath, path: request.url}),
        method: request.method ?? 'GET',
        headers: request.headers,
        signal: request.signal,
        ...(request.agent ? {agent: request.agent} : {}),
        ...request.tls,
      },
      (res) => {
        const chunks: Buffer[] = []
        let length = 0
        const done = () => resolve({status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks)})
        res.on('data', (chunk: Buffer) => {
          if (length + chunk.length <= maxBytes) {
            length += chunk.length
            chunks.push(chunk)
          } else if (request.overflow === 'cut') {
            chunks.push(chunk.subarray(0, maxBytes - length))
            length = maxBytes
            done()
            res.destroy()
          } else req.destroy(new AnswerTooLargeError(maxBytes))
        })
        res.on('end', done)
        res.on('error', reject)
      },
    )
    if (request.timeoutMs !== undefined) {
      const timer = setTimeout(() => req.destroy(new RequestTimeoutError(request.timeoutMs!)), request.timeoutMs)
      req.on('close', () => clearTimeout(timer))
    }
    req.on('error', reject)
    req.end(request.body)
  })
}
