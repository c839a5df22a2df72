import {Flags} from '@oclif/core'

import {HomeopsCommand} from '../../cli/homeops-command.js'
import type {DdnsRunReport} from '../../lib/ddns/updater.js'

export default class DdnsUpdate extends HomeopsCommand<DdnsRunReport> {
  static override summary = 'Update dynamic DNS records once (for systemd timers and cron)'
  static override description = `Detects the public IPv4 (and IPv6 when enabled), then sends an update only for records whose provider does not already hold that address. Blocked records (badauth, nohost…) and records in back-off (911, 5xx) send nothing.

Exit codes (with several records the most demanding wins: 4 > 2 > 1 > 3 > 0):
  0  ok, or nothing to do
  1  other failures: an answer that cannot be read, a mismatching address (and while deferred after one)
  2  configuration error
  3  temporary: detection failed, 911/dnserr, 5xx, 429, provider unreachable, timeout (outcome unknown),
     stopped by SIGTERM, or deferred after one of these
  4  refused and blocked: badauth, nohost, notfqdn, badagent, abuse, numhost (also while still blocked)
  5  another run holds the lock`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --dry-run --record home.example.org',
    '<%= config.bin %> <%= command.id %> --force --json',
  ]
  static override flags = {
    force: Flags.boolean({
      description: 'send even when unchanged, ignore back-off, and clear a blocked state',
      env: 'HOMEOPS_DDNS_FORCE',
    }),
    'dry-run': Flags.boolean({description: 'detect and compare, but send nothing and change nothing'}),
    record: Flags.string({
      description: 'only this record (its name, or hostname when unnamed); repeatable',
      multiple: true,
      env: 'HOMEOPS_DDNS_RECORD',
    }),
  }

  async run(): Promise<DdnsRunReport> {
    const {flags} = await this.parse(DdnsUpdate)
    // SIGTERM/SIGINT (systemd's stop, TimeoutStartSec) abort the request in flight; the pass records
    // "stopped, outcome unknown", the lock is released on the way out, and the run exits 3.
    this.handleSignals()
    const {checkDdnsConfig, runPass, withDdnsLogLevel} = await import('../../lib/ddns/updater.js')
    const context = withDdnsLogLevel(await this.context(), this.explicitLogLevel())
    checkDdnsConfig(context.config.ddns) // a config error exits 2 before anything is locked or created
    if (!flags['dry-run']) await context.lock('ddns')
    const report = await runPass(context, {force: flags.force, dryRun: flags['dry-run'], records: flags.record})
    await this.render(report)
    return report
  }

  private explicitLogLevel(): boolean {
    return Boolean(this.globalFlags['log-level'] || this.globalFlags.debug || process.env.HOMEOPS_LOG_LEVEL)
  }

  private async render(report: DdnsRunReport): Promise<void> {
    if (this.jsonEnabled()) return
    const {renderRunReport} = await import('../../lib/ddns/render.js')
    this.print(renderRunReport(this.terminal, report))
  }
}
