import {Args, Flags} from '@oclif/core'

import {HomeopsCommand} from '../../cli/homeops-command.js'
import type {UpdateRecord} from '../../lib/images/history.js'

export interface HistoryReport {
  updates: UpdateRecord[]
}

export default class ImagesHistory extends HomeopsCommand<HistoryReport> {
  static override summary = 'Show applied image updates (newest first)'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> web --limit 5 --json',
  ]
  static override args = {workload: Args.string({description: 'only this container or Swarm service'})}
  static override flags = {limit: Flags.integer({description: 'rows to show', default: 50, min: 1})}

  async run(): Promise<HistoryReport> {
    const {args, flags} = await this.parse(ImagesHistory)
    const context = await this.context()
    const [{updateHistory}, {renderTable}] = await Promise.all([
      import('../../lib/images/history.js'),
      import('../../lib/ui/terminal.js'),
    ])
    const updates = updateHistory(await context.state(), {workload: args.workload, limit: flags.limit})
    if (updates.length === 0)
      this.print(args.workload ? `No updates recorded for ${args.workload}.` : 'No updates recorded.')
    else
      this.print(
        renderTable(
          this.terminal,
          [
            {header: 'when', value: (u) => u.at.slice(0, 19).replace('T', ' ')},
            {header: 'workload', value: (u) => u.workload},
            {header: 'image', value: (u) => u.image},
            {header: 'from', value: (u) => u.previousVersion ?? '-'},
            {header: 'to', value: (u) => u.newVersion},
            {header: 'by', value: (u) => u.by},
            {
              header: 'result',
              value: (u) => u.result.replace('_', ' ') + (u.error ? `: ${u.error}` : ''),
              tone: (u) => (u.result === 'applied' ? 'ok' : 'bad'),
            },
          ],
          updates,
        ),
      )
    return {updates}
  }
}
