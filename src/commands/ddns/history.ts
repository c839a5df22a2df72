import {Flags} from '@oclif/core'

import {HomeopsCommand} from '../../cli/homeops-command.js'
import type {DdnsHistoryReport, HistoryEntry} from '../../lib/ddns/status.js'
import {type Tone, renderTable} from '../../lib/ui/terminal.js'

export default class DdnsHistory extends HomeopsCommand<DdnsHistoryReport> {
  static override summary = 'List past updates sent to providers, newest first'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --limit 5 --record home.example.org --json',
  ]
  static override flags = {
    limit: Flags.integer({description: 'how many entries', default: 20, min: 1, max: 10000}),
    record: Flags.string({description: 'only this record'}),
  }

  async run(): Promise<DdnsHistoryReport> {
    const {flags} = await this.parse(DdnsHistory)
    const context = await this.context()
    const {ddnsHistory} = await import('../../lib/ddns/status.js')
    const report = await ddnsHistory(context, {limit: flags.limit, record: flags.record})
    if (report.entries.length === 0) {
      this.print('no ddns updates recorded yet')
      return report
    }
    const tone = (e: HistoryEntry): Tone =>
      e.result === 'good' || e.result === 'nochg'
        ? 'ok'
        : e.result === '911' || e.result.startsWith('http-5')
          ? 'warn'
          : 'bad'
    this.print(
      renderTable(
        this.terminal,
        [
          {header: 'time', value: (e: HistoryEntry) => e.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z')},
          {header: 'record', value: (e) => e.record},
          {header: 'family', value: (e) => (e.family === 'ipv4' ? 'IPv4' : 'IPv6')},
          {header: 'change', value: (e) => `${e.previousIp ?? '(none)'} -> ${e.ip ?? '-'}`},
          {header: 'result', value: (e) => e.result, tone},
          {header: 'tries', value: (e) => String(e.tries), align: 'right'},
          {header: 'answer', value: (e) => e.answer ?? ''},
        ],
        report.entries,
      ),
    )
    return report
  }
}
