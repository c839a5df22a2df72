import {type Listener, defineArea} from '../area.js'
import {monitorSchema} from './config.js'

export const monitorArea = defineArea({
  name: 'monitor',
  title: 'Containers',
  schema: monitorSchema,
  migrations: [],
  mode: {module: 'monitor/mode.js', factory: 'createMonitorMode', page: 1},
  doctor: {needs: ['docker', 'api-key', 'serve-port']},
  listeners: (section): Listener[] => [
    {
      what: `monitor serve on ${section.listen}`,
      listen: section.listen,
      keyed: Boolean(section.auth && section.apiKey),
      hint: 'monitor.auth: true with monitor.apiKey (AUTH_ENABLED, API_KEY)',
    },
  ],
})
