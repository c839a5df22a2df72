import {HomeopsCommand, dockerHostFlag} from '../cli/homeops-command.js'
import type {DoctorReport} from '../lib/doctor/checks.js'
import {ExitCode} from '../lib/errors.js'

export default class Doctor extends HomeopsCommand<DoctorReport> {
  static override summary = 'Check that this host has what the enabled modes need'
  static override description =
    'One line per check: config, state database, Docker, swarm role, docker CLI, git, DNS port, API key (a server listening beyond loopback without one). Exits 1 when a check that an enabled mode needs fails.'
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
    const width = Math.max(...report.checks.map((c) => c.title.length))
    for (const check of report.checks) {
      const mark = check.ok ? this.paint('ok', '✔') : check.required ? this.paint('bad', '✖') : this.paint('warn', '!')
      const needed = check.neededBy.length > 0 ? this.paint('muted', ` (needed by ${check.neededBy.join(', ')})`) : ''
      this.print(
        `${mark} ${check.title.padEnd(width)}  ${check.detail.split('\n').join('\n' + ' '.repeat(width + 4))}${needed}`,
      )
      if (!check.ok && check.hint) this.print(this.paint('muted', `${' '.repeat(width + 4)}${check.hint}`))
    }
    if (!report.ok) process.exitCode = ExitCode.failure
    return report
  }
}
