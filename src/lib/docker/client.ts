import type Dockerode from 'dockerode'

import {OperationError, TransientError, UserError, errnoCode, errorMessage} from '../errors.js'
import {describeNetworkError} from '../http/network-error.js'

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

export function formatSeconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`
}

export interface DockerClientOptions {
  /** Idle limit of every request (default 30 s); a stream resets it with each chunk. */
  timeoutMs?: number
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
 * The one place that builds a dockerode client. `host` comes from
 * `--docker-host`, then config/`DOCKER_HOST`, then the default socket.
 * dockerode is loaded lazily: it costs ~100 ms of start-up.
 */
export async function createDocker(
  host: string | undefined,
  options: DockerClientOptions = {},
): Promise<DockerConnection> {
  const endpoint = parseDockerHost(host || DEFAULT_DOCKER_HOST)
  const [{default: Dockerode}, {idleTimeoutAgent}] = await Promise.all([
    import('dockerode'),
    import('./idle-timeout.js'),
  ])
  const tls = endpoint.kind === 'tcp' && endpoint.tls
  // Every request of this client goes through an agent whose sockets fail with DockerTimeoutError when the
  // daemon goes quiet, so no call can wait for ever (docker-modem's own `timeout` only hangs up, wordlessly).
  const agent = await idleTimeoutAgent(tls, options.timeoutMs ?? DEFAULT_DOCKER_TIMEOUT_MS)
  // docker-modem passes `agent` to every request; @types/dockerode does not list it.
  const clientOptions: Dockerode.DockerOptions & {agent: unknown} =
    endpoint.kind === 'unix'
      ? {socketPath: endpoint.socketPath, agent}
      : {host: endpoint.host, port: endpoint.port, protocol: tls ? 'https' : 'http', agent}
  const docker = new Dockerode(clientOptions)
  return {docker, endpoint, address: describeEndpoint(endpoint)}
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
