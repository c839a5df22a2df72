import {Args, Flags} from '@oclif/core'

import {HomeopsCommand, dockerHostFlag} from '../../cli/homeops-command.js'
import type {UnwatchReport} from '../../lib/swarm/reconcile.js'

export default class SwarmUnwatch extends HomeopsCommand<UnwatchReport> {
  static override summary = 'Stop watching a repository (its stacks keep running unless --remove-stacks)'
  static override description =
    'Without --remove-stacks the stacks stay in the Swarm and homeops forgets them (and the images they use are no longer homeops-managed). With it, the stacks are removed and images homeops pulled that nothing else uses are removed. The cached clone is deleted either way.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> https://github.com/me/homelab.git',
    '<%= config.bin %> <%= command.id %> https://github.com/me/homelab.git --remove-stacks',
  ]
  static override args = {url: Args.string({description: 'repository URL (or name) as watched', required: true})}
  static override flags = {
    'remove-stacks': Flags.boolean({description: "also remove the repository's stacks from the Swarm"}),
    'docker-host': dockerHostFlag,
  }

  async run(): Promise<UnwatchReport> {
    const {args, flags} = await this.parse(SwarmUnwatch)
    const context = await this.context({dockerHost: flags['docker-host']})
    await context.lock('swarm')
    const [{openSwarm, unwatch}, {formatImages}] = await Promise.all([
      import('../../lib/swarm/reconcile.js'),
      import('../../lib/swarm/report.js'),
    ])
    const report = await unwatch(await openSwarm(context), {url: args.url, removeStacks: flags['remove-stacks']})
    this.print(`no longer watching ${report.repository.url}`)
    if (report.removedStacks.length > 0) this.print(`removed stacks: ${report.removedStacks.join(', ')}`)
    if (report.forgottenStacks.length > 0) {
      this.print(`left running, no longer managed by homeops: ${report.forgottenStacks.join(', ')}`)
    }
    for (const f of report.failedStacks) this.print(this.paint('bad', `✖ ${f.stack}: ${f.error} (repository kept)`))
    for (const line of formatImages(this.terminal, report.images)) this.print(line)
    return report
  }
}
