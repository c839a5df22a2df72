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
    const [{createDdnsMode}, {startStandalone}, {parseListen}] = await Promise.all([
      import('../../lib/ddns/mode.js'),
      import('../../lib/serve/standalone.js'),
      import('../../lib/http/address.js'),
    ])
    const explicitLogLevel = Boolean(
      this.globalFlags['log-level'] || this.globalFlags.debug || process.env.HOMEOPS_LOG_LEVEL,
    )
    // A bad config or no records throws before anything runs: the base class reports it with its exit code.
    const run = await startStandalone({
      context,
      mode: createDdnsMode({explicitLogLevel}),
      listen: flags.listen ? parseListen(flags.listen, '--listen') : undefined,
    })
    await run.finished
    context.logger.info('ddns loop stopped')
    return {stopped: true}
  }
}
