import {Flags} from '@oclif/core'

import {HomeopsCommand, dockerHostFlag} from '../../cli/homeops-command.js'

export interface ImagesServeReport {
  stopped: true
}

export default class ImagesServe extends HomeopsCommand<ImagesServeReport> {
  static override summary = 'Check images on a schedule, notify or auto-update, and serve the one-time apply links'
  static override description = `Checks every --interval seconds (or on a cron --schedule; at start too with RUN_ON_BOOT), sends one notification per new version, applies AUTO_UPDATE workloads, and serves GET/POST /images/apply (the signed links in notifications: GET shows a confirmation page, POST applies), GET /images/status, GET /images/history, /health and /metrics. Stops cleanly on SIGTERM/SIGINT.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> --listen 0.0.0.0:8082 --public-url https://homelab.example/ --run-on-boot',
    '<%= config.bin %> <%= command.id %> --schedule "0 */6 * * *"',
  ]
  static override flags = {
    listen: Flags.string({
      description: 'address to serve on (HOST:PORT; default images.listen)',
      env: 'HOMEOPS_IMAGES_LISTEN',
    }),
    interval: Flags.integer({
      description: 'seconds between checks (default images.intervalSeconds)',
      min: 10,
      env: 'HOMEOPS_IMAGES_INTERVAL',
    }),
    schedule: Flags.string({description: 'cron expression, wins over --interval', env: 'HOMEOPS_IMAGES_SCHEDULE'}),
    'run-on-boot': Flags.boolean({description: 'check once at start (RUN_ON_BOOT)', allowNo: true}),
    'public-url': Flags.string({
      description: 'base URL of this server in apply links',
      env: 'HOMEOPS_IMAGES_PUBLIC_URL',
    }),
    'docker-host': dockerHostFlag,
  }

  async run(): Promise<ImagesServeReport> {
    const {flags} = await this.parse(ImagesServe)
    this.handleSignals()
    const context = await this.context({dockerHost: flags['docker-host']})
    const [{createImagesMode}, {MetricsRegistry}, {Router, json}, {startHttpServer}, {parseListen}] = await Promise.all(
      [
        import('../../lib/images/mode.js'),
        import('../../lib/metrics/registry.js'),
        import('../../lib/http/router.js'),
        import('../../lib/http/server.js'),
        import('../../lib/http/address.js'),
      ],
    )
    const mode = createImagesMode({
      intervalSeconds: flags.interval,
      schedule: flags.schedule,
      runOnBoot: flags['run-on-boot'],
      publicUrl: flags['public-url'],
    })
    const metrics = new MetricsRegistry()
    const modeRouter = new Router()
    mode.routes?.(modeRouter)
    // Served at / and under /images, so the links work the same here and in `homeops serve`.
    const router = new Router().mount(modeRouter).mount(modeRouter, '/images')
    router.get('/health', () => {
      const health = mode.health()
      return json({status: health.up ? 'ok' : 'degraded', modes: {images: health}}, health.up ? 200 : 503)
    })
    router.get('/metrics', () => ({
      status: 200,
      headers: {'content-type': 'text/plain; version=0.0.4; charset=utf-8'},
      body: metrics.render(),
    }))
    let crash: unknown
    const stopped = new Promise<void>((resolve) => {
      if (context.signal.aborted) resolve()
      context.signal.addEventListener('abort', () => resolve(), {once: true})
    })
    const server = await startHttpServer({
      listen: parseListen(flags.listen ?? context.config.images.listen, '--listen'),
      router,
      logger: context.logger,
      accessLog: true,
    })
    try {
      await mode.start({
        context,
        metrics,
        signal: context.signal,
        crashed: (error) => {
          crash = error
          context.logger.error('images scheduler crashed')
        },
      })
    } catch (error) {
      await server.close(1000)
      throw error
    }
    context.logger.info('images serve running', {url: server.url, next: mode.nextRunAt?.toISOString()})
    await stopped
    await mode.stop()
    await server.close(4000)
    if (crash) throw crash
    context.logger.info('images serve stopped')
    return {stopped: true}
  }
}
