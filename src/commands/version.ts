import {HomeopsCommand} from '../cli/homeops-command.js'

export interface VersionReport {
  version: string
  node: string
  platform: string
  arch: string
}

export default class Version extends HomeopsCommand<VersionReport> {
  static override summary = 'Show the homeops version'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']

  async run(): Promise<VersionReport> {
    const report = {version: this.config.version, node: process.version, platform: process.platform, arch: process.arch}
    this.print(`homeops/${report.version} ${report.platform}-${report.arch} node-${report.node}`)
    return report
  }
}
