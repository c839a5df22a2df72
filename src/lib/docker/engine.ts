import {join} from 'node:path'

import {UserError, errnoCode, errorMessage} from '../errors.js'
import {FILE_LIMITS, FileReadError, readBoundedFile} from '../fs/read-file.js'
import {nodeRequest} from '../http/node-request.js'
import {
  DEFAULT_DOCKER_HOST,
  DEFAULT_DOCKER_TIMEOUT_MS,
  type DockerClientOptions,
  type DockerEndpoint,
  DockerTimeoutError,
  describeEndpoint,
  dockerUnreachable,
  parseDockerHost,
} from './client.js'

/**
 * The Docker Engine API as plain JSON requests over node's http module, for
 * the commands cron runs (`swarm reconcile`): loading dockerode costs ~300 ms
 * (it pulls in ssh2, grpc-js and protobufjs), more than a whole no-op
 * reconcile. Same daemon address rules as `client.ts` (`--docker-host`, config,
 * `DOCKER_HOST`, the default socket); over https it presents the client
 * certificate of `DOCKER_CERT_PATH` as dockerode does. Unversioned paths, as
 * dockerode sends them: the daemon answers in its own API version.
 */
export interface DockerEngine {
  readonly endpoint: DockerEndpoint
  /** `unix:///…` or `tcp://…`, for messages and the docker CLI's DOCKER_HOST. */
  readonly address: string
  /** `GET /_ping`: throws, naming the address, when the daemon cannot be reached (or is slower than `timeoutMs`). */
  ping(options?: {timeoutMs?: number}): Promise<void>
  /** GET a JSON answer; a status outside 2xx throws an EngineError. */
  get<T>(path: string, query?: Query): Promise<T>
  /** DELETE; a status outside 2xx throws an EngineError. */
  delete(path: string, query?: Query): Promise<void>
}

export type Query = Record<string, string | number | boolean | Record<string, string[]>>

/** The daemon answered with an error status (404 no such image, 409 conflict…). */
export class EngineError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
  ) {
    super(message)
    this.name = 'EngineError'
  }
}

/** `/images/<reference>`: each path segment encoded, the slashes of a reference kept. */
export function enginePath(...segments: string[]): string {
  return segments.map((s) => s.split('/').map(encodeURIComponent).join('/')).join('/')
}

/** Builds the client and pings the daemon, so an unreachable one is reported up front, naming the address. */
export async function connectEngine(
  host: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  options: DockerClientOptions = {},
): Promise<DockerEngine> {
  const engine = createEngine(host, env, options)
  await engine.ping()
  return engine
}

/** Every request has one deadline, `timeoutMs` (default 30 s, `docker.timeoutSeconds`), for connect, headers and body. */
export function createEngine(
  host: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  options: DockerClientOptions = {},
): DockerEngine {
  const timeoutMs = options.timeoutMs ?? DEFAULT_DOCKER_TIMEOUT_MS
  const endpoint = parseDockerHost(host || DEFAULT_DOCKER_HOST)
  const address = describeEndpoint(endpoint)
  const tls = endpoint.kind === 'tcp' && endpoint.tls ? tlsFiles(env) : undefined
  const base =
    endpoint.kind === 'tcp'
      ? `${endpoint.tls ? 'https' : 'http'}://${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`
      : ''

  const send = async (
    method: 'GET' | 'DELETE',
    path: string,
    query: Query | undefined,
    deadlineMs = timeoutMs,
  ): Promise<string> => {
    const url = `${base}${path}${queryString(query)}`
    let answer
    try {
      answer = await nodeRequest({
        url,
        method,
        socketPath: endpoint.kind === 'unix' ? endpoint.socketPath : undefined,
        headers: {accept: 'application/json'},
        tls,
        timeoutMs: deadlineMs,
      })
    } catch (error) {
      throw dockerUnreachable(address, errnoCode(error) === 'ETIMEDOUT' ? new DockerTimeoutError(deadlineMs) : error)
    }
    const text = answer.body.toString('utf8')
    if (answer.status < 200 || answer.status >= 300) {
      throw new EngineError(
        `Docker API ${method} ${path}: HTTP ${answer.status}: ${daemonMessage(text)}`,
        answer.status,
      )
    }
    return text
  }

  return {
    endpoint,
    address,
    async ping(pingOptions = {}): Promise<void> {
      await send('GET', '/_ping', undefined, pingOptions.timeoutMs ?? timeoutMs)
    },
    async get<T>(path: string, query?: Query): Promise<T> {
      const text = await send('GET', path, query)
      try {
        return JSON.parse(text) as T
      } catch {
        throw new EngineError(`Docker API GET ${path}: the daemon's answer is not JSON`, 502)
      }
    },
    async delete(path: string, query?: Query): Promise<void> {
      await send('DELETE', path, query)
    },
  }
}

function queryString(query: Query | undefined): string {
  if (!query) return ''
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    params.set(key, typeof value === 'object' ? JSON.stringify(value) : String(value))
  }
  const text = params.toString()
  return text ? `?${text}` : ''
}

/** `{"message": "…"}` is how the daemon explains an error. */
function daemonMessage(text: string): string {
  try {
    const message = (JSON.parse(text) as {message?: unknown}).message
    if (typeof message === 'string') return message
  } catch {
    // not JSON: the text itself
  }
  return text.trim().slice(0, 300) || 'no message'
}

/** `ca.pem`, `cert.pem`, `key.pem` of DOCKER_CERT_PATH, as docker-modem reads them. */
function tlsFiles(env: NodeJS.ProcessEnv): {ca: Buffer; cert: Buffer; key: Buffer} | undefined {
  const dir = env.DOCKER_CERT_PATH
  if (!dir) return undefined
  const read = (name: string) => {
    try {
      return readBoundedFile(join(dir, name), {maxBytes: FILE_LIMITS.small})
    } catch (error) {
      throw new UserError(
        `cannot read ${join(dir, name)} (DOCKER_CERT_PATH): ${error instanceof FileReadError ? error.reason : errorMessage(error)}`,
        {
          hint: 'DOCKER_CERT_PATH must hold ca.pem, cert.pem and key.pem',
        },
      )
    }
  }
  return {ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem')}
}
