import {defineArea} from '../area.js'
import {dnsSchema} from './config.js'

export const dnsArea = defineArea({
  name: 'dns',
  title: 'DNS',
  schema: dnsSchema,
  migrations: [],
  mode: {module: 'dns/mode.js', factory: 'createDnsMode', page: 5},
  doctor: {needs: ['dns-port', 'dns-upstreams', 'dns-swarm-managers', 'serve-port'], module: 'dns/doctor.js'},
})
