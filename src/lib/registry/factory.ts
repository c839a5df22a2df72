import type {HomeopsConfig} from '../config/root-schema.js'
import type {Logger} from '../log/logger.js'
import {RegistryClient, type RegistryClientOptions} from './client.js'
import type {CredentialInput} from './credentials.js'

export interface RegistryClientContext {
  config: HomeopsConfig
  logger: Logger
  /** homeops version, for the User-Agent registries log. */
  version: string
  /** Aborts every request in flight (a command interrupted, a serve mode stopping). */
  signal?: AbortSignal
}

/**
 * The one place a `RegistryClient` is built from the config (`registries:` and the `images.*` request
 * settings), for every group that talks to registries (images, monitor): same credentials, timeouts,
 * concurrency, User-Agent and abort signal everywhere. `overrides` are for what differs by use, such as
 * the monitor's short memo (`cacheTtlMs`).
 */
export function createRegistryClient(
  context: RegistryClientContext,
  overrides: Partial<RegistryClientOptions> = {},
): RegistryClient {
  const images = context.config.images
  return new RegistryClient({
    credentials: context.config.registries.flatMap((r): CredentialInput[] => (r.host ? [{...r, host: r.host}] : [])),
    timeoutMs: images.requestTimeoutSeconds * 1000,
    concurrencyPerRegistry: images.concurrencyPerRegistry,
    maxTags: images.maxTags,
    tagListTimeoutMs: images.tagListTimeoutSeconds * 1000,
    logger: context.logger.child({component: 'registry'}),
    userAgent: `homeops/${context.version}`,
    signal: context.signal,
    ...overrides,
  })
}
