import {Args, Flags} from '@oclif/core'

import {HomeopsCommand, dockerHostFlag, yesFlag} from '../../cli/homeops-command.js'
import {ExitCode, UserError} from '../../lib/errors.js'
import type {ApplyReport} from '../../lib/images/watcher.js'

export default class ImagesUpdate extends HomeopsCommand<ApplyReport> {
  static override summary = 'Update one container or Swarm service to a newer image version'
  static override description = `Without --to, moves to the newest version the workload's strategy allows (or the new digest of its tag). A Swarm service gets a service update pinned to the tag's digest with FailureAction=rollback, and homeops.images.* labels; a container is pulled and recreated with the same configuration, and the old one comes back if the new one does not start. Takes the images lock (exit 5 if another update runs). Exit 1 when the update failed or was rolled back, or was refused (recorded as refused): a Swarm service homeops deploys from git is changed in git, not behind its back — the message names the file and line to change; with images.gitops: commit, homeops commits the tag bump to the watched repository, pushes it and reconciles.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> web --yes',
    '<%= config.bin %> <%= command.id %> web --to 1.4.2 --yes --json',
  ]
  static override args = {workload: Args.string({description: 'container or Swarm service name', required: true})}
  static override flags = {
    to: Flags.string({description: 'tag to move to (default: newest allowed by the strategy)'}),
    yes: yesFlag,
    'docker-host': dockerHostFlag,
  }

  async run(): Promise<ApplyReport> {
    const {args, flags} = await this.parse(ImagesUpdate)
    const context = await this.context({dockerHost: flags['docker-host']})
    const [{applyWorkloadUpdate, createRegistryClient, visibleWorkloads}, {checkOne}, {withSpinner}] =
      await Promise.all([
        import('../../lib/images/watcher.js'),
        import('../../lib/images/checker.js'),
        import('../../lib/ui/terminal.js'),
      ])
    const client = createRegistryClient(context)
    context.onClose(() => client.close())
    if (!flags.yes) {
      // Refuse before asking the registry anything: nobody is there to answer.
      if (!this.terminal.interactive) {
        throw new UserError('refusing to update without --yes when not on a terminal', {hint: 'add --yes'})
      }
      const workload = (await visibleWorkloads(context)).find((w) => w.name === args.workload)
      if (workload) {
        const check = await checkOne(workload, {
          client,
          logger: context.logger,
          overrides: {mode: context.config.images.mode, strategy: context.config.images.strategy},
        })
        const target = flags.to ?? check.update?.tag
        if (!target) {
          this.print(`${args.workload} is up to date (${check.currentTag ?? '?'}).`)
          return {workload: workload.name, kind: workload.kind, action: 'up_to_date', outcome: null, check}
        }
        const question = `Update ${args.workload} from ${check.currentTag ?? '?'} to ${target}?`
        if (!(await this.confirm(question, 'refusing to update without --yes when not on a terminal'))) {
          throw new UserError('update cancelled, nothing changed')
        }
      }
    }
    const report = await withSpinner(this.terminal, `Updating ${args.workload}…`, () =>
      applyWorkloadUpdate(context, {workload: args.workload, to: flags.to, by: 'manual', client}),
    )
    const o = report.outcome
    if (report.action === 'up_to_date')
      this.print(`${report.workload} is up to date (${report.check.currentTag ?? '?'}).`)
    else if (report.action === 'updated')
      this.print(this.paint('ok', `✔ ${report.workload}: ${o?.previousVersion ?? '?'} → ${o?.newVersion}`))
    else {
      this.print(
        this.paint(
          'bad',
          `✖ ${report.workload}: update to ${o?.newVersion} ${report.action.replace('_', ' ')}: ${o?.error}`,
        ),
      )
    }
    return report
  }

  /** Failed, rolled back or refused: exit 1. */
  protected override exitCodes(report: ApplyReport): number[] {
    return [report.action === 'up_to_date' || report.action === 'updated' ? ExitCode.ok : ExitCode.failure]
  }
}
