import type {IncomingHttpHeaders, IncomingMessage} from 'node:http'

import type {AccessPolicy} from './access-policy.js'
import type {BodyType} from './request-guard.js'

export interface HttpRequest {
  method: string
  path: string
  query: URLSearchParams
  headers: IncomingHttpHeaders
  /** The client address as the socket saw it. */
  remoteAddress: string
  /** Values of `:name` segments of the route pattern. */
  params: Record<string, string>
  /** The body as JSON (`{}` when empty); 400 on invalid JSON, 413 over the limit. */
  json(): Promise<unknown>
  text(): Promise<string>
  raw: IncomingMessage
  /** Set once a key check passed (the server-wide key, or a route's): later key checks accept it. */
  authenticated?: boolean
}

export interface HttpResponse {
  status?: number
  headers?: Record<string, string>
  /** Sent as `application/json`. */
  json?: unknown
  /** Sent as is, with `headers['content-type']`. */
  body?: string | Buffer
}

export type Handler = (request: HttpRequest) => HttpResponse | Promise<HttpResponse>

/** Thrown by handlers for a JSON error answer: `{status, body}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(typeof body.error === 'string' ? body.error : `HTTP ${status}`)
  }
}

export function json(data: unknown, status = 200, headers?: Record<string, string>): HttpResponse {
  return {status, json: data, headers}
}

export interface RouteOptions {
  access?: AccessPolicy
  /** Body size limit in bytes for this route (default: the server's). */
  bodyLimit?: number
  /**
   * The handler authenticates each request itself with a signed one-time token (images apply
   * links, opened from a notification on a phone): `homeops serve` applies only its network
   * allow-list to this route, not the API key.
   */
  tokenAuth?: boolean
  /**
   * Media types a body may have on a state-changing request (default JSON only;
   * anything else is a 415). A form is what a plain HTML form sends: only for
   * pages that work without scripts (the images apply-link confirmation).
   */
  bodyTypes?: BodyType[]
}

interface Route {
  method: string
  segments: string[]
  handler: Handler
  options: RouteOptions
}

export type RouteMatch =
  | {kind: 'found'; route: Route; params: Record<string, string>}
  | {kind: 'method-not-allowed'; allowed: string[]}
  | {kind: 'not-found'}

/**
 * Method + path routing with `:param` segments and a trailing `*` wildcard.
 * Every mode registers its routes on one router so `homeops serve` has one server.
 */
export class Router {
  private readonly routes: Route[] = []

  add(method: string, pattern: string, handler: Handler, options: RouteOptions = {}): this {
    this.routes.push({method: method.toUpperCase(), segments: split(pattern), handler, options})
    return this
  }

  get(pattern: string, handler: Handler, options?: RouteOptions): this {
    return this.add('GET', pattern, handler, options)
  }

  post(pattern: string, handler: Handler, options?: RouteOptions): this {
    return this.add('POST', pattern, handler, options)
  }

  /** Adds every route of `other`, under `prefix` when given. */
  mount(other: Router, prefix = ''): this {
    for (const route of other.routes) this.routes.push({...route, segments: [...split(prefix), ...route.segments]})
    return this
  }

  /** Every route's method, path and options (start-up checks). */
  list(): {method: string; path: string; options: RouteOptions}[] {
    return this.routes.map((r) => ({method: r.method, path: '/' + r.segments.join('/'), options: r.options}))
  }

  match(method: string, path: string): RouteMatch {
    const parts = split(path)
    const allowed = new Set<string>()
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts)
      if (!params) continue
      if (route.method === method || (method === 'HEAD' && route.method === 'GET'))
        return {kind: 'found', route, params}
      allowed.add(route.method)
    }
    return allowed.size > 0 ? {kind: 'method-not-allowed', allowed: [...allowed]} : {kind: 'not-found'}
  }
}

function split(path: string): string[] {
  return path.split('/').filter(Boolean)
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {}
  for (let i = 0; i < pattern.length; i++) {
    const segment = pattern[i]!
    if (segment === '*') {
      params['*'] = parts.slice(i).join('/')
      return params
    }
    const part = parts[i]
    if (part === undefined) return undefined
    if (segment.startsWith(':')) {
      try {
        params[segment.slice(1)] = decodeURIComponent(part)
      } catch {
        return undefined
      }
    } else if (segment !== part) {
      return undefined
    }
  }
  return parts.length === pattern.length ? params : undefined
}
