import {defineArea} from '../area.js'
import {ddnsSchema} from './config.js'
import {ddnsMigrations} from './migrations.js'

export const ddnsArea = defineArea({
  name: 'ddns',
  title: 'Dynamic DNS',
  schema: ddnsSchema,
  migrations: ddnsMigrations,
  mode: {module: 'ddns/mode.js', factory: 'createDdnsMode', page: 3},
  doctor: {needs: ['ddns-records', 'serve-port'], module: 'ddns/doctor.js'},
  // Provider credentials and IP source URLs, once records are configured.
  async validate(section): Promise<void> {
    if (!section.hostname && section.records.length === 0) return
    const {checkDdnsConfig} = await import('./updater.js')
    checkDdnsConfig(section)
  },
})
