import {Flags} from '@oclif/core'

import {HomeopsCommand, dockerHostFlag} from '../../cli/homeops-command.js'
import type {ReconcileReport} from '../../lib/swarm/reconcile.js'

export default class SwarmReconcile extends HomeopsCommand<ReconcileReport> {
  static override summary = 'Fetch every watched repository and deploy the stacks whose hash changed'
  static override description = `Safe to run from cron: one cached clone per repository (git fetch, never a fresh clone), a stack is deployed only when its hash (rendered compose, bindings, volumes.yaml/nfs.yaml, secret values) changed, and the hash is recorded only once the services converged. Stacks removed from stacks.yaml are removed from the Swarm, unless a repository suddenly lists none or drops more than swarm.pruneMaxShare of its stacks (refused unless --allow-prune-all); images homeops pulled that nothing references any more are removed.

Exit codes: 0 ok or nothing to do, 1 a stack or repository failed (the others were still applied), 2 bad flags or config, 3 a remote was unreachable (what is deployed stays), 5 another run holds the lock.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --dry-run',
    '<%= config.bin %> <%= command.id %> --force --repo https://github.com/me/homelab.git',
  ]
  static override flags = {
    force: Flags.boolean({description: 'deploy every stack, changed or not', env: 'HOMEOPS_SWARM_FORCE'}),
    'dry-run': Flags.boolean({
      description: 'print the plan (create / update / unchanged / remove, and why) and change nothing',
      env: 'HOMEOPS_SWARM_DRY_RUN',
    }),
    'allow-prune-all': Flags.boolean({
      description:
        'let this run remove every stack a repository dropped, past swarm.pruneMaxShare (also when stacks.yaml lists none)',
    }),
    repo: Flags.string({description: 'only this watched repository (URL or name)', env: 'HOMEOPS_SWARM_REPO'}),
    'docker-host': dockerHostFlag,
  }

  async run(): Promise<ReconcileReport> {
    const {flags} = await this.parse(SwarmReconcile)
    const context = await this.context({dockerHost: flags['docker-host']})
    await context.lock('swarm')
    const {openSwarm, reconcile} = await import('../../lib/swarm/reconcile.js')
    const report = await reconcile(await openSwarm(context), {
      force: flags.force,
      dryRun: flags['dry-run'],
      repo: flags.repo,
      allowPruneAll: flags['allow-prune-all'],
    })
    // Under --json the table is not wanted: neither built nor its module loaded.
    if (!this.jsonEnabled()) {
      const {formatReconcile} = await import('../../lib/swarm/report.js')
      this.log(formatReconcile(this.terminal, report))
    }
    return report
  }
}
