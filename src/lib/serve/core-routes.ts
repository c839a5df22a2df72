import {access} from 'node:fs/promises'
import {join} from 'node:path'

import type {HomeopsConfig, Mode} from '../config/root-schema.js'
import {writeAccess} from '../http/access.js'
import {type HttpRequest, HttpError, type Router, json} from '../http/router.js'
import {staticFiles} from '../http/static-files.js'
import {withDeadline} from '../time/deadline.js'
import type {ServePolicies} from './access-policies.js'
import {type HealthReport, orderedStatus} from './health.js'
import {MODE_TABLE} from './modes.js'
import {metricsResponse} from './standalone.js'
import type {ModeSupervisor} from './supervisor.js'

const SNAPSHOT_TIMEOUT_MS = 10_000

export interface CoreRoutesDeps {
  config(): HomeopsConfig
  policies: ServePolicies
  supervisor: ModeSupervisor
  /** The order of the page. */
  order: readonly Mode[]
  /** The web UI's files. */
  root: string
  version: string
  health(): Promise<HealthReport>
  /** `/metrics` in Prometheus text. */
  metricsText(): string
}

/**
 * serve's own routes: `/health`, `/metrics`, `/api/modes` (what the page
 * shows), each mode's snapshot, `/api/auth` (what this client may change) and
 * the web UI's files.
 */
export function registerCoreRoutes(router: Router, deps: CoreRoutesDeps): void {
  const {policies, supervisor} = deps
  router.get('/health', async () => {
    const report = await deps.health()
    return json(report, report.status === 'ok' ? 200 : 503)
  })
  router.get('/metrics', () => metricsResponse(deps.metricsText()), {access: policies.read})
  router.get('/api/modes', async (request) => json(await modesReport(deps, request)), {access: policies.read})
  router.get(
    '/api/modes/:mode/snapshot',
    async (request) => {
      const name = request.params.mode as Mode
      if (!supervisor.has(name)) {
        throw new HttpError(404, {error: 'not_found', reason: `mode ${request.params.mode} is not enabled`})
      }
      const mode = supervisor.mode(name)
      if (!mode || !supervisor.routable(name)) {
        const s = supervisor.get(name)!
        throw new HttpError(503, {error: 'mode_unavailable', mode: name, state: s.state, detail: s.detail})
      }
      if (!mode.snapshot) return json({})
      const what = `${name} snapshot`
      return json(
        await withDeadline(mode.snapshot(), SNAPSHOT_TIMEOUT_MS, () => {
          throw new HttpError(504, {error: 'timeout', reason: `${what} took over ${SNAPSHOT_TIMEOUT_MS} ms`})
        }),
      )
    },
    {access: policies.read},
  )
  // What this client may change, for the UI: `key` (send serve.apiKey), `loopback` (no key, local client),
  // `refused` (no key, remote client: read only). POST also checks a key before the UI stores it.
  const authReport = (request: HttpRequest) => {
    const serve = deps.config().serve
    return {
      required: serve.apiKey !== undefined,
      reads: Boolean(serve.apiKey && serve.protectReads),
      writes: writeAccess(serve.apiKey, request),
    }
  }
  router.get('/api/auth', (request) => json(authReport(request)), {access: policies.static})
  router.post('/api/auth', (request) => json({ok: true, ...authReport(request)}), {access: policies.write})
  const files = staticFiles(deps.root)
  router.get('/', (request) => files({...request, params: {'*': 'index.html'}}), {access: policies.static})
  router.get('/web/*', files, {access: policies.static})
  router.get('/favicon.ico', (request) => files({...request, params: {'*': 'shared/favicon.svg'}}), {
    access: policies.static,
  })
}

async function modesReport(deps: CoreRoutesDeps, request: HttpRequest) {
  const {supervisor} = deps
  const serve = deps.config().serve
  const modes = await Promise.all(
    orderedStatus(supervisor, deps.order).map(async (s) => ({
      ...s,
      title: MODE_TABLE[s.name as Mode]?.title ?? s.name,
      section: await exists(join(deps.root, s.name, 'section.js')),
      hasSnapshot: typeof supervisor.mode(s.name)?.snapshot === 'function',
    })),
  )
  return {
    version: deps.version,
    auth: {
      writes: Boolean(serve.apiKey),
      reads: Boolean(serve.apiKey && serve.protectReads),
      access: writeAccess(serve.apiKey, request),
    },
    modes,
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}
