import type {Mode} from '../config/root-schema.js'
import {enforceAccess} from '../http/access.js'
import {type Handler, HttpError, type RouteMatch, type RouteOptions, Router} from '../http/router.js'
import type {Counter, Histogram} from '../metrics/registry.js'
import type {ServePolicies} from './access-policies.js'
import type {ServiceMode} from './mode.js'
import type {ModeSupervisor} from './supervisor.js'

/**
 * serve's router: its own routes, plus one router per mode under `/<mode>`,
 * swapped as a whole when a mode is enabled, disabled or replaced on reload, so
 * a path can only ever reach the instance that is running now.
 */
export class ServeRouter extends Router {
  private readonly modes = new Map<string, Router>()

  setMode(name: string, router: Router | undefined): void {
    if (router) this.modes.set(name, router)
    else this.modes.delete(name)
  }

  override match(method: string, path: string): RouteMatch {
    const [, first = '', ...rest] = path.split('/')
    const mode = this.modes.get(first)
    if (mode) {
      const found = mode.match(method, `/${rest.join('/')}`)
      if (found.kind !== 'not-found') return found
    }
    return super.match(method, path)
  }
}

/**
 * A Router whose handlers are wrapped as they are added, so each mode's
 * routes get serve's access policy, a 503 while the mode is down, and metrics.
 */
export class GuardedRouter extends Router {
  constructor(private readonly wrap: (handler: Handler, method: string, options?: RouteOptions) => Handler) {
    super()
  }

  override add(method: string, pattern: string, handler: Handler, options?: RouteOptions): this {
    // The wrapper enforces the mode's access policy after serve's: the server must not check it first.
    const {access: _access, ...rest} = options ?? {}
    return super.add(method, pattern, this.wrap(handler, method.toUpperCase(), options), rest)
  }
}

export interface ModeGuardOptions {
  policies: ServePolicies
  supervisor: ModeSupervisor
  requests: Counter
  duration: Histogram
}

/** The routes of mode `name`, as `homeops serve` serves them under `/<name>`. */
export function modeRouter(name: Mode, mode: ServiceMode, options: ModeGuardOptions): GuardedRouter {
  return new GuardedRouter((handler, method, routeOptions) => guard(name, mode, method, handler, routeOptions, options))
}

/** Access (serve's policy and the route's own), the mode instance and its state, then the handler, measured. */
function guard(
  name: Mode,
  mode: ServiceMode,
  method: string,
  handler: Handler,
  route: RouteOptions | undefined,
  {policies, supervisor, requests, duration}: ModeGuardOptions,
): Handler {
  const write = method !== 'GET' && method !== 'HEAD'
  return async (request) => {
    const started = performance.now()
    let status = 500
    try {
      const shared = route?.tokenAuth ? policies.static : write ? policies.write : policies.read
      // The key that is configured decides first, so either key works and a 401 (not a 403) asks for one.
      const own = route?.access
      const order = own?.apiKey?.() !== undefined ? [own, shared] : [shared, own]
      for (const p of order) if (p) enforceAccess(p, request)
      // A route of an instance that was disabled (and perhaps replaced by a new one) never reaches it.
      if (supervisor.mode(name) !== mode)
        throw new HttpError(404, {error: 'not_found', reason: `mode ${name} is not enabled`})
      if (!supervisor.routable(name)) {
        const s = supervisor.get(name)!
        throw new HttpError(503, {error: 'mode_unavailable', mode: name, state: s.state, detail: s.detail})
      }
      const response = await handler(request)
      status = response.status ?? 200
      return response
    } catch (error) {
      status = error instanceof HttpError ? error.status : 500
      throw error
    } finally {
      requests.inc({mode: name, method, code: String(status)})
      duration.observe((performance.now() - started) / 1000, {mode: name})
    }
  }
}
