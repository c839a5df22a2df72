import {Flags} from '@oclif/core'

import {HomeopsCommand, dockerHostFlag} from '../../cli/homeops-command.js'

export interface MonitorServeReport {
  url: string
  stopped: true
}

export default class MonitorServe extends HomeopsCommand<MonitorServeReport> {
  static override summary = 'Serve the monitor HTTP API (Home Assistant compatible) and its web page'
  static override description = `Listens on monitor.listen (default 127.0.0.1:5000). The web page is at /; the API (/status, /status/NAME, /update_container, /diag, /images/unused, /images/prune) answers only once enabled (API_ENABLED=true, monitor.api, or the settings dialog), from the allowed addresses (ALLOWED_IPS, default loopback), with the key when AUTH_ENABLED. /settings changes are saved to SETTINGS_PATH and win over the environment at the next start. /health and /metrics are always served. Stops cleanly on SIGTERM/SIGINT.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    'API_ENABLED=true AUTH_ENABLED=true API_KEY_FILE=/run/secrets/monitor_key <%= config.bin %> <%= command.id %> --listen 0.0.0.0:5000',
  ]
  static override flags = {
    listen: Flags.string({
      description: 'address to listen on, HOST:PORT (default: monitor.listen)',
      env: 'HOMEOPS_MONITOR_LISTEN',
    }),
    'docker-host': dockerHostFlag,
  }

  async run(): Promise<MonitorServeReport> {
    const {flags} = await this.parse(MonitorServe)
    this.handleSignals()
    const context = await this.context({dockerHost: flags['docker-host']})
    const [{createMonitorMode}, {MetricsRegistry}, {Router}, {startHttpServer}, {parseListen}] = await Promise.all([
      import('../../lib/monitor/mode.js'),
      import('../../lib/metrics/registry.js'),
      import('../../lib/http/router.js'),
      import('../../lib/http/server.js'),
      import('../../lib/http/address.js'),
    ])
    const mode = createMonitorMode()
    const metrics = new MetricsRegistry()
    const router = new Router()
    mode.routes?.(router)
    router.get(
      '/metrics',
      () => ({
        status: 200,
        headers: {'content-type': 'text/plain; version=0.0.4; charset=utf-8'},
        body: metrics.render(),
      }),
      {access: {allowList: () => mode.settings?.allowList()}},
    )
    const listen = parseListen(
      flags.listen ?? context.config.monitor.listen,
      flags.listen ? '--listen' : 'monitor.listen',
    )
    let crash: unknown
    await mode.start({context, metrics, signal: context.signal, crashed: (error) => (crash = error)})
    let server
    try {
      server = await startHttpServer({listen, router, logger: context.logger, accessLog: !this.terminal.interactive})
    } catch (error) {
      await mode.stop()
      throw error
    }
    this.print(`monitor listening on ${server.url}`)
    if (!context.signal.aborted) {
      await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), {once: true}))
    }
    await server.close(3000)
    await mode.stop()
    if (crash) throw crash
    context.logger.info('monitor stopped')
    return {url: server.url, stopped: true}
  }
}
