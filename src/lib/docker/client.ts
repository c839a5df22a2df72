import type Dockerode from 'dockerode'

import {OperationError, UserError, errnoCode} from '../errors.js'
import {describeNetworkError} from '../http/network-error.js'

export type Docker = Dockerode

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock'

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
export async function createDocker(host: string | undefined): Promise<DockerConnection> {
  const endpoint = parseDockerHost(host || DEFAULT_DOCKER_HOST)
  const {default: Dockerode} = await import('dockerode')
  const docker =
    endpoint.kind === 'unix'
      ? new Dockerode({socketPath: endpoint.socketPath})
      : new Dockerode({host: endpoint.host, port: endpoint.port, protocol: endpoint.tls ? 'https' : 'http'})
  return {docker, endpoint, address: describeEndpoint(endpoint)}
}

/** Pings the daemon; a failure names the socket that was tried. */
export async function connectDocker(host: string | undefined): Promise<DockerConnection> {
  const connection = await createDocker(host)
  try {
    await connection.docker.ping()
  } catch (error) {
    throw dockerUnreachable(connection.address, error)
  }
  return connection
}

export function dockerUnreachable(address: string, error: unknown): OperationError {
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
