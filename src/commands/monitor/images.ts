import {Flags} from '@oclif/core'

import {HomeopsCommand, dockerHostFlag} from '../../cli/homeops-command.js'
import type {UnusedImage} from '../../lib/docker/images.js'

export interface MonitorImagesReport {
  count: number
  totalSize: number
  items: UnusedImage[]
}

export default class MonitorImages extends HomeopsCommand<MonitorImagesReport> {
  static override summary = 'List images no container uses (dangling or not), with their size'
  static override description =
    'These are the images `monitor prune` (and POST /images/prune) would remove: not used by any container, running or stopped.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
    '<%= config.bin %> <%= command.id %> --label com.example.team=web',
  ]
  static override flags = {
    label: Flags.string({description: 'only images with this label (key or key=value; repeatable)', multiple: true}),
    'docker-host': dockerHostFlag,
  }

  async run(): Promise<MonitorImagesReport> {
    const {flags} = await this.parse(MonitorImages)
    const context = await this.context({dockerHost: flags['docker-host']})
    const [{listUnusedImages}, {formatBytes}, {renderTable}] = await Promise.all([
      import('../../lib/docker/images.js'),
      import('../../lib/monitor/format.js'),
      import('../../lib/ui/terminal.js'),
    ])
    const {docker} = await context.docker()
    const items = await listUnusedImages(docker, {labels: flags.label})
    const totalSize = items.reduce((sum, i) => sum + i.size, 0)
    if (items.length === 0) {
      this.print('no unused images')
    } else {
      this.print(
        renderTable(
          this.terminal,
          [
            {header: 'id', value: (i: UnusedImage) => i.id.replace(/^sha256:/, '').slice(0, 12)},
            {
              header: 'tags',
              value: (i) => (i.dangling ? '<none>' : i.tags.join(', ')),
              tone: (i) => (i.dangling ? 'muted' : 'plain'),
            },
            {header: 'size', value: (i) => formatBytes(i.size), align: 'right'},
            {header: 'created', value: (i) => new Date(i.created * 1000).toISOString().slice(0, 10)},
          ],
          items,
        ),
      )
      this.print(
        this.paint(
          'muted',
          `${items.length} unused image(s), ${formatBytes(totalSize)} (shared layers counted once per image)`,
        ),
      )
    }
    return {count: items.length, totalSize, items}
  }
}
