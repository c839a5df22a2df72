import {execFile} from 'node:child_process'
import {createServer} from 'node:net'
import {createSocket} from 'node:dgram'
import {promisify} from 'node:util'

import type {HomeopsConfig, Mode} from '../config/root-schema.js'
import {MODES} from '../config/root-schema.js'
import {unknownEnvMessage, unknownHomeopsEnv} from '../config/known-env.js'
import {effectiveDnsPort} from '../dns/config.js'
import {chooseUpstreams} from '../dns/system-resolvers.js'
import {effectiveRecords} from '../ddns/records.js'
import {errnoCode, errorMessage} from '../errors.js'
import {parseListen} from '../http/address.js'
import {isLoopback} from '../net/cidr.js'
import {defaultStatePath} from '../paths.js'

export interface CheckResult {
  id:
    | 'config'
    | 'state'
    | 'docker'
    | 'swarm'
    | 'docker-cli'
    | 'git'
    | 'dns-port'
    | 'dns-native'
    | 'dns-upstreams'
    | 'dns-swarm-managers'
    | 'api-key'
    | 'ddns-records'
    | 'images-notifiers'
    | 'swarm-repos'
    | 'serve-port'
    | 'environment'
  title: string
  ok: boolean
  /** A failure that leaves the mode working, only less useful (a warning, not a failed check). */
  advisory?: boolean
  /** What was found: a version, a path, or what went wrong. */
  detail: string
  hint?: string
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

/** What doctor reads from the state database: the watched repositories. */
export interface StateHandle {
  close(): void
  prepare(sql: string): {get(): unknown}
}

const run = promisify(execFile)

/** Which checks each mode depends on. */
const NEEDS: Record<Mode, CheckResult['id'][]> = {
  ddns: ['ddns-records', 'serve-port'],
  images: ['docker', 'images-notifiers', 'serve-port'],
  monitor: ['docker', 'api-key', 'serve-port'],
  swarm: ['docker', 'swarm', 'docker-cli', 'git', 'swarm-repos', 'serve-port'],
  dns: ['dns-port', 'dns-upstreams', 'dns-swarm-managers', 'serve-port'],
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const env = options.env ?? process.env
  const checks: Omit<CheckResult, 'required' | 'neededBy'>[] = []
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
  let repositories: number | undefined
  try {
    const db = await options.openState(statePath)
    try {
      repositories = (db.prepare('SELECT count(*) AS n FROM swarm_repositories').get() as {n: number}).n
    } finally {
      db.close()
    }
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

  checks.push(...(await dockerChecks(options.dockerHost ?? config?.docker.host)))
  checks.push(
    await commandCheck(
      'docker-cli',
      'docker CLI',
      'docker',
      ['--version'],
      'install docker.io (needed for `docker stack deploy`)',
    ),
  )
  checks.push(await commandCheck('git', 'git', 'git', ['--version'], 'install git (needed for swarm GitOps)'))
  const enabledModes = config ? MODES.filter((m) => config[m].enabled) : []
  const enabled = (mode: Mode) => enabledModes.includes(mode)
  if (config) checks.push(await dnsPortCheck(config))
  if (config && enabled('dns')) checks.push(dnsUpstreamsCheck(config))
  if (config && config.dns.swarmManagers.length > 0) checks.push(await dnsSwarmManagersCheck(config))
  checks.push(await dnsNativeCheck())
  if (config) checks.push(apiKeyCheck(config))
  // Each enabled mode's own prerequisites.
  if (config && enabled('ddns')) checks.push(ddnsRecordsCheck(config))
  if (config && enabled('images')) checks.push(await imagesNotifiersCheck(config))
  if (config && enabled('swarm')) checks.push(swarmRepositoriesCheck(repositories))
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
  const results: CheckResult[] = checks.map((c) => {
    const neededBy = enabledModes.filter((m) => NEEDS[m].includes(c.id))
    const always = c.id === 'config' || c.id === 'state' || c.id === 'api-key'
    return {...c, neededBy, required: !c.advisory && (always || neededBy.length > 0)}
  })
  return {ok: results.every((c) => c.ok || !c.required), enabledModes, checks: results}
}

type Check = Omit<CheckResult, 'required' | 'neededBy'>

/** ddns needs at least one record, each with its provider's credentials; without one `/health` stays 503. */
export function ddnsRecordsCheck(config: HomeopsConfig): Check {
  const title = 'DDNS records'
  try {
    const records = effectiveRecords(config.ddns)
    if (records.length === 0) {
      return {
        id: 'ddns-records',
        title,
        ok: false,
        detail: 'no record configured: ddns has nothing to update',
        hint: 'add ddns.records (hostname, provider and its credentials), or set INFOMANIAK_DDNS_HOSTNAME/USERNAME/PASSWORD',
      }
    }
    const names = records.map((r) => `${r.name} (${r.provider})`)
    return {id: 'ddns-records', title, ok: true, detail: `${records.length} configured: ${names.join(', ')}`}
  } catch (error) {
    return {id: 'ddns-records', title, ok: false, detail: errorMessage(error), hint: (error as {hint?: string}).hint}
  }
}

/** Every images notifier has the keys its type needs (a webhook without a URL would fail at the first update). */
async function imagesNotifiersCheck(config: HomeopsConfig): Promise<Check> {
  const {missingNotifierKeys} = await import('../notify/notifiers.js')
  const title = 'notifiers'
  const notifiers = config.images.notifiers
  const incomplete = notifiers.flatMap((n, i) => {
    const missing = missingNotifierKeys(n)
    return missing.length > 0 ? [`images.notifiers[${i}] (${n.type}) lacks ${missing.join(', ')}`] : []
  })
  if (incomplete.length > 0) {
    return {
      id: 'images-notifiers',
      title,
      ok: false,
      detail: incomplete.join('\n'),
      hint: 'complete or remove them: the README lists the keys of each notifier type',
    }
  }
  return {
    id: 'images-notifiers',
    title,
    ok: true,
    detail:
      notifiers.length > 0
        ? `${notifiers.length} complete: ${notifiers.map((n) => n.type).join(', ')}`
        : 'none: new versions are recorded (history, web UI) but nobody is told',
  }
}

/** swarm reconciles the repositories `swarm watch` registered: none means the mode has nothing to do. */
function swarmRepositoriesCheck(count: number | undefined): Check {
  const title = 'repositories'
  if (count === undefined)
    return {id: 'swarm-repos', title, ok: false, detail: 'unknown: the state database cannot be read'}
  if (count === 0) {
    return {
      id: 'swarm-repos',
      title,
      ok: false,
      advisory: true,
      detail: 'no repository watched: swarm reconcile has nothing to deploy',
      hint: 'homeops swarm watch <git URL> [--branch B]',
    }
  }
  return {id: 'swarm-repos', title, ok: true, detail: `${count} watched`}
}

/** What `dns serve` forwards other names to; none usable means every other name is REFUSED. */
export function dnsUpstreamsCheck(config: HomeopsConfig): Check {
  const title = 'DNS upstreams'
  const choice = chooseUpstreams(config.dns)
  const skipped = (choice.skipped ?? []).map((s) => `${s.address} left out (${s.reason})`)
  if (choice.upstreams.length === 0) {
    return {
      id: 'dns-upstreams',
      title,
      ok: false,
      advisory: true,
      detail: [`none usable (${choice.origin}): names this server does not own are REFUSED`, ...skipped].join('\n'),
      hint: 'set dns.upstreams (DNS_UPSTREAMS), e.g. 192.168.1.1,1.1.1.1',
    }
  }
  return {
    id: 'dns-upstreams',
    title,
    ok: true,
    detail: [`${choice.upstreams.join(', ')} (from ${choice.origin})`, ...skipped].join('\n'),
  }
}

/** `dns.swarmManagers`: one of them answers as a Swarm manager, else service names go unanswered. */
async function dnsSwarmManagersCheck(config: HomeopsConfig): Promise<Check> {
  const title = 'DNS Swarm managers'
  const {connectSwarmManager} = await import('../dns/swarm-managers.js')
  try {
    const {address} = await connectSwarmManager(config.dns.swarmManagers, config.docker.timeoutSeconds * 1000)
    return {id: 'dns-swarm-managers', title, ok: true, detail: `reads service labels from ${address}`}
  } catch (error) {
    return {
      id: 'dns-swarm-managers',
      title,
      ok: false,
      detail: `${errorMessage(error)}: names of Swarm services are not answered`,
      hint: (error as {hint?: string}).hint,
    }
  }
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
  const {nodeRequest} = await import('../http/node-request.js')
  const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host
  try {
    const answer = await nodeRequest({
      url: `http://${target.includes(':') ? `[${target}]` : target}:${port}/health`,
      timeoutMs: 2000,
      maxBytes: 64 * 1024,
    })
    const body = JSON.parse(answer.body.toString('utf8')) as {modes?: unknown}
    return typeof body.modes === 'object' && body.modes !== null
  } catch {
    return false
  }
}

async function dockerChecks(host: string | undefined): Promise<Omit<CheckResult, 'required' | 'neededBy'>[]> {
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

async function commandCheck(
  id: CheckResult['id'],
  title: string,
  command: string,
  args: string[],
  hint: string,
): Promise<Omit<CheckResult, 'required' | 'neededBy'>> {
  try {
    const {stdout} = await run(command, args, {timeout: 10_000})
    return {id, title, ok: true, detail: stdout.trim().split('\n')[0] ?? command}
  } catch (error) {
    const detail = errnoCode(error) === 'ENOENT' ? `\`${command}\` not found on PATH` : errorMessage(error)
    return {id, title, ok: false, detail, hint}
  }
}

async function dnsPortCheck(config: HomeopsConfig): Promise<Omit<CheckResult, 'required' | 'neededBy'>> {
  const port = effectiveDnsPort(config.dns.port)
  const host = config.dns.bind
  const title = 'DNS port'
  try {
    await probeUdp(host, port)
    await probeTcp(host, port)
    return {id: 'dns-port', title, ok: true, detail: `${host}:${port} (udp+tcp) is free`}
  } catch (error) {
    const code = errnoCode(error)
    const detail =
      code === 'EADDRINUSE'
        ? `${host}:${port} is in use by another process`
        : code === 'EACCES'
          ? `${host}:${port} needs root (ports below 1024)`
          : `${host}:${port}: ${errorMessage(error)}`
    const hint =
      code === 'EADDRINUSE'
        ? 'stop the other DNS server (systemd-resolved stub?) or set DNS_PORT'
        : 'run as root or set DNS_PORT above 1023'
    return {id: 'dns-port', title, ok: false, detail, hint}
  }
}

/**
 * The "no key" policy (README "Security"): a server listening beyond this
 * machine without a key refuses every change from other machines. That is
 * safe but surely not what was meant, so doctor fails until a key is set.
 */
export function apiKeyCheck(config: HomeopsConfig): Omit<CheckResult, 'required' | 'neededBy'> {
  const exposed: string[] = []
  const hints = new Set<string>()
  const beyondLoopback = (listen: string) => {
    try {
      const {host} = parseListen(listen)
      return host !== 'localhost' && !isLoopback(host)
    } catch {
      return false // reported by the command that listens
    }
  }
  if (beyondLoopback(config.serve.listen) && !config.serve.apiKey) {
    exposed.push(`homeops serve on ${config.serve.listen}`)
    hints.add('serve.apiKey (HOMEOPS_API_KEY)')
  }
  if (beyondLoopback(config.images.listen) && !config.serve.apiKey) {
    exposed.push(`images serve on ${config.images.listen}`)
    hints.add('serve.apiKey (HOMEOPS_API_KEY)')
  }
  if (beyondLoopback(config.monitor.listen) && !(config.monitor.auth && config.monitor.apiKey)) {
    exposed.push(`monitor serve on ${config.monitor.listen}`)
    hints.add('monitor.auth: true with monitor.apiKey (AUTH_ENABLED, API_KEY)')
  }
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

/** The native answerer of `dns serve`: without it the server works, on its full path only (slower). */
async function dnsNativeCheck(): Promise<Omit<CheckResult, 'required' | 'neededBy'>> {
  const {nativeAddon} = await import('../dns/native.js')
  const {addon, error} = nativeAddon()
  const title = 'DNS answerer' // not longer than the other titles: the table keeps its width
  if (addon)
    return {id: 'dns-native', title, ok: true, detail: 'built: owned, cached and blocklist names answered natively'}
  return {
    id: 'dns-native',
    title,
    ok: false,
    detail: `${error ?? 'not available'}; dns serve answers everything on its full path (JavaScript, slower)`,
    hint: 'install a C compiler and the Node headers (build-essential, nodejs-dev), then npm run build',
  }
}

function probeUdp(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4')
    socket.once('error', (error) => {
      socket.close()
      reject(error)
    })
    socket.bind(port, host, () => socket.close(() => resolve()))
  })
}

function probeTcp(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({port, host, exclusive: true}, () => server.close(() => resolve()))
  })
}
