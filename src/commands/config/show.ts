import {HomeopsCommand} from '../../cli/homeops-command.js'
import type {HomeopsConfig} from '../../lib/config/root-schema.js'

export interface ShowReport {
  file: string | null
  config: HomeopsConfig
}

export default class ConfigShow extends HomeopsCommand<ShowReport> {
  static override summary = 'Print the effective configuration (file + environment), secrets masked'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']

  async run(): Promise<ShowReport> {
    const {config, configFile} = await this.context()
    const [{maskSecrets}, {stringify}] = await Promise.all([import('../../lib/config/load.js'), import('yaml')])
    const masked = maskSecrets(config)
    this.print(`# ${configFile ?? 'no config file: defaults and environment'}\n${stringify(masked).trimEnd()}`)
    return {file: configFile ?? null, config: masked}
  }
}
