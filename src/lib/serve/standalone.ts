import type {Context} from '../context.js'
import {errorMessage} from '../errors.js'
import type {AccessPolicy} from '../http/access.js'
import {configuredHosts} from '../http/access-config.js'
import type {ListenAddress} from '../http/address.js'
import {type HttpResponse, Router, json} from '../http/router.js'
import {type RunningHttpServer, startHttpServer} from '../http/server.js'
import {MetricsRegistry} from '../metrics/registry.js'
import type {ServiceMode} from './mode.js'

/** A Prometheus scrape answer (text exposition format 0.0.4). */
export function metricsResponse(text: string): HttpResponse {
  return {
    body: text,
    headers: {'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store'},
  }
}

export interface StandaloneOptions {
  context: Context
  mode: ServiceMode
  /** Serves the mode's routes, `/health` and `/metrics` here; no HTTP server when absent. */
  listen?: ListenAddress
  /** Also mounts the mode's routes under `/<mode>`, as `homeops serve` does, so links work with both. */
  alsoUnderPrefix?: boolean
  /** Routes beside the mode's (a standalone web page). */
  routes?: (router: Router) => void
  metricsAccess?: AccessPolicy
  accessLog?: boolean
}

export interface StandaloneRun {
  url?: string
  /** Settles after SIGINT/SIGTERM (the context signal) once everything has stopped; rejects with a crash of the mode. */
  finished: Promise<void>
}

/**
 * `homeops <mode> serve`: one mode on its own. The mode starts first (a bad
 * config fails before any port opens), then the HTTP server; on the context
 * signal or a crash the server stops accepting, in-flight requests drain, and
 * the mode stops. `homeops serve` runs the same ServiceMode objects under its
 * supervisor instead.
 */
export async function startStandalone(options: StandaloneOptions): Promise<StandaloneRun> {
  const {context, mode} = options
  const metrics = new MetricsRegistry()
  let crash: Error | undefined
  let wake!: () => void
  const woken = new Promise<void>((resolve) => {
    wake = resolve
  })
  if (context.signal.aborted) wake()
  context.signal.addEventListener('abort', () => wake(), {once: true})

  await mode.start({
    context,
    metrics,
    signal: context.signal,
    crashed(error) {
      crash = error instanceof Error ? error : new Error(errorMessage(error))
      wake()
    },
  })

  let server: RunningHttpServer | undefined
  if (options.listen) {
    try {
      server = await startHttpServer({
        listen: options.listen,
        router: standaloneRouter(options, metrics),
        logger: context.logger,
        accessLog: options.accessLog,
        allowedHosts: () => configuredHosts(context.config),
      })
    } catch (error) {
      await mode.stop()
      throw error
    }
  }

  const finished = (async () => {
    await woken
    await server?.close(3000)
    await mode.stop()
    if (crash) throw crash
  })()
  return {url: server?.url, finished}
}

function standaloneRouter(options: StandaloneOptions, metrics: MetricsRegistry): Router {
  const {mode} = options
  const own = new Router()
  mode.routes?.(own)
  const router = new Router().mount(own)
  if (options.alsoUnderPrefix) router.mount(own, `/${mode.name}`)
  options.routes?.(router)
  // A mode's own /health (monitor, dns: the original tools' shapes) is registered first and wins.
  router.get('/health', () => {
    const health = mode.health()
    return json({status: health.up ? 'ok' : 'degraded', modes: {[mode.name]: health}}, health.up ? 200 : 503)
  })
  router.get('/metrics', () => metricsResponse(metrics.render()), {access: options.metricsAccess})
  return router
}
