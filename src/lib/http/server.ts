import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo, Socket} from 'node:net'

import {HomeopsError, UserError, errnoCode, errorMessage} from '../errors.js'
import type {Logger} from '../log/logger.js'
import {enforceAccess} from './access.js'
import {type ListenAddress, formatHostPort} from './address.js'
import {type HttpRequest, type HttpResponse, HttpError, type Router} from './router.js'

export interface HttpServerOptions {
  listen: ListenAddress
  router: Router
  logger: Logger
  /** One log line per request (off a TTY). */
  accessLog?: boolean
  /** Default request body limit in bytes. */
  bodyLimit?: number
}

export interface RunningHttpServer {
  readonly address: ListenAddress
  readonly url: string
  /** Stops accepting, lets in-flight requests finish up to `graceMs`, then cuts the rest. */
  close(graceMs?: number): Promise<void>
}

const DEFAULT_BODY_LIMIT = 64 * 1024

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
}

/** The one HTTP server every mode uses. */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const server = createServer((req, res) => {
    void handle(options, req, res)
  })
  server.requestTimeout = 30_000
  server.headersTimeout = 10_000
  server.keepAliveTimeout = 5_000
  const sockets = new Set<Socket>()
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  await listen(server, options.listen)
  const info = server.address() as AddressInfo
  const address = {host: info.address, port: info.port}
  options.logger.info('http server listening', {address: formatHostPort(address)})

  return {
    address,
    url: `http://${formatHostPort(address)}`,
    close(graceMs = 5000) {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const socket of sockets) socket.destroy()
        }, graceMs)
        server.close(() => {
          clearTimeout(timer)
          resolve()
        })
        server.closeIdleConnections()
      })
    },
  }
}

function listen(server: Server, address: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      const where = formatHostPort(address)
      const code = errnoCode(error)
      reject(
        code === 'EADDRINUSE'
          ? new UserError(`cannot listen on ${where}: the port is in use`, {
              hint: 'stop the other server or choose another port',
            })
          : code === 'EACCES'
            ? new UserError(`cannot listen on ${where}: permission denied`, {hint: 'ports below 1024 need root'})
            : new UserError(`cannot listen on ${where}: ${errorMessage(error)}`),
      )
    }
    server.once('error', onError)
    server.listen(address.port, address.host, () => {
      server.off('error', onError)
      resolve()
    })
  })
}

async function handle(options: HttpServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now()
  const url = new URL(req.url ?? '/', 'http://localhost')
  const method = (req.method ?? 'GET').toUpperCase()
  let response: HttpResponse
  try {
    const match = options.router.match(method, url.pathname)
    if (match.kind === 'not-found') throw new HttpError(404, {error: 'not_found'})
    if (match.kind === 'method-not-allowed')
      throw new HttpError(405, {error: 'method_not_allowed', allowed: match.allowed})
    const bodyLimit = match.route.options.bodyLimit ?? options.bodyLimit ?? DEFAULT_BODY_LIMIT
    const request = buildRequest(req, url, method, match.params, bodyLimit)
    if (match.route.options.access) enforceAccess(match.route.options.access, request)
    response = await match.route.handler(request)
  } catch (error) {
    response = errorResponse(error, options.logger, method, url.pathname)
  }
  send(res, method, response)
  if (options.accessLog) {
    options.logger.info('http', {
      method,
      path: url.pathname,
      status: response.status ?? 200,
      ms: Math.round(performance.now() - started),
      remote: req.socket.remoteAddress,
    })
  }
}

function errorResponse(error: unknown, logger: Logger, method: string, path: string): HttpResponse {
  if (error instanceof HttpError) return {status: error.status, json: error.body}
  if (error instanceof UserError) return {status: 400, json: {error: error.message}}
  if (error instanceof HomeopsError) return {status: error.exitCode === 3 ? 503 : 500, json: {error: error.message}}
  logger.error('request failed', {method, path, error: errorMessage(error)})
  return {status: 500, json: {error: errorMessage(error)}}
}

function send(res: ServerResponse, method: string, response: HttpResponse): void {
  const headers: Record<string, string> = {...SECURITY_HEADERS, ...response.headers}
  let body: string | Buffer = ''
  if (response.json !== undefined) {
    body = JSON.stringify(response.json)
    headers['content-type'] ??= 'application/json; charset=utf-8'
    headers['cache-control'] ??= 'no-store'
  } else if (response.body !== undefined) {
    body = response.body
  }
  headers['content-length'] = String(Buffer.byteLength(body))
  res.writeHead(response.status ?? 200, headers)
  res.end(method === 'HEAD' ? undefined : body)
}

function buildRequest(
  req: IncomingMessage,
  url: URL,
  method: string,
  params: Record<string, string>,
  bodyLimit: number,
): HttpRequest {
  let bodyPromise: Promise<string> | undefined
  const text = () => (bodyPromise ??= readBody(req, bodyLimit))
  return {
    method,
    path: url.pathname,
    query: url.searchParams,
    headers: req.headers,
    remoteAddress: req.socket.remoteAddress ?? '',
    params,
    raw: req,
    text,
    async json() {
      const body = await text()
      if (body.trim() === '') return {}
      try {
        return JSON.parse(body) as unknown
      } catch {
        throw new HttpError(400, {error: 'invalid_json'})
      }
    },
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0)
    if (declared > limit) {
      reject(new HttpError(413, {error: 'body_too_large', limit}))
      req.resume()
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        reject(new HttpError(413, {error: 'body_too_large', limit}))
        req.destroy()
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}
