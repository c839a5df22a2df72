import {Args, Flags} from '@oclif/core'

import {HomeopsCommand, dockerHostFlag, yesFlag} from '../../cli/homeops-command.js'
import type {UpdateOutcome} from '../../lib/monitor/service.js'

export default class MonitorUpdate extends HomeopsCommand<UpdateOutcome> {
  static override summary =
    'Pull the image and recreate a container with the same configuration, rolling back on failure'
  static override description = `Keeps the name, environment, labels, command and entrypoint, mounts and volumes (anonymous ones included), networks with aliases and static IPs, published ports, restart policy, resources and healthcheck. The old container is renamed aside and stopped, the new one started and watched until it runs (and is healthy, when it has a healthcheck; monitor.healthTimeoutSeconds, default 60); only then is the old one removed. If the new one fails, it is removed and the old one gets its name back and is started again (exit 1).

Nothing is recreated when the pulled image is the one already running (unless --force). The container homeops itself runs in is refused.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> nextcloud',
    '<%= config.bin %> <%= command.id %> nextcloud --yes --json',
    '<%= config.bin %> <%= command.id %> grafana --image grafana/grafana:11.2.0 --yes',
  ]
  static override args = {name: Args.string({description: 'container name or id', required: true})}
  static override flags = {
    yes: yesFlag,
    image: Flags.string({description: 'switch to this image reference instead of re-pulling the current one'}),
    force: Flags.boolean({description: 'recreate even when the pulled image is the one already running'}),
    'docker-host': dockerHostFlag,
  }

  async run(): Promise<UpdateOutcome> {
    const {args, flags} = await this.parse(MonitorUpdate)
    this.handleSignals()
    const context = await this.context({dockerHost: flags['docker-host']})
    const [{openMonitorService}, {UserError}, {withSpinner}] = await Promise.all([
      import('../../lib/monitor/service.js'),
      import('../../lib/errors.js'),
      import('../../lib/ui/terminal.js'),
    ])
    if (
      !flags.yes &&
      !(await this.confirm(
        `Recreate "${args.name}" with a freshly pulled image?`,
        `not updating "${args.name}" without confirmation`,
      ))
    ) {
      throw new UserError('cancelled', {hint: 'nothing was changed'})
    }
    await context.lock('monitor-update')
    const service = await openMonitorService(context, {watch: false})
    const outcome = await withSpinner(this.terminal, `Updating ${args.name}`, () =>
      service.update(args.name, {image: flags.image, force: flags.force, signal: context.signal}),
    )
    this.print(outcome.updated ? this.paint('ok', `✔ ${outcome.message}`) : `${outcome.message}`)
    return outcome
  }
}
