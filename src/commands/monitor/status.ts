import {Args, Flags} from '@oclif/core'

import {HomeopsCommand, dockerHostFlag} from '../../cli/homeops-command.js'
import type {ContainerRow, InterruptedUpdate} from '../../lib/monitor/service.js'

export interface MonitorStatusReport {
  containers: ContainerRow[]
  /** Container updates in progress in another process, or interrupted (killed) and not yet repaired. */
  interrupted_updates: InterruptedUpdate[]
}

export default class MonitorStatus extends HomeopsCommand<MonitorStatusReport> {
  static override summary = 'List containers with state, image, update status and CPU, memory, network and block I/O'
  static override description = `Update status is one of up_to_date, update_available, unknown_image (the container runs an image ID or an unparsable name), unknown_local_digest (the image was built or loaded locally, so there is no registry digest to compare) and registry_error (the registry could not be asked; the reason is in --json). That is the tag's digest; beside it, "· 1.1.0 allowed" names a newer tag the container's images strategy allows, from the last \`homeops images check\` stored in the state database (fresh within two images.intervalSeconds; no second registry request): --json has version_update, version_status (update_available, up_to_date, unknown) and version_checked_at. Swarm task containers and homeops's own container have updatable: false and not_updatable_reason.

CPU is in percent of one CPU (200% = two CPUs busy), memory excludes the page cache, network and block I/O are cumulative since the container started, as in docker stats.

A container update that was interrupted (the process killed half-way) is listed under the table with the step it stopped at; the next \`monitor update\` or \`images update\`, or \`serve\` at start, finishes or rolls it back.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> nextcloud --json',
    '<%= config.bin %> <%= command.id %> --watch --interval 2',
    '<%= config.bin %> <%= command.id %> --no-check',
  ]
  static override args = {name: Args.string({description: 'only this container (name or id)'})}
  static override flags = {
    watch: Flags.boolean({description: 'refresh in place until Ctrl-C, like top'}),
    interval: Flags.integer({description: 'seconds between refreshes with --watch', default: 2, min: 1, max: 86400}),
    check: Flags.boolean({
      description: 'ask the registries for update status (--no-check: metrics only, no network)',
      default: true,
      allowNo: true,
    }),
    'docker-host': dockerHostFlag,
  }

  async run(): Promise<MonitorStatusReport> {
    const {args, flags} = await this.parse(MonitorStatus)
    if (flags.watch && this.jsonEnabled()) {
      const {UserError} = await import('../../lib/errors.js')
      throw new UserError('--watch and --json cannot be combined', {hint: 'poll `monitor status --json` instead'})
    }
    if (flags.watch) this.handleSignals()
    const context = await this.context({dockerHost: flags['docker-host']})
    const [{openMonitorService}, {statusColumns}, {renderTable, withSpinner}, {ContainerNotFoundError}] =
      await Promise.all([
        import('../../lib/monitor/service.js'),
        import('../../lib/monitor/format.js'),
        import('../../lib/ui/terminal.js'),
        import('../../lib/docker/recreate.js'),
      ])
    // One-shot: one stats call per container, like `docker stats --no-stream`; --watch: streams.
    const service = await openMonitorService(context, {streams: flags.watch})
    const collect = async () => {
      if (!flags.watch) return service.rowsOnce({name: args.name, checkUpdates: flags.check})
      await service.waitForMetrics(3000, args.name)
      return service.rows({name: args.name, checkUpdates: flags.check})
    }
    let rows = await withSpinner(this.terminal, 'Reading containers and registries', collect)
    if (args.name !== undefined && rows.length === 0) throw new ContainerNotFoundError(args.name)
    const interrupted = service.interruptedUpdates()
    const render = (list: ContainerRow[]) =>
      list.length === 0 ? 'no containers' : renderTable(this.terminal, statusColumns, list)
    if (!flags.watch) {
      this.print(render(rows))
      for (const u of interrupted) this.print(this.paint('warn', describeInterrupted(u)))
      return {containers: rows, interrupted_updates: interrupted}
    }
    const tty = Boolean(process.stdout.isTTY)
    while (!context.signal.aborted) {
      const stamp = this.paint('muted', `${new Date().toLocaleTimeString()}  every ${flags.interval}s  Ctrl-C to stop`)
      if (tty) process.stdout.write('\u001B[H\u001B[2J' + render(rows) + '\n\n' + stamp + '\n')
      else this.print(render(rows) + '\n')
      const {sleep} = await import('../../lib/time/sleep.js')
      await sleep(flags.interval * 1000, context.signal)
      rows = await service.rows({name: args.name, checkUpdates: flags.check})
    }
    return {containers: rows, interrupted_updates: service.interruptedUpdates()}
  }
}

function describeInterrupted(u: InterruptedUpdate): string {
  if (u.running) return `! update of ${u.name} in progress (pid ${u.pid}, step ${u.step}, since ${u.started_at})`
  return (
    `! update of ${u.name} was interrupted before step "${u.step}" (pid ${u.pid} is gone; previous container: ${u.aside_name}); ` +
    `\`homeops monitor update ${u.name}\` or serve's next start repairs it`
  )
}
