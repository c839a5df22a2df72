import {OperationError, TransientError, errorMessage} from '../errors.js'
import type {Logger} from '../log/logger.js'
import type {Docker} from './client.js'

export interface RegistryAuth {
  username: string
  password: string
  serveraddress: string
}

/** Anything that finds a registry's credentials: the `RegistryClient` of `registry/factory.ts`. */
export interface CredentialSource {
  credentialsFor(registry: string): Promise<{username: string; password: string} | undefined>
}

/**
 * The Engine's `X-Registry-Auth` for `image` (a pull, a service update): the one mapping of a
 * registry's credentials (config `registries:`, then `~/.docker/config.json` and its helpers, all
 * read by the registry client's credential store) to what the daemon expects. None when the
 * registry needs none, or the reference cannot be parsed (the daemon then says what is wrong).
 */
export async function registryAuthFor(source: CredentialSource, image: string): Promise<RegistryAuth | undefined> {
  const {parseImageReference} = await import('../registry/reference.js')
  let registry: string
  try {
    registry = parseImageReference(image).registry
  } catch {
    return undefined
  }
  const cred = await source.credentialsFor(registry)
  return cred ? {username: cred.username, password: cred.password, serveraddress: registry} : undefined
}

export interface PullOptions {
  auth?: RegistryAuth
  logger: Logger
  signal?: AbortSignal
}

/**
 * `docker pull` through the Engine API, the one pull of every group (monitor, images, swarm). A reference without tag or digest
 * means `:latest` (the API would otherwise pull every tag of the repository).
 * Errors reported inside the progress stream (the API answers 200 first)
 * become exceptions that name the image.
 */
export async function pullImage(docker: Docker, reference: string, options: PullOptions): Promise<void> {
  const ref = withDefaultTag(reference)
  options.logger.info('pulling image', {image: ref})
  const started = Date.now()
  let stream: NodeJS.ReadableStream
  try {
    stream = await docker.pull(ref, {
      ...(options.auth ? {authconfig: options.auth} : {}),
      ...(options.signal ? {abortSignal: options.signal} : {}),
    })
  } catch (error) {
    throw pullFailed(ref, error)
  }
  await new Promise<void>((resolve, reject) => {
    let streamError: string | undefined
    const onAbort = () => {
      ;(stream as unknown as {destroy?: () => void}).destroy?.()
      reject(new OperationError(`pull of ${ref} aborted`))
    }
    options.signal?.addEventListener('abort', onAbort, {once: true})
    docker.modem.followProgress(
      stream,
      (error: Error | null) => {
        options.signal?.removeEventListener('abort', onAbort)
        if (error) reject(pullFailed(ref, error))
        else if (streamError) reject(pullFailed(ref, new Error(streamError)))
        else resolve()
      },
      (event: {error?: string; errorDetail?: {message?: string}}) => {
        if (event.error) streamError = event.errorDetail?.message ?? event.error
      },
    )
  })
  options.logger.info('pulled image', {image: ref, ms: Date.now() - started})
}

export function withDefaultTag(reference: string): string {
  if (reference.includes('@')) return reference
  const lastSlash = reference.lastIndexOf('/')
  return reference.slice(lastSlash + 1).includes(':') ? reference : `${reference}:latest`
}

function pullFailed(ref: string, error: unknown): Error {
  const message = errorMessage(error).replace(/^\(HTTP code \d+\) [a-z ]+ - /, '')
  const status = (error as {statusCode?: number}).statusCode
  const text = `pull of ${ref} failed: ${message}`
  // Network trouble and registry 5xx are worth retrying; a missing tag or refused credentials are not.
  if (/timeout|temporar|connection refused|EOF|50[234]|i\/o timeout|TLS handshake/i.test(message) || status === 500)
    return new TransientError(text, {cause: error})
  return new OperationError(text, {cause: error})
}
