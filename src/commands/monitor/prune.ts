import {Flags} from '@oclif/core'

import {HomeopsCommand, dockerHostFlag, yesFlag} from '../../cli/homeops-command.js'
import type {PruneResult} from '../../lib/docker/images.js'

export default class MonitorPrune extends HomeopsCommand<PruneResult> {
  static override summary = 'Remove every image no container uses (docker image prune -a)'
  static override description =
    'Lists what `monitor images` shows and removes it. Images used by a container, even a stopped one, are kept. The --json output is Docker’s own: {"ImagesDeleted": [...], "SpaceReclaimed": bytes}.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --yes --json',
    '<%= config.bin %> <%= command.id %> --label com.example.team=web --yes',
  ]
  static override flags = {
    yes: yesFlag,
    label: Flags.string({description: 'only images with this label (key or key=value; repeatable)', multiple: true}),
    'docker-host': dockerHostFlag,
  }

  async run(): Promise<PruneResult> {
    const {flags} = await this.parse(MonitorPrune)
    const context = await this.context({dockerHost: flags['docker-host']})
    const [{listUnusedImages, pruneUnusedImages}, {formatBytes}, {UserError}] = await Promise.all([
      import('../../lib/docker/images.js'),
      import('../../lib/monitor/format.js'),
      import('../../lib/errors.js'),
    ])
    const {docker} = await context.docker()
    const filter = {labels: flags.label}
    const unused = await listUnusedImages(docker, filter)
    if (unused.length === 0) {
      this.print('no unused images: nothing to remove')
      return {ImagesDeleted: [], SpaceReclaimed: 0}
    }
    if (!flags.yes) {
      for (const image of unused) {
        this.print(
          `  ${image.id.replace(/^sha256:/, '').slice(0, 12)}  ${image.tags.join(', ') || '<none>'}  ${formatBytes(image.size)}`,
        )
      }
      const question = `Remove these ${unused.length} unused image(s)?`
      if (!(await this.confirm(question, `not removing ${unused.length} image(s) without confirmation`))) {
        throw new UserError('cancelled', {hint: 'nothing was removed'})
      }
    }
    const result = await pruneUnusedImages(docker, filter)
    const deleted = (result.ImagesDeleted ?? []).filter((d) => d.Deleted).length
    this.print(this.paint('ok', `✔ removed ${deleted} image layer(s), reclaimed ${formatBytes(result.SpaceReclaimed)}`))
    return result
  }
}
