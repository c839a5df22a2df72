import {Args} from '@oclif/core'

import {HomeopsCommand, dockerHostFlag, yesFlag} from '../../cli/homeops-command.js'
import type {StopReport} from '../../lib/swarm/reconcile.js'

export default class SwarmStop extends HomeopsCommand<StopReport> {
  static override summary =
    'Remove homeops-managed stacks, then the images homeops pulled for them that nothing else uses'
  static override description = `With no stack named, every stack homeops deployed is removed: after a confirmation on a terminal, or with --yes elsewhere. Stacks and images homeops did not deploy are never touched. Stopped stacks stay stopped (reconcile skips them) until \`swarm watch URL\` is run again or \`swarm reconcile --force\`.`
  static override examples = ['<%= config.bin %> <%= command.id %> web', '<%= config.bin %> <%= command.id %> --yes']
  static override strict = false
  static override args = {stacks: Args.string({description: 'stack names (default: all homeops-managed stacks)'})}
  static override flags = {
    yes: yesFlag,
    'docker-host': dockerHostFlag,
  }

  async run(): Promise<StopReport> {
    const {argv, flags} = await this.parse(SwarmStop)
    const names = argv as string[]
    const context = await this.context({dockerHost: flags['docker-host']})
    await context.lock('swarm')
    const [{openSwarm, stop, stopTargets}, {formatImages}] = await Promise.all([
      import('../../lib/swarm/reconcile.js'),
      import('../../lib/swarm/report.js'),
    ])
    const env = await openSwarm(context)
    if (names.length === 0) {
      const targets = stopTargets(env.store, [])
      if (targets.length === 0) {
        this.print('no homeops-managed stack is running')
        return {stopped: [], failed: [], images: {removed: [], kept: []}, exitCode: 0}
      }
      if (!flags.yes) {
        const question = `Stop ${targets.length} stack(s): ${targets.join(', ')}?`
        const refusal = `refusing to stop every managed stack (${targets.join(', ')}) without --yes`
        if (!(await this.confirm(question, refusal, 'name the stacks to stop, or pass --yes'))) {
          this.print('nothing stopped')
          return {stopped: [], failed: [], images: {removed: [], kept: []}, exitCode: 0}
        }
      }
    }
    const report = await stop(env, names)
    if (report.stopped.length > 0) this.print(`stopped: ${report.stopped.join(', ')}`)
    for (const f of report.failed) this.print(this.paint('bad', `✖ ${f.stack}: ${f.error}`))
    for (const line of formatImages(this.terminal, report.images)) this.print(line)
    return report
  }
}
