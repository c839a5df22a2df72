import type Dockerode from 'dockerode'

import {OperationError, TransientError, UserError, errnoCode, errorMessage} from '../errors.js'
import {describeNetworkError} from '../http/network-error.js'
import {redact} from '../log/redact.js'

export type Docker = Dockerode

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock'

/** `docker.timeoutSeconds`: how long any Engine call may go without a byte from the daemon. */
export const DEFAULT_DOCKER_TIMEOUT_MS = 30_000

/**
 * The daemon accepted the connection but sent nothing for `timeoutMs` (a
 * frozen, SIGSTOPped or overloaded dockerd). `code` is ETIMEDOUT like node's
 * own timeouts, so every caller can tell it from a refused connection.
 */
export class DockerTimeoutError extends Error {
  readonly code = 'ETIMEDOUT'

  constructor(readonly timeoutMs: number) {
    super(`the Docker daemon did not answer within ${formatSeconds(timeoutMs)}`)
    this.name = 'DockerTimeoutError'
  }
}

/** The daemon sent more than a call's answer may hold (idle-timeout.ts `MAX_ANSWER_BYTES`). */
export class DockerAnswerTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the answer is longer than ${Math.round(maxBytes / 1024 / 1024)} MiB`)
    this.name = 'DockerAnswerTooLargeError'
  }
}

export function formatSeconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`
}

export interface DockerClientOptions {
  /** Idle limit of every request (default 30 s); a stream resets it with each chunk. */
  timeoutMs?: number
  /** Where `DOCKER_CERT_PATH` is read from for an https:// daemon (default `process.env`). */
  env?: NodeJS.ProcessEnv
  /** Largest answer of a call that is not a stream (default `MAX_ANSWER_BYTES` of idle-timeout.ts, 64 MiB). */
  maxAnswerBytes?: number
}

export type DockerEndpoint =
  {kind: 'unix'; socketPath: string} | {kind: 'tcp'; host: string; port: number; tls: boolean}

/** Parses `DOCKER_HOST` forms: `unix:///path`, `/path`, `tcp://host:port`, `https://host:port`. */
export function parseDockerHost(value: string): DockerEndpoint {
  if (value.startsWith('unix://')) return {kind: 'unix', socketPath: value.slice('unix://'.length)}
  if (value.startsWith('/')) return {kind: 'unix', socketPath: value}
  const match = /^(tcp|http|https):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(value)
  if (!match) {
    throw new UserError(`DOCKER_HOST "${value}" is not a Docker address`, {
      hint: 'use unix:///var/run/docker.sock or tcp://host:2375',
    })
  }
  const tls = match[1] === 'https'
  return {
    kind: 'tcp',
    host: match[2]!.replace(/^\[|\]$/g, ''),
    port: match[3] ? Number(match[3]) : tls ? 2376 : 2375,
    tls,
  }
}

export function describeEndpoint(endpoint: DockerEndpoint): string {
  return endpoint.kind === 'unix'
    ? `unix://${endpoint.socketPath}`
    : `${endpoint.tls ? 'https' : 'tcp'}://${endpoint.host}:${endpoint.port}`
}

export interface DockerConnection {
  docker: Docker
  endpoint: DockerEndpoint
  /** `unix:///…` or `tcp://…`, for messages. */
  address: string
}

/**
 * The one place that builds a dockerode client, for every group. `host` comes from
 * `--docker-host`, then config/`DOCKER_HOST`, then the default socket. Over https it presents
 * the client certificate of `DOCKER_CERT_PATH` (`ca.pem`, `cert.pem`, `key.pem`) as the docker CLI
 * does. Paths are unversioned, so the daemon answers in its own API version (20.10 and 28.x alike).
 * dockerode is loaded lazily (see `loadDockerode`).
 */
export async function createDocker(
  host: string | undefined,
  options: DockerClientOptions = {},
): Promise<DockerConnection> {
  const endpoint = parseDockerHost(host || DEFAULT_DOCKER_HOST)
  const [Dockerode, {idleTimeoutAgent}] = await Promise.all([loadDockerode(), import('./idle-timeout.js')])
  const tls = endpoint.kind === 'tcp' && endpoint.tls
  const certs = tls ? await tlsFiles(options.env ?? process.env) : undefined
  // Every request of this client goes through an agent whose sockets fail with DockerTimeoutError when the
  // daemon goes quiet, so no call can wait for ever (docker-modem's own `timeout` only hangs up, wordlessly),
  // and whose answers are capped in size.
  const agent = await idleTimeoutAgent(tls, options.timeoutMs ?? DEFAULT_DOCKER_TIMEOUT_MS, options.maxAnswerBytes)
  // docker-modem passes `agent` to every request; @types/dockerode does not list it. Every address
  // setting is given, so none of docker-modem's own defaults (read from the environment) survives.
  const clientOptions: Dockerode.DockerOptions & {agent: unknown; pathPrefix: string} =
    endpoint.kind === 'unix'
      ? {socketPath: endpoint.socketPath, host: undefined, port: undefined, agent, pathPrefix: '/'}
      : {
          socketPath: undefined,
          host: endpoint.host,
          port: endpoint.port,
          protocol: tls ? 'https' : 'http',
          agent,
          pathPrefix: '/',
          ca: certs?.ca,
          cert: certs?.cert,
          key: certs?.key,
        }
  const docker = withoutModemEnvironment(() => new Dockerode({...clientOptions, timeout: undefined}))
  return {docker, endpoint, address: describeEndpoint(endpoint)}
}

/** What docker-modem reads from `process.env` whenever a client is built (and may throw on, or read unbounded). */
const MODEM_ENVIRONMENT = [
  'DOCKER_HOST',
  'DOCKER_CERT_PATH',
  'DOCKER_TLS_VERIFY',
  'DOCKER_PATH_PREFIX',
  'DOCKER_CLIENT_TIMEOUT',
]

/**
 * Builds a client with docker-modem's environment defaults hidden: homeops's own address rules
 * (`--docker-host`, config, `DOCKER_HOST` through `parseDockerHost`, `DOCKER_CERT_PATH` read bounded) are
 * the only ones, and a malformed variable cannot throw from inside the constructor. Synchronous: no
 * other code runs while the variables are away.
 */
function withoutModemEnvironment<T>(build: () => T): T {
  const saved = MODEM_ENVIRONMENT.map((name) => [name, process.env[name]] as const)
  for (const [name] of saved) Reflect.deleteProperty(process.env, name)
  try {
    return build()
  } finally {
    for (const [name, value] of saved) if (value !== undefined) process.env[name] = value
  }
}

let dockerode: Promise<typeof Dockerode> | undefined

/**
 * dockerode, with the two parts that weigh most of its load time deferred until first used:
 * docker-modem's ssh transport (ssh2, only for an ssh:// host, which homeops does not accept) and
 * dockerode's BuildKit session (@grpc/grpc-js + protobufjs, only for `buildImage` with a session).
 * Each is replaced in the CommonJS cache by a function that loads the real module on its first
 * call, so `swarm reconcile` on cron pays ~50 ms for the client instead of ~250 ms.
 */
export function loadDockerode(): Promise<typeof Dockerode> {
  dockerode ??= (async () => {
    const [{default: Module, createRequire}, path] = await Promise.all([import('node:module'), import('node:path')])
    const require = createRequire(import.meta.url)
    const main = require.resolve('dockerode')
    const modem = createRequire(main).resolve('docker-modem')
    for (const file of [path.join(path.dirname(main), 'session.js'), path.join(path.dirname(modem), 'ssh.js')]) {
      if (require.cache[file]) continue
      const stub = new Module(file)
      stub.filename = file
      stub.loaded = true
      let real: ((...args: unknown[]) => unknown) | undefined
      stub.exports = function (this: unknown, ...args: unknown[]): unknown {
        if (!real) {
          Reflect.deleteProperty(require.cache, file)
          real = require(file) as (...args: unknown[]) => unknown
        }
        return real.apply(this, args)
      }
      require.cache[file] = stub
    }
    return require('dockerode') as typeof Dockerode
  })()
  return dockerode
}

/** `ca.pem`, `cert.pem`, `key.pem` of DOCKER_CERT_PATH, as docker-modem reads them (bounded, regular files). */
async function tlsFiles(env: NodeJS.ProcessEnv): Promise<{ca: Buffer; cert: Buffer; key: Buffer} | undefined> {
  const dir = env.DOCKER_CERT_PATH
  if (!dir) return undefined
  const [path, {FILE_LIMITS, FileReadError, readBoundedFile}] = await Promise.all([
    import('node:path'),
    import('../fs/read-file.js'),
  ])
  const read = (name: string) => {
    try {
      return readBoundedFile(path.join(dir, name), {maxBytes: FILE_LIMITS.small})
    } catch (error) {
      throw new UserError(
        `cannot read ${path.join(dir, name)} (DOCKER_CERT_PATH): ${error instanceof FileReadError ? error.reason : errorMessage(error)}`,
        {hint: 'DOCKER_CERT_PATH must hold ca.pem, cert.pem and key.pem'},
      )
    }
  }
  return {ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem')}
}

/** Pings the daemon; a failure names the socket that was tried. */
export async function connectDocker(
  host: string | undefined,
  options: DockerClientOptions = {},
): Promise<DockerConnection> {
  const connection = await createDocker(host, options)
  try {
    await connection.docker.ping()
  } catch (error) {
    throw dockerUnreachable(connection.address, error)
  }
  return connection
}

/**
 * One ping with its own, shorter limit than `docker.timeoutSeconds`: how `/health` and the event
 * followers tell a frozen daemon from a quiet one.
 */
export async function pingDocker(docker: Docker, timeoutMs: number): Promise<void> {
  try {
    // dockerode passes `abortSignal` on; its types omit the options argument of ping.
    const ping = docker.ping.bind(docker) as unknown as (options: {abortSignal: AbortSignal}) => Promise<unknown>
    await ping({abortSignal: AbortSignal.timeout(timeoutMs)})
  } catch (error) {
    const name = (error as {name?: string}).name
    if (name === 'AbortError' || name === 'TimeoutError') {
      throw new Error(`the Docker daemon did not answer a ping within ${formatSeconds(timeoutMs)}`)
    }
    throw error
  }
}

/**
 * A daemon that cannot be reached: exit 1, naming the socket. One that
 * accepted the connection and then said nothing: exit 3 (worth retrying: it
 * is frozen, restarting or overloaded).
 */
export function dockerUnreachable(address: string, error: unknown): OperationError | TransientError {
  if (error instanceof DockerTimeoutError || errnoCode(error) === 'ETIMEDOUT') {
    const ms = error instanceof DockerTimeoutError ? error.timeoutMs : undefined
    const within = ms === undefined ? `: ${errorMessage(error)}` : ` within ${formatSeconds(ms)}`
    return new TransientError(`the Docker daemon at ${address} did not answer${within}`, {
      hint: 'is dockerd frozen or overloaded? the limit is docker.timeoutSeconds',
      cause: error,
    })
  }
  if (error instanceof DockerAnswerTooLargeError) {
    return new OperationError(
      `the Docker daemon at ${address} sent an answer longer than ${Math.round(error.maxBytes / 1024 / 1024)} MiB`,
      {
        hint: 'is DOCKER_HOST a Docker daemon?',
        cause: error,
      },
    )
  }
  const code = errnoCode(error)
  const reason =
    code === 'ENOENT'
      ? 'no socket there'
      : code === 'EACCES'
        ? 'permission denied (add the user to the docker group or use sudo)'
        : describeNetworkError(error).reason
  return new OperationError(`cannot reach the Docker daemon at ${address}: ${reason}`, {
    hint: 'is dockerd running? set DOCKER_HOST or --docker-host to its socket',
    cause: error,
  })
}

/** The address a client talks to, as `describeEndpoint` words it (for messages and the CLI's DOCKER_HOST). */
export function dockerAddress(docker: Docker): string {
  const modem = docker.modem as {socketPath?: unknown; host?: unknown; port?: unknown; protocol?: unknown}
  if (typeof modem.socketPath === 'string') return `unix://${modem.socketPath}`
  return `${modem.protocol === 'https' ? 'https' : 'tcp'}://${String(modem.host)}:${String(modem.port)}`
}

/** The HTTP status of a refusal from the daemon (dockerode's `statusCode`), undefined for anything else. */
export function dockerStatus(error: unknown): number | undefined {
  const status = (error as {statusCode?: unknown} | null)?.statusCode
  return typeof status === 'number' ? status : undefined
}

/**
 * One wording for an Engine call that failed after the daemon was reached: a refusal keeps the
 * daemon's own explanation (`{"message": …}`, redacted, bounded) and its status; a lost or frozen
 * daemon becomes `dockerUnreachable` naming the address.
 */
export function dockerCallFailed(address: string, what: string, error: unknown): Error {
  const status = dockerStatus(error)
  if (status === undefined) return dockerUnreachable(address, error)
  const json = (error as {json?: unknown}).json
  const message =
    json && typeof json === 'object' && typeof (json as {message?: unknown}).message === 'string'
      ? (json as {message: string}).message
      : errorMessage(error).replace(/^\(HTTP code \d+\) [a-z ]+ - /, '')
  return new DockerApiError(
    `Docker API ${what}: HTTP ${status}: ${redact(message.trim()).slice(0, 300) || 'no message'}`,
    status,
    error,
  )
}

/** The daemon answered with an error status (404 no such image, 409 conflict…). */
export class DockerApiError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
    cause?: unknown,
  ) {
    super(message, {cause})
    this.name = 'DockerApiError'
  }
}
