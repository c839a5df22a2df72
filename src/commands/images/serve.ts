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
      max: 30 * 86400,
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
    const [{createImagesMode}, {startStandalone}, {parseListen}] = await Promise.all([
      import('../../lib/images/mode.js'),
      import('../../lib/serve/standalone.js'),
      import('../../lib/http/address.js'),
    ])
    const mode = createImagesMode({
      intervalSeconds: flags.interval,
      schedule: flags.schedule,
      runOnBoot: flags['run-on-boot'],
      publicUrl: flags['public-url'],
    })
    const run = await startStandalone({
      context,
      mode,
      listen: parseListen(flags.listen ?? context.config.images.listen, flags.listen ? '--listen' : 'images.listen'),
      // Apply links carry /images/apply: they work here and in `homeops serve` alike.
      alsoUnderPrefix: true,
      accessLog: true,
    })
    context.logger.info('images serve running', {url: run.url, next: mode.nextRunAt?.toISOString()})
    await run.finished
    context.logger.info('images serve stopped')
    return {stopped: true}
  }
}
