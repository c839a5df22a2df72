import {HomeopsCommand} from '../../cli/homeops-command.js'
import type {DdnsStatusReport, RecordStatus} from '../../lib/ddns/status.js'
import {type Tone, renderTable} from '../../lib/ui/terminal.js'

export default class DdnsStatus extends HomeopsCommand<DdnsStatusReport> {
  static override summary = 'Show each record: last IP the provider accepted, last result and when, blocks, back-off'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']

  async run(): Promise<DdnsStatusReport> {
    const context = await this.context()
    const {ddnsStatus} = await import('../../lib/ddns/status.js')
    const report = await ddnsStatus(context)
    if (report.records.length === 0) {
      this.print('no ddns records configured (set INFOMANIAK_DDNS_HOSTNAME… or ddns.records)')
      return report
    }
    const tone = (r: RecordStatus): Tone =>
      r.blocked
        ? 'bad'
        : r.nextAttemptNotBefore
          ? 'warn'
          : r.lastResult === 'good' || r.lastResult === 'nochg'
            ? 'ok'
            : 'plain'
    this.print(
      renderTable(
        this.terminal,
        [
          {header: 'record', value: (r: RecordStatus) => r.record},
          {header: 'provider', value: (r) => r.provider},
          {header: 'family', value: (r) => (r.family === 'ipv4' ? 'IPv4' : 'IPv6')},
          {header: 'last ip', value: (r) => r.lastIp ?? '-'},
          {header: 'last result', value: (r) => r.lastResult ?? 'never sent', tone},
          {header: 'when', value: (r) => shortTime(r.lastResultAt)},
          {header: 'checked', value: (r) => shortTime(r.lastCheckedAt)},
          {
            header: 'state',
            value: (r) =>
              r.blocked
                ? `blocked: ${r.blocked.reason}${r.blocked.hint ? ` (${r.blocked.hint})` : ''}`
                : r.nextAttemptNotBefore
                  ? `next attempt after ${shortTime(r.nextAttemptNotBefore)}`
                  : 'ok',
            tone,
          },
        ],
        report.records,
      ),
    )
    if (report.records.some((r) => r.blocked)) {
      this.print(
        this.paint(
          'muted',
          'blocked records send nothing until their configuration changes or `homeops ddns update --force`',
        ),
      )
    }
    return report
  }
}

function shortTime(iso: string | null): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-'
}
