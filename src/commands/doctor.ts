import {HomeopsCommand, dockerHostFlag} from '../cli/homeops-command.js'
import type {DoctorReport} from '../lib/doctor/checks.js'
import {ExitCode} from '../lib/errors.js'

export default class Doctor extends HomeopsCommand<DoctorReport> {
  static override summary = 'Check that this host has what the enabled modes need'
  static override description =
    'Says which modes are enabled, then one line per check: config, state database, Docker, swarm role, docker CLI, git, DNS port and upstreams, API key (a server listening beyond loopback without one), DDNS records and credentials, notifiers, watched repositories, the port of homeops serve. Exits 1 when a check that an enabled mode needs fails; `!` marks a warning.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json --config ./config.yaml',
  ]
  static override flags = {'docker-host': dockerHostFlag}

  async run(): Promise<DoctorReport> {
    const {flags} = await this.parse(Doctor)
    const [{runDoctor}, {loadConfig}, {openState}, {allMigrations}] = await Promise.all([
      import('../lib/doctor/checks.js'),
      import('../lib/config/load.js'),
      import('../lib/state/database.js'),
      import('../lib/state/registry.js'),
    ])
    const report = await runDoctor({
      loadConfig: () => loadConfig({path: this.globalFlags.config}),
      openState: (path) => openState({path, migrations: allMigrations}),
      dockerHost: flags['docker-host'],
    })
    this.print(
      report.enabledModes.length > 0
        ? `modes enabled: ${report.enabledModes.join(', ')}`
        : `no modes enabled ${this.paint('muted', '(set <mode>.enabled: true, e.g. ddns.enabled, for homeops serve to run it)')}`,
    )
    const width = Math.max(...report.checks.map((c) => c.title.length))
    for (const check of report.checks) {
      const mark = check.ok ? this.paint('ok', '✔') : check.required ? this.paint('bad', '✖') : this.paint('warn', '!')
      const needed = check.neededBy.length > 0 ? this.paint('muted', ` (needed by ${check.neededBy.join(', ')})`) : ''
      this.print(
        `${mark} ${check.title.padEnd(width)}  ${check.detail.split('\n').join('\n' + ' '.repeat(width + 4))}${needed}`,
      )
      if (!check.ok && check.hint) this.print(this.paint('muted', `${' '.repeat(width + 4)}${check.hint}`))
    }
    return report
  }

  /** A check that an enabled mode needs failed: exit 1. */
  protected override exitCodes(report: DoctorReport): number[] {
    return [report.ok ? ExitCode.ok : ExitCode.failure]
  }
}
