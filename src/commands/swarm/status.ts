import {HomeopsCommand, dockerHostFlag} from '../../cli/homeops-command.js'
import type {SwarmStatus} from '../../lib/swarm/status.js'

export default class SwarmStatusCommand extends HomeopsCommand<SwarmStatus> {
  static override summary = 'Watched repositories, managed stacks (status, hash, last error, services) and images'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']
  static override flags = {'docker-host': dockerHostFlag}

  async run(): Promise<SwarmStatus> {
    const {flags} = await this.parse(SwarmStatusCommand)
    const context = await this.context({dockerHost: flags['docker-host']})
    const [{swarmStatus}, {formatStatus}] = await Promise.all([
      import('../../lib/swarm/status.js'),
      import('../../lib/swarm/report.js'),
    ])
    const status = await swarmStatus(context)
    this.print(formatStatus(this.terminal, status))
    return status
  }
}
