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
    const [{createMonitorMode}, {startStandalone}, {parseListen}] = await Promise.all([
      import('../../lib/monitor/mode.js'),
      import('../../lib/serve/standalone.js'),
      import('../../lib/http/address.js'),
    ])
    const mode = createMonitorMode()
    const run = await startStandalone({
      context,
      mode,
      listen: parseListen(flags.listen ?? context.config.monitor.listen, flags.listen ? '--listen' : 'monitor.listen'),
      metricsAccess: {allowList: () => mode.settings?.allowList()},
      accessLog: !this.terminal.interactive,
    })
    this.print(`monitor listening on ${run.url}`)
    await run.finished
    context.logger.info('monitor stopped')
    return {url: run.url ?? '', stopped: true}
  }
}
