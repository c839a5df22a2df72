import {type Terminal, type Tone, paint, renderTable} from '../ui/terminal.js'
import type {DdnsRunReport, RecordReport} from './updater.js'

/** The human output of `ddns update` (shared by the oclif command and the lean timer entry). */
export function renderRunReport(terminal: Terminal, report: DdnsRunReport): string {
  const tone = (r: RecordReport): Tone =>
    r.exitCode === 4 || r.exitCode === 1 ? 'bad' : r.exitCode === 3 ? 'warn' : r.action === 'sent' ? 'ok' : 'plain'
  const table = renderTable(
    terminal,
    [
      {header: 'record', value: (r: RecordReport) => r.record},
      {header: 'family', value: (r) => (r.family === 'ipv4' ? 'IPv4' : 'IPv6')},
      {header: 'address', value: (r) => r.detectedIp ?? '-'},
      {header: 'action', value: (r) => r.action, tone},
      {header: 'detail', value: (r) => r.message},
    ],
    report.records,
  )
  return report.dryRun
    ? `${table}\n${paint(terminal, 'muted', 'dry run: nothing was sent and nothing was recorded')}`
    : table
}
