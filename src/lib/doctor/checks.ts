import type {DoctorChecks, DoctorInput, Listener} from '../area.js'
import {AREAS} from '../areas.js'
import type {HomeopsConfig, Mode} from '../config/root-schema.js'
import {MODES} from '../config/root-schema.js'
import {unknownEnvMessage, unknownHomeopsEnv} from '../config/known-env.js'
import {errnoCode, errorMessage} from '../errors.js'
import {parseListen} from '../http/address.js'
import {isLoopback} from '../net/cidr.js'
import {defaultStatePath} from '../paths.js'
import {type Check, type StateHandle, probeTcp} from './check.js'

export type {StateHandle} from './check.js'

export interface CheckResult extends Check {
  /** A mode enabled in the config needs this check to pass. */
  required: boolean
  /** Modes that need it. */
  neededBy: Mode[]
}

export interface DoctorReport {
  ok: boolean
  enabledModes: Mode[]
  checks: CheckResult[]
}

export interface DoctorOptions {
  /** Loads the config, throwing a user-facing error when it is invalid. */
  loadConfig: () => {config: HomeopsConfig; file?: string}
  openState: (path: string) => Promise<StateHandle>
  dockerHost?: string
  env?: NodeJS.ProcessEnv
}

/** One area seen through the list: its hooks take its own section. */
type AreaHooks = {
  doctor: {needs: readonly string[]; module?: string}
  listeners?(section: unknown, serveApiKey: string | undefined): Listener[]
}
const hooks = (area: (typeof AREAS)[number]): AreaHooks => area

/** The checks an area's doctor module exports (`area.doctor.module`, relative to src/lib). */
async function areaChecks(area: (typeof AREAS)[number]): Promise<DoctorChecks<unknown>> {
  const module = hooks(area).doctor.module
  if (!module) return {}
  const loaded = (await import(new URL(`../${module}`, import.meta.url).href)) as {doctorChecks?: DoctorChecks<unknown>}
  if (!loaded.doctorChecks) throw new TypeError(`lib/${module} does not export doctorChecks`)
  return loaded.doctorChecks
}

/**
 * The config, the state database and Docker (the core), then what each area declares (`area.ts`): what the
 * host offers it, in the order of the areas, the API key of every server beyond loopback, the settings of
 * each enabled area, and the port of `homeops serve`. A check is required when an enabled area needs it.
 */
export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const env = options.env ?? process.env
  const checks: Check[] = []
  let config: HomeopsConfig | undefined
  try {
    const loaded = options.loadConfig()
    config = loaded.config
    checks.push({
      id: 'config',
      title: 'config',
      ok: true,
      detail: loaded.file ? `valid: ${loaded.file}` : 'no config file; defaults and environment',
    })
  } catch (error) {
    checks.push({
      id: 'config',
      title: 'config',
      ok: false,
      detail: errorMessage(error),
      hint: (error as {hint?: string}).hint,
    })
  }

  const statePath = config?.state.path ?? defaultStatePath(env)
  let state: StateHandle | undefined
  try {
    state = await options.openState(statePath)
    checks.push({id: 'state', title: 'state database', ok: true, detail: `writable: ${statePath}`})
  } catch (error) {
    checks.push({
      id: 'state',
      title: 'state database',
      ok: false,
      detail: errorMessage(error),
      hint: (error as {hint?: string}).hint,
    })
  }

  const enabledModes = config ? MODES.filter((m) => config[m].enabled) : []
  const input = (area: (typeof AREAS)[number]): DoctorInput<unknown> => ({
    section: config?.[area.name],
    enabled: enabledModes.includes(area.name),
    state,
    dockerTimeoutMs: (config?.docker.timeoutSeconds ?? 30) * 1000,
  })
  try {
    checks.push(...(await dockerChecks(options.dockerHost ?? config?.docker.host)))
    const own = await Promise.all(AREAS.map(areaChecks))
    for (const [i, area] of AREAS.entries()) checks.push(...((await own[i]!.host?.(input(area))) ?? []))
    if (config) checks.push(apiKeyCheck(config))
    // Each enabled area's own prerequisites.
    for (const [i, area] of AREAS.entries()) {
      if (enabledModes.includes(area.name)) checks.push(...((await own[i]!.settings?.(input(area))) ?? []))
    }
  } finally {
    state?.close()
  }
  if (config && enabledModes.length > 0) checks.push(await servePortCheck(config.serve.listen))
  const unknown = unknownHomeopsEnv(env)
  if (unknown.length > 0) {
    checks.push({
      id: 'environment',
      title: 'environment',
      ok: false,
      advisory: true,
      detail: unknown.map(unknownEnvMessage).join('\n'),
      hint: 'rename or unset them (docs/environment.md lists every variable)',
    })
  }
  const needs = new Map<Mode, readonly string[]>(AREAS.map((area) => [area.name, hooks(area).doctor.needs]))
  const results: CheckResult[] = checks.map((c) => {
    const neededBy = enabledModes.filter((m) => needs.get(m)?.includes(c.id))
    const always = c.id === 'config' || c.id === 'state' || c.id === 'api-key'
    return {...c, neededBy, required: !c.advisory && (always || neededBy.length > 0)}
  })
  return {ok: results.every((c) => c.ok || !c.required), enabledModes, checks: results}
}

/**
 * The port of `homeops serve` is free, or held by a running homeops serve (its `/health` answers with
 * `modes`): anything else there would make `homeops serve` fail to start.
 */
async function servePortCheck(listen: string): Promise<Check> {
  const title = 'serve port'
  let host: string
  let port: number
  try {
    ;({host, port} = parseListen(listen))
  } catch (error) {
    return {id: 'serve-port', title, ok: false, detail: errorMessage(error)}
  }
  try {
    await probeTcp(host, port)
    return {id: 'serve-port', title, ok: true, detail: `${listen} is free for homeops serve`}
  } catch (error) {
    const code = errnoCode(error)
    if (code === 'EADDRINUSE' && (await isHomeopsServe(host, port))) {
      return {id: 'serve-port', title, ok: true, detail: `${listen}: homeops serve is running there`}
    }
    return {
      id: 'serve-port',
      title,
      ok: false,
      detail:
        code === 'EADDRINUSE'
          ? `${listen} is in use by another program`
          : code === 'EACCES'
            ? `${listen} needs root (ports below 1024)`
            : `${listen}: ${errorMessage(error)}`,
      hint: 'stop the other program or set serve.listen (HOMEOPS_SERVE_LISTEN)',
    }
  }
}

async function isHomeopsServe(host: string, port: number): Promise<boolean> {
  const {httpRequest} = await import('../http/client.js')
  const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host
  try {
    const answer = await httpRequest(`http://${target.includes(':') ? `[${target}]` : target}:${port}/health`, {
      timeoutMs: 2000,
      maxBytes: 64 * 1024,
      redirects: {max: 0},
    })
    const body = JSON.parse(answer.body.toString('utf8')) as {modes?: unknown}
    return typeof body.modes === 'object' && body.modes !== null
  } catch {
    return false
  }
}

async function dockerChecks(host: string | undefined): Promise<Check[]> {
  const {connectDocker} = await import('../docker/client.js')
  try {
    const {docker, address} = await connectDocker(host)
    const [version, info] = await Promise.all([
      docker.version(),
      docker.info() as Promise<{Swarm?: {LocalNodeState?: string; ControlAvailable?: boolean}}>,
    ])
    const swarmState = info.Swarm?.LocalNodeState ?? 'unknown'
    const role = swarmState === 'active' ? (info.Swarm?.ControlAvailable ? 'manager' : 'worker') : swarmState
    return [
      {
        id: 'docker',
        title: 'Docker',
        ok: true,
        detail: `Docker ${version.Version} (API ${version.ApiVersion}) at ${address}`,
      },
      {
        id: 'swarm',
        title: 'swarm',
        ok: role === 'manager',
        detail:
          role === 'manager'
            ? 'this node is a swarm manager'
            : `this node is ${role === 'inactive' ? 'not in a swarm' : `a swarm ${role}`}`,
        hint:
          role === 'manager'
            ? undefined
            : 'swarm GitOps deploys from a manager: `docker swarm init` or run on a manager',
      },
    ]
  } catch (error) {
    return [
      {id: 'docker', title: 'Docker', ok: false, detail: errorMessage(error), hint: (error as {hint?: string}).hint},
      {id: 'swarm', title: 'swarm', ok: false, detail: 'unknown: Docker is not reachable'},
    ]
  }
}

/**
 * The "no key" policy (README "Security"): a server listening beyond this
 * machine without a key refuses every change from other machines. That is
 * safe but surely not what was meant, so doctor fails until a key is set.
 */
export function apiKeyCheck(config: HomeopsConfig): Check {
  const beyondLoopback = (listen: string) => {
    try {
      const {host} = parseListen(listen)
      return host !== 'localhost' && !isLoopback(host)
    } catch {
      return false // reported by the command that listens
    }
  }
  const listeners = [
    {
      what: `homeops serve on ${config.serve.listen}`,
      listen: config.serve.listen,
      keyed: Boolean(config.serve.apiKey),
      hint: 'serve.apiKey (HOMEOPS_API_KEY)',
    },
    ...AREAS.flatMap((area) => hooks(area).listeners?.(config[area.name], config.serve.apiKey) ?? []),
  ].filter((l) => beyondLoopback(l.listen) && !l.keyed)
  const exposed = listeners.map((l) => l.what)
  const hints = new Set(listeners.map((l) => l.hint))
  const title = 'API key'
  if (exposed.length === 0) return {id: 'api-key', title, ok: true, detail: 'every server beyond loopback has a key'}
  return {
    id: 'api-key',
    title,
    ok: false,
    detail: `listening beyond this machine without a key (changes from other machines are refused): ${exposed.join(', ')}`,
    hint: `set ${[...hints].join(' and ')}, 16+ characters (openssl rand -base64 24), or listen on 127.0.0.1`,
  }
}
