import {Flags} from '@oclif/core'

import {HomeopsCommand} from '../../cli/homeops-command.js'

export interface DdnsServeReport {
  stopped: true
}

export default class DdnsServe extends HomeopsCommand<DdnsServeReport> {
  static override summary = 'Keep dynamic DNS records up to date in a loop (containers, or without a systemd timer)'
  static override description = `Runs a pass at start and then every ddns.intervalSeconds (DDNS_INTERVAL_SECONDS, minimum 15), logging a metrics line every 10 checks. Stops cleanly on SIGTERM/SIGINT. With --listen it also serves GET /status, /history, /health and /metrics.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --listen 127.0.0.1:8081',
  ]
  static override flags = {
    listen: Flags.string({
      description: 'also serve /status, /history, /health and /metrics on this address (HOST:PORT)',
      env: 'HOMEOPS_DDNS_LISTEN',
    }),
  }

  async run(): Promise<DdnsServeReport> {
    const {flags} = await this.parse(DdnsServe)
    this.handleSignals()
    const context = await this.context()
    const [{createDdnsMode}, {MetricsRegistry}] = await Promise.all([
      import('../../lib/ddns/mode.js'),
      import('../../lib/metrics/registry.js'),
    ])
    const explicitLogLevel = Boolean(
      this.globalFlags['log-level'] || this.globalFlags.debug || process.env.HOMEOPS_LOG_LEVEL,
    )
    const mode = createDdnsMode({explicitLogLevel})
    const metrics = new MetricsRegistry()
    let crash: unknown
    let started!: Promise<void>
    const stopped = new Promise<void>((resolve) => {
      if (context.signal.aborted) resolve()
      context.signal.addEventListener('abort', () => resolve(), {once: true})
      const onCrash = (error: unknown) => {
        crash = error
        resolve()
      }
      // Throws (bad config, no records) before anything runs: the base class reports it with its exit code.
      started = mode.start({context, metrics, signal: context.signal, crashed: onCrash})
    })
    await started
    let server: {close(graceMs?: number): Promise<void>} | undefined
    if (flags.listen) {
      const [{Router, json}, {startHttpServer}, {parseListen}] = await Promise.all([
        import('../../lib/http/router.js'),
        import('../../lib/http/server.js'),
        import('../../lib/http/address.js'),
      ])
      const router = new Router()
      mode.routes?.(router)
      router.get('/health', () => {
        const health = mode.health()
        return json(health, health.up ? 200 : 503)
      })
      router.get('/metrics', () => ({
        status: 200,
        headers: {'content-type': 'text/plain; version=0.0.4; charset=utf-8'},
        body: metrics.render(),
      }))
      try {
        server = await startHttpServer({listen: parseListen(flags.listen, '--listen'), router, logger: context.logger})
      } catch (error) {
        await mode.stop()
        throw error
      }
    }
    await stopped
    await mode.stop()
    await server?.close(4000)
    if (crash) throw crash
    context.logger.info('ddns loop stopped')
    return {stopped: true}
  }
}
