import {HomeopsCommand} from '../../cli/homeops-command.js'

export interface ValidateReport {
  valid: true
  file: string | null
}

export default class ConfigValidate extends HomeopsCommand<ValidateReport> {
  static override summary = 'Check the config file and environment; exit 2 with every problem if invalid'
  static override examples = ['<%= config.bin %> <%= command.id %> --config /etc/homeops/config.yaml']

  async run(): Promise<ValidateReport> {
    const {config, configFile} = await this.context()
    // Cross-field rules the schema cannot express (provider credentials, IP source URLs), per configured area.
    if (config.ddns.hostname || config.ddns.records.length > 0) {
      const {checkDdnsConfig} = await import('../../lib/ddns/updater.js')
      checkDdnsConfig(config.ddns)
    }
    if (config.images.schedule) {
      const {validateSchedule} = await import('../../lib/images/mode.js')
      await validateSchedule(config.images.schedule)
    }
    this.print(
      `${this.paint('ok', '✔')} ${configFile ? `${configFile} is valid` : 'no config file; defaults and environment are valid'}`,
    )
    return {valid: true, file: configFile ?? null}
  }
}
