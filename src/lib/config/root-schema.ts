import {AREAS} from '../areas.js'
import {LOG_FORMATS, LOG_LEVELS} from '../log/logger.js'
import {apiKeyField, cidrListField, hostListField} from '../http/access-config.js'
import {registryCredentialSchema} from '../registry/config.js'
import {type Infer, type ObjectField, type Shape, array, bool, listen, num, obj, oneOf, str} from './schema.js'

export const configSchema = obj({
  log: obj({
    level: oneOf(LOG_LEVELS, {default: 'info'}),
    format: oneOf(LOG_FORMATS),
  }),
  state: obj({
    path: str({env: ['HOMEOPS_DB_PATH', 'DOCKEROPS_DB_PATH'], description: 'SQLite state database'}),
  }),
  docker: obj({
    host: str({env: ['DOCKER_HOST'], description: 'unix:///var/run/docker.sock or tcp://host:2375'}),
    timeoutSeconds: num({
      default: 30,
      min: 1,
      max: 3600,
      description:
        'longest a Docker Engine call may go without a byte from the daemon before it fails (a frozen dockerd)',
    }),
  }),
  registries: array(registryCredentialSchema),
  serve: obj({
    listen: listen({default: '127.0.0.1:8080', description: 'address of `homeops serve` (HOST:PORT)'}),
    apiKey: apiKeyField({
      env: ['HOMEOPS_API_KEY'],
      description:
        'key (16+ characters) required for actions that change something (X-API-Key header, Bearer token or ?key=); without one, only this machine (loopback) may change anything',
    }),
    protectReads: bool({default: false, description: 'require the API key to read mode APIs and /metrics too'}),
    allowedIps: cidrListField({
      description: 'CIDR ranges allowed to use the server (default: anyone who can reach it)',
    }),
    allowedHosts: hostListField({
      env: ['ALLOWED_HOSTS'],
      description:
        "names this server is reached by (Host header; DNS rebinding guard): IP literals, localhost, the listen host and this machine's names are always accepted; `*.example.org` for subdomains",
    }),
    accessLog: bool({description: 'one log line per request (default: on when stderr is not a terminal)'}),
    allowNoModes: bool({
      default: false,
      description: 'accept a reload (SIGHUP) of a file that enables no mode; refused otherwise, as a likely mistake',
    }),
    allowNoApiKey: bool({
      default: false,
      description: 'accept a reload (SIGHUP) of a file without serve.apiKey while one is in use; refused otherwise',
    }),
  }),
  // Each area's section, from the list of areas (`src/lib/areas.ts`), in its order.
  ...areaShapes(),
})

export type HomeopsConfig = Infer<typeof configSchema>
/** The areas' names: config sections, `homeops serve` modes. */
export type Mode = (typeof AREAS)[number]['name']
export const MODES: readonly Mode[] = AREAS.map((area) => area.name)

type AreaShapes = {[A in (typeof AREAS)[number] as A['name']]: A['schema']}

function areaShapes(): AreaShapes {
  return Object.fromEntries(AREAS.map((area) => [area.name, area.schema as ObjectField<Shape>])) as AreaShapes
}
