import {Args, Flags} from '@oclif/core'

import {HomeopsCommand, dockerHostFlag} from '../../cli/homeops-command.js'
import type {RepositoryWatchReport} from '../../lib/swarm/repositories.js'
import {progressFor} from '../../lib/ui/progress.js'

export default class SwarmWatch extends HomeopsCommand<RepositoryWatchReport> {
  static override summary = 'Register a git repository of stacks and deploy it'
  static override description = `The repository holds stacks.yaml (- name: web), one folder per stack with its compose file, and optionally volumes.yaml + nfs.yaml and per-stack secrets.yaml. Watching a repository that is already watched is not an error: it says so and reconciles it (and starts stacks stopped by \`swarm stop\` again).

Private repositories: set swarm.repositories[].token for the URL (or GITHUB_TOKEN for GitHub); the token is sent only to that host and never stored. Never put credentials in the URL.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> https://github.com/me/homelab.git',
    '<%= config.bin %> <%= command.id %> https://git.example.org/ops/stacks.git --branch production --name prod',
    '<%= config.bin %> <%= command.id %> /srv/git/homelab',
  ]
  static override args = {
    url: Args.string({description: 'repository URL (https://, ssh://, file:// or a local path)', required: true}),
  }
  static override flags = {
    branch: Flags.string({description: "branch to follow (default: the remote's default branch)"}),
    name: Flags.string({description: 'short name for status and the clone folder (default: from the URL)'}),
    'docker-host': dockerHostFlag,
  }

  async run(): Promise<RepositoryWatchReport> {
    const {args, flags} = await this.parse(SwarmWatch)
    const context = await this.context({dockerHost: flags['docker-host']})
    await context.lock('swarm')
    const [{openSwarm}, {watch}, {formatReconcile}] = await Promise.all([
      import('../../lib/swarm/env.js'),
      import('../../lib/swarm/repositories.js'),
      import('../../lib/swarm/report.js'),
    ])
    const env = await openSwarm(context, progressFor(context.terminal, context.logger))
    const report = await watch(env, {url: args.url, branch: flags.branch, name: flags.name})
    this.print(
      report.alreadyWatched
        ? `${report.repository.url} is already watched as ${report.repository.name}; reconciled it`
        : `watching ${report.repository.url} as ${report.repository.name} (branch ${report.repository.branch ?? 'default'})`,
    )
    this.print(formatReconcile(this.terminal, report.reconcile))
    return report
  }

  protected override exitCodes(report: RepositoryWatchReport): number[] {
    return [report.reconcile.exitCode]
  }
}
