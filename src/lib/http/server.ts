import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo, Socket} from 'node:net'
import type {Duplex} from 'node:stream'

import {HomeopsError, UserError, errnoCode, errorMessage} from '../errors.js'
import type {Logger} from '../log/logger.js'
import {isLoopback} from '../net/cidr.js'
import {enforceAccess, presentedKey, secretsEqual} from './access.js'
import {type ListenAddress, formatHostPort} from './address.js'
import {
  type HostPolicy,
  SAFE_METHODS,
  bodyTypeAccepted,
  crossOriginReason,
  hasBody,
  hostAllowed,
  mediaTypes,
} from './request-guard.js'
import {type HttpRequest, type HttpResponse, HttpError, type Router} from './router.js'

export interface HttpServerOptions {
  listen: ListenAddress
  router: Router
  logger: Logger
  /** One log line per request (off a TTY). */
  accessLog?: boolean
  /** Default request body limit in bytes. */
  bodyLimit?: number
  /** Host names accepted besides IP literals, localhost, the listen host and this machine's names. */
  allowedHosts?: () => readonly string[]
  /**
   * The server-wide key (`serve.apiKey`): a request carrying it is authenticated
   * for every route, so a mode's own key check (monitor's) does not refuse it.
   */
  serverKey?: () => string | undefined
  /** Time limits in ms (tests shorten them). */
  timeouts?: Partial<HttpTimeouts>
}

export interface HttpTimeouts {
  /** From the connection (or the previous request) until the end of the headers. */
  headers: number
  /** The whole request, body included. */
  request: number
  /** An idle keep-alive connection. */
  keepAlive: number
}

const TIMEOUTS: HttpTimeouts = {headers: 10_000, request: 30_000, keepAlive: 5_000}

export interface RunningHttpServer {
  readonly address: ListenAddress
  readonly url: string
  /** Stops accepting, lets in-flight requests finish up to `graceMs`, then cuts the rest. */
  close(graceMs?: number): Promise<void>
}

const DEFAULT_BODY_LIMIT = 64 * 1024
/** Request line plus headers (node counts both). */
export const MAX_HEADER_BYTES = 16 * 1024
const MAX_HEADERS = 100
const MAX_CONNECTIONS = 512

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
}

/** What a socket gets when node's parser refuses the request (no handler ever runs). */
const CLIENT_ERROR_STATUS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
}

/**
 * The one HTTP server every mode uses. Nothing a client sends can end the
 * process: node's parser refuses malformed requests (400/431/408, then the
 * socket is closed), a URL that does not parse is a 400, a handler that
 * throws is a 500 with a log line, and the connection is always answered or
 * destroyed. Sizes (request line + headers, header count, body), times
 * (headers, whole request, keep-alive) and the number of connections are bounded.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const hostPolicy: HostPolicy = {listenHost: options.listen.host, allowedHosts: options.allowedHosts}
  const timeouts = {...TIMEOUTS, ...options.timeouts}
  const server = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      requestTimeout: timeouts.request,
      headersTimeout: timeouts.headers,
      connectionsCheckingInterval: Math.min(1000, timeouts.headers / 2),
    },
    (req, res) => {
      handle(options, hostPolicy, req, res).catch((error: unknown) => {
        options.logger.error('http response failed', {error: errorMessage(error)})
        res.destroy()
      })
    },
  )
  server.keepAliveTimeout = timeouts.keepAlive
  server.maxHeadersCount = MAX_HEADERS
  server.maxConnections = MAX_CONNECTIONS
  server.on('clientError', (error: Error & {code?: string}, socket: Duplex) => {
    options.logger.debug('http request refused by the parser', {error: error.code ?? errorMessage(error)})
    const [status, text] = CLIENT_ERROR_STATUS[error.code ?? ''] ?? [400, 'Bad Request']
    // Never write into a response already under way (a bad pipelined request after a good one).
    const inFlight = (socket as Duplex & {_httpMessage?: {headersSent?: boolean}})._httpMessage?.headersSent
    if (socket.writable && !inFlight && error.code !== 'ECONNRESET') {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
      setTimeout(() => socket.destroy(), 1000).unref()
    } else socket.destroy()
  })
  const sockets = new Set<Socket>()
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  await listen(server, options.listen)
  const info = server.address() as AddressInfo
  const address = {host: info.address, port: info.port}
  options.logger.info('http server listening', {address: formatHostPort(address)})
  warnWithoutKey(options)

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

/**
 * A server reachable from other machines whose write routes have no key:
 * those routes refuse every non-loopback client ("no key" policy); say so at start.
 */
export function warnWithoutKey(options: HttpServerOptions): void {
  if (isLoopback(options.listen.host) || options.listen.host === 'localhost') return
  if (options.serverKey?.() !== undefined) return
  const open = options.router
    .list()
    .filter((r) => !SAFE_METHODS.has(r.method) && r.options.access?.apiKey && r.options.access.apiKey() === undefined)
  if (open.length === 0) return
  const settings = [...new Set(open.map((r) => r.options.access?.keySetting ?? 'serve.apiKey'))]
  options.logger.warn('listening beyond this machine without an API key: changes are refused from other machines', {
    address: formatHostPort(options.listen),
    routes: open
      .map((r) => `${r.method} ${r.path}`)
      .slice(0, 6)
      .join(','),
    hint: `set ${settings.join(' or ')} (16+ characters), or listen on 127.0.0.1`,
  })
}

/** The request target as a URL: origin-form (`/path?q`) or absolute-form; undefined for anything else. */
export function requestUrl(target: string | undefined): URL | undefined {
  if (!target) return undefined
  try {
    // `//x` is a path here, never a host: prefix origin-form targets instead of resolving them.
    if (target.startsWith('/')) return new URL(`http://localhost${target}`)
    if (/^https?:\/\//i.test(target)) return new URL(target)
  } catch {
    // Not a URL: the caller answers 400.
  }
  return undefined
}

async function handle(
  options: HttpServerOptions,
  hosts: HostPolicy,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const started = performance.now()
  const method = (req.method ?? 'GET').toUpperCase()
  const url = requestUrl(req.url)
  const path = url?.pathname ?? '-'
  let response: HttpResponse
  try {
    response = await route(options, hosts, req, method, url)
  } catch (error) {
    response = errorResponse(error, options.logger, method, path)
  }
  send(req, res, method, response)
  if (options.accessLog) {
    options.logger.info('http', {
      method: method.slice(0, 16),
      path: path.slice(0, 200),
      status: response.status ?? 200,
      ms: Math.round(performance.now() - started),
      remote: req.socket.remoteAddress,
    })
  }
}

async function route(
  options: HttpServerOptions,
  hosts: HostPolicy,
  req: IncomingMessage,
  method: string,
  url: URL | undefined,
): Promise<HttpResponse> {
  if (!url) throw new HttpError(400, {error: 'bad_request', message: 'the request target is not a URL path'})
  if (!hostAllowed(req.headers.host, hosts)) {
    throw new HttpError(421, {
      error: 'unknown_host',
      message: `this server is not reachable as "${String(req.headers.host).slice(0, 100)}"`,
      hint: 'add the name to serve.allowedHosts (HOMEOPS_SERVE_ALLOWED_HOSTS)',
    })
  }
  const writes = !SAFE_METHODS.has(method)
  if (writes) {
    const reason = crossOriginReason(req.headers, hosts)
    if (reason) throw new HttpError(403, {error: 'cross_origin', message: `refused: the request comes from ${reason}`})
  }
  const match = options.router.match(method, url.pathname)
  if (match.kind === 'not-found') throw new HttpError(404, {error: 'not_found'})
  if (match.kind === 'method-not-allowed')
    throw new HttpError(405, {error: 'method_not_allowed', allowed: match.allowed})
  const routeOptions = match.route.options
  if (writes && hasBody(req.headers)) {
    const accepted = routeOptions.bodyTypes ?? ['json']
    if (!bodyTypeAccepted(req.headers, accepted)) {
      throw new HttpError(415, {error: 'unsupported_media_type', accepted: mediaTypes(accepted)})
    }
  }
  const bodyLimit = routeOptions.bodyLimit ?? options.bodyLimit ?? DEFAULT_BODY_LIMIT
  const request = buildRequest(req, url, method, match.params, bodyLimit)
  const serverKey = options.serverKey?.()
  if (serverKey !== undefined) {
    const given = presentedKey(request)
    if (given !== undefined && secretsEqual(given, serverKey)) request.authenticated = true
  }
  if (routeOptions.access) enforceAccess(routeOptions.access, request)
  return await match.route.handler(request)
}

function errorResponse(error: unknown, logger: Logger, method: string, path: string): HttpResponse {
  if (error instanceof HttpError) return {status: error.status, json: error.body}
  if (error instanceof UserError) return {status: 400, json: {error: error.message}}
  if (error instanceof HomeopsError) return {status: error.exitCode === 3 ? 503 : 500, json: {error: error.message}}
  logger.error('request failed', {method: method.slice(0, 16), path: path.slice(0, 200), error: errorMessage(error)})
  return {status: 500, json: {error: errorMessage(error)}}
}

function send(req: IncomingMessage, res: ServerResponse, method: string, response: HttpResponse): void {
  if (res.headersSent || res.destroyed) {
    // A handler that streamed its own answer, or a client that left.
    if (!res.writableEnded) res.destroy()
    return
  }
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
  // A body left unread (refused before reading, or over the limit): close rather than parse it as the next request.
  if (!req.complete) headers.connection = 'close'
  try {
    res.writeHead(response.status ?? 200, headers)
  } catch {
    // A handler put an invalid character in a header: answer without its headers.
    res.writeHead(500, {...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', connection: 'close'})
    res.end('{"error":"internal_error"}')
    return
  }
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
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        // Stop reading; the answer (413) closes the connection (send: the request is not complete).
        req.off('data', onData)
        req.pause()
        reject(new HttpError(413, {error: 'body_too_large', limit}))
        return
      }
      chunks.push(chunk)
    }
    req.on('data', onData)
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}
