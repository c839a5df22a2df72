import {Flags} from '@oclif/core'

import {HomeopsCommand, dockerHostFlag} from '../../cli/homeops-command.js'
import type {CheckReport, CheckResult} from '../../lib/images/checker.js'

export default class ImagesCheck extends HomeopsCommand<CheckReport> {
  static override summary = 'Check the images of running containers and Swarm services for newer versions'
  static override description = `One row per workload: image, current tag, the newest version its strategy allows, the newest overall, mode and status. Semver tags are compared by version (same format, prefix and variant); other tags (latest) by digest. Results are stored for \`images history\` and the web UI. Nothing is changed. A workload whose tag is a version but has no candidate gets a line saying why (strategy, other variants, filters). A container running a locally built image (no registry digest) is \`local image\`, not an error. Exit 0 when every workload was checked in full (updates available or not); 1 when some could not be, even in part (bad label, registry refused, digest check failed beside a version found); 3 when the only failures are temporary (registry unreachable, rate limited).`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --workload web --json',
  ]
  static override flags = {
    workload: Flags.string({description: 'only this container or Swarm service', env: 'HOMEOPS_IMAGES_WORKLOAD'}),
    'docker-host': dockerHostFlag,
  }

  async run(): Promise<CheckReport> {
    const {flags} = await this.parse(ImagesCheck)
    const context = await this.context({dockerHost: flags['docker-host']})
    const [{runCheck}, {withSpinner}] = await Promise.all([
      import('../../lib/images/watcher.js'),
      import('../../lib/ui/terminal.js'),
    ])
    // The table names every failure once; no log line repeats it.
    const report = await withSpinner(this.terminal, 'Checking images…', () =>
      runCheck(context, {workload: flags.workload, logErrors: false}),
    )
    if (!this.jsonEnabled()) await this.render(report)
    return report
  }

  protected override async exitCodes(report: CheckReport): Promise<number[]> {
    const {checkExitCode} = await import('../../lib/images/checker.js')
    return [checkExitCode(report)]
  }

  private async render(report: CheckReport): Promise<void> {
    const {renderTable} = await import('../../lib/ui/terminal.js')
    if (report.results.length === 0) {
      this.print('No running containers or Swarm services.')
      return
    }
    const tone = (r: CheckResult) =>
      r.status === 'update_available'
        ? 'warn'
        : r.status === 'error'
          ? 'bad'
          : r.status === 'up_to_date'
            ? 'ok'
            : 'muted'
    const newest = (value: string | null, r: CheckResult) =>
      value ?? (r.update?.type === 'digest' ? `${r.currentTag} (new digest)` : '-')
    this.print(
      renderTable(
        this.terminal,
        [
          {header: 'workload', value: (r) => r.workload},
          {header: 'kind', value: (r) => r.kind},
          {header: 'image', value: (r) => r.image},
          {header: 'current', value: (r) => r.currentTag ?? '-'},
          {header: 'allowed', value: (r) => newest(r.newestAllowed, r)},
          {header: 'newest', value: (r) => r.newestOverall ?? '-'},
          {header: 'mode', value: (r) => (r.mode ? `${r.mode}/${r.strategy}` : '-')},
          {header: 'status', value: (r) => r.status.replace(/_/g, ' '), tone},
        ],
        report.results,
      ),
    )
    for (const r of report.results) {
      if (r.error) this.print(this.paint('bad', `${r.workload}: ${r.error}`))
      else if (r.note && !r.update) this.print(this.paint('muted', `${r.workload}: ${r.note}`))
    }
    const {managedText} = await import('../../lib/images/gitops.js')
    for (const r of report.results) {
      if (r.gitops) this.print(this.paint('muted', `${r.workload}: ${managedText(r.gitops)}; updates go through git`))
    }
    const s = report.summary
    const local = s.local > 0 ? `, ${s.local} local` : ''
    this.print(
      this.paint(
        'muted',
        `${s.workloads} workloads, ${s.updates} with updates, ${s.errors} errors${local} · ${report.registryRequests.requests} registry requests in ${(report.durationMs / 1000).toFixed(1)} s`,
      ),
    )
  }
}
