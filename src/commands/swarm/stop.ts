import {Args, Flags} from '@oclif/core'

import {HomeopsCommand, dockerHostFlag} from '../../cli/homeops-command.js'
import {UserError} from '../../lib/errors.js'
import type {StopReport} from '../../lib/swarm/reconcile.js'

export default class SwarmStop extends HomeopsCommand<StopReport> {
  static override summary =
    'Remove homeops-managed stacks, then the images homeops pulled for them that nothing else uses'
  static override description = `With no stack named, every stack homeops deployed is removed: after a confirmation on a terminal, or with --yes elsewhere. Stacks and images homeops did not deploy are never touched. Stopped stacks stay stopped (reconcile skips them) until \`swarm watch URL\` is run again or \`swarm reconcile --force\`.`
  static override examples = ['<%= config.bin %> <%= command.id %> web', '<%= config.bin %> <%= command.id %> --yes']
  static override strict = false
  static override args = {stacks: Args.string({description: 'stack names (default: all homeops-managed stacks)'})}
  static override flags = {
    yes: Flags.boolean({
      char: 'y',
      description: 'do not ask before stopping every managed stack',
      env: 'HOMEOPS_SWARM_YES',
    }),
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
        if (!process.stdin.isTTY || !process.stderr.isTTY || this.jsonEnabled()) {
          throw new UserError(`refusing to stop every managed stack (${targets.join(', ')}) without --yes`, {
            hint: 'name the stacks to stop, or pass --yes',
          })
        }
        if (!(await confirm(`Stop ${targets.length} stack(s): ${targets.join(', ')}? [y/N] `))) {
          this.print('nothing stopped')
          return {stopped: [], failed: [], images: {removed: [], kept: []}, exitCode: 0}
        }
      }
    }
    const report = await stop(env, names)
    if (report.stopped.length > 0) this.print(`stopped: ${report.stopped.join(', ')}`)
    for (const f of report.failed) this.print(this.paint('bad', `✖ ${f.stack}: ${f.error}`))
    for (const line of formatImages(this.terminal, report.images)) this.print(line)
    process.exitCode = report.exitCode
    return report
  }
}

async function confirm(question: string): Promise<boolean> {
  const {createInterface} = await import('node:readline/promises')
  const rl = createInterface({input: process.stdin, output: process.stderr})
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim())
  } finally {
    rl.close()
  }
}
