import {HomeopsCommand} from '../../cli/homeops-command.js'

export interface ValidateReport {
  valid: true
  file: string | null
}

export default class ConfigValidate extends HomeopsCommand<ValidateReport> {
  static override summary = 'Check the config file and environment; exit 2 with every problem if invalid'
  static override examples = ['<%= config.bin %> <%= command.id %> --config /etc/homeops/config.yaml']

  async run(): Promise<ValidateReport> {
    const {config, configFile} = await this.context({strictEnv: true})
    const {unknownHomeopsEnv, unknownEnvMessage} = await import('../../lib/config/known-env.js')
    const unknown = unknownHomeopsEnv(process.env)
    if (unknown.length > 0) {
      const {UserError} = await import('../../lib/errors.js')
      throw new UserError(unknown.map(unknownEnvMessage).join('\n'), {
        hint: 'rename or unset it; every variable is listed in docs/configuration.md',
      })
    }
    // Cross-field rules the schema cannot express (provider credentials, IP source URLs), per area.
    const {validateAreas} = await import('../../lib/config/validate.js')
    await validateAreas(config)
    this.print(
      `${this.paint('ok', '✔')} ${configFile ? `${configFile} is valid` : 'no config file; defaults and environment are valid'}`,
    )
    return {valid: true, file: configFile ?? null}
  }
}
