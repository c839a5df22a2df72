import {createHash} from 'node:crypto'

import {OperationError, TransientError} from '../errors.js'
import {type Logger, silentLogger} from '../log/logger.js'
import {registerSecret} from '../log/redact.js'
import {sleep} from '../time/sleep.js'
import {AnswerTooLargeError, type HttpAnswer, HttpPool, RedirectError, httpRequest} from '../http/client.js'
import {NetworkError, describeNetworkError} from '../http/network-error.js'
import {nextLink, parseRateLimit, parseRetryAfter, parseWwwAuthenticate} from './auth.js'
import {CredentialStore, type CredentialInput, type RegistryCredential} from './credentials.js'
import {DOCKER_HUB, type ImageReference, formatReference, familiarName} from './reference.js'

/** The four manifest media types, most specific multi-arch first (what `docker pull` sends). */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
] as const

export interface RegistryClientOptions {
  credentials?: CredentialInput[]
  /** Default `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
  dockerConfigPath?: string
  /** Per request (default 15 s). */
  timeoutMs?: number
  /**
   * Requests in flight per registry host to start with (default 128). The limit adapts: it grows by one per
   * answered request up to 4× this (at most 512) and halves on 429/503, so a slow registry is not flooded
   * and a fast one is not throttled.
   */
  concurrencyPerRegistry?: number
  logger?: Logger
  userAgent?: string
  /** Hosts reached over plain HTTP. Loopback hosts (127.0.0.0/8, ::1, localhost) always are, as with dockerd. */
  insecureRegistries?: string[]
  /** Longest `Retry-After` a 429 may ask us to wait before we give up for this run (default 60 s). */
  maxRetryWaitMs?: number
  /** Attempts for one request on 429 (default 3). */
  maxAttempts?: number
  /** How long digests and tag lists are reused (default: the client's lifetime, i.e. one run). */
  cacheTtlMs?: number
  /** Defaults for `listTags`. */
  maxTags?: number
  tagListTimeoutMs?: number
  /** Aborts every request in flight (a `serve` mode stopping). */
  signal?: AbortSignal
  /** `n` asked per tag-list page (default 1000; registries may answer fewer and send `Link`). */
  tagPageSize?: number
}

export interface TagListResult {
  tags: string[]
  /** Stopped at `maxTags` or the time limit before the last page. */
  truncated: boolean
  pages: number
}

export type RequestKind = 'manifest_head' | 'manifest_get' | 'tags_list' | 'token' | 'auth_challenge'

interface Scope {
  host: string
  repository: string
}

interface HostState {
  /**
   * Learned from this host's own first answer (never from a host it redirected to); lets later requests
   * authenticate up front. `none`: it answered without asking for credentials.
   */
  auth?: {scheme: 'none'} | {scheme: 'basic'} | {scheme: 'bearer'; realm: string; service?: string}
  /** The first request in flight while the scheme is unknown: the others wait for it instead of each getting a 401. */
  probe?: Promise<void>
  active: number
  /** Adaptive concurrency limit (see `concurrencyPerRegistry`). */
  limit: number
  waiting: (() => void)[]
  /** A 429/503 asked everyone to wait until then. */
  pausedUntil?: number
  /** Docker Hub's `ratelimit-remaining` reached 0: manifest GETs are refused until then. */
  exhaustedUntil?: number
  /** The "almost used up" warning was logged (once per client, not per request). */
  warnedLow?: boolean
  /** Unreachable a moment ago: later requests in this run fail at once with the same cause. */
  down?: {error: TransientError; until: number}
}

interface CachedToken {
  token: string
  expiresAt: number
}

interface Response {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
  /** After redirects (lscr.io sends `/v2/…` to ghcr.io). */
  url: string
}

const DEFAULT_TIMEOUT = 15_000
const DEFAULT_CONCURRENCY = 128
const MAX_CONCURRENCY = 512
/** How long an unreachable registry is not asked again (a long-lived client retries after this). */
const DOWN_FOR_MS = 30_000
const MAX_BODY = 32 * 1024 * 1024
const COSIGN_TAG = /^sha256-[0-9a-f]{64}\.(sig|att|sbom)$/
const DIGEST_HEADER = /^sha256:[0-9a-f]{64}$/

/**
 * The one OCI distribution client (docs/architecture.md "The shared core"), shared by images and
 * monitor: anonymous, basic and bearer auth through the `WWW-Authenticate`
 * challenge, tokens cached per registry+scope until they expire, manifest
 * HEAD with the four Accept types, paginated tag lists, 429 handling and a
 * per-registry concurrency limit. Digests and tag lists are memoised for the
 * client's lifetime (one run), so 100 workloads on one tag cost one HEAD.
 */
export class RegistryClient {
  readonly stats: {requests: number; byKind: Record<string, number>} = {requests: 0, byKind: {}}
  private readonly options: RegistryClientOptions
  private readonly logger: Logger
  private readonly credentials: CredentialStore
  private readonly hosts = new Map<string, HostState>()
  private readonly tokens = new Map<string, CachedToken>()
  /** Token requests in flight, per host and scope: concurrent callers share one request. */
  private readonly pendingTokens = new Map<string, Promise<string>>()
  private readonly digestCache = new Map<string, {at: number; value: Promise<string>}>()
  private readonly tagCache = new Map<string, {at: number; value: Promise<TagListResult>}>()
  private readonly pool: HttpPool
  private closed = false

  constructor(options: RegistryClientOptions = {}) {
    this.options = options
    this.logger = options.logger ?? silentLogger
    this.pool = new HttpPool({connectTimeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT})
    this.credentials = new CredentialStore({
      credentials: options.credentials,
      dockerConfigPath: options.dockerConfigPath,
      logger: this.logger,
    })
  }

  /** Digest of the manifest (the index for multi-arch images) the tag points at now. */
  manifestDigest(ref: ImageReference): Promise<string> {
    const reference = ref.tag ?? ref.digest ?? 'latest'
    const key = `${ref.registry}/${ref.repository}:${reference}`
    return this.memo(this.digestCache, key, () => this.fetchDigest(ref, reference))
  }

  async listTags(ref: ImageReference, options: {maxTags?: number; timeoutMs?: number} = {}): Promise<string[]> {
    return (await this.listTagsDetailed(ref, options)).tags
  }

  /** Every tag, following `Link` pages, cosign signature/attestation tags left out; capped in count and time. */
  listTagsDetailed(ref: ImageReference, options: {maxTags?: number; timeoutMs?: number} = {}): Promise<TagListResult> {
    const maxTags = options.maxTags ?? this.options.maxTags ?? 20_000
    const timeoutMs = options.timeoutMs ?? this.options.tagListTimeoutMs ?? 60_000
    const key = `${ref.registry}/${ref.repository}|${maxTags}`
    return this.memo(this.tagCache, key, () => this.fetchTags(ref, maxTags, timeoutMs))
  }

  /** Forget memoised digests and tag lists (a long-lived client starting a new run). */
  clearCache(): void {
    this.digestCache.clear()
    this.tagCache.clear()
  }

  /** Basic credentials for a registry, for `docker pull`/service update `registryAuth`. */
  async credentialsFor(registry: string): Promise<{username: string; password: string} | undefined> {
    const cred = await this.credentials.get(registry)
    return cred ? {username: cred.username, password: cred.password} : undefined
  }

  async close(): Promise<void> {
    this.closed = true
    await this.pool.close()
  }

  // ---- manifests ---------------------------------------------------------

  private async fetchDigest(ref: ImageReference, reference: string): Promise<string> {
    const scope = {host: ref.registry, repository: ref.repository}
    const url = `${this.baseUrl(ref.registry)}/v2/${ref.repository}/manifests/${reference}`
    const what = describe(ref, reference)
    const accept = MANIFEST_ACCEPT.join(', ')
    const head = await this.send('manifest_head', scope, 'HEAD', url, {accept}, what)
    this.expectOk(head, what, ref.registry)
    const header = single(head.headers['docker-content-digest'])?.trim().toLowerCase()
    if (header && DIGEST_HEADER.test(header)) return header
    if (header) this.logger.debug('ignoring malformed Docker-Content-Digest', {image: what, value: header.slice(0, 80)})
    // No usable digest header: fetch the manifest and hash the exact bytes the registry serves.
    const host = this.host(ref.registry)
    if (host.exhaustedUntil !== undefined && host.exhaustedUntil > Date.now()) {
      throw new TransientError(
        `the pull rate limit of ${ref.registry} is used up; not fetching the manifest of ${what}`,
        {hint: `try again after ${new Date(host.exhaustedUntil).toISOString()}, or log in to raise the limit`},
      )
    }
    const get = await this.send('manifest_get', scope, 'GET', url, {accept}, what)
    this.expectOk(get, what, ref.registry)
    validateManifest(get, what, ref.registry)
    return `sha256:${createHash('sha256').update(get.body).digest('hex')}`
  }

  // ---- tags --------------------------------------------------------------

  private async fetchTags(ref: ImageReference, maxTags: number, timeoutMs: number): Promise<TagListResult> {
    const scope = {host: ref.registry, repository: ref.repository}
    const what = familiarName(ref)
    const deadline = Date.now() + timeoutMs
    const seen = new Set<string>()
    const visited = new Set<string>()
    let url: string | undefined =
      `${this.baseUrl(ref.registry)}/v2/${ref.repository}/tags/list?n=${this.options.tagPageSize ?? 1000}`
    let pages = 0
    let truncated = false
    while (url) {
      if (Date.now() > deadline) {
        truncated = true
        this.logger.warn('tag list stopped at the time limit', {
          image: what,
          tags: seen.size,
          seconds: timeoutMs / 1000,
        })
        break
      }
      visited.add(url)
      const response = await this.send('tags_list', scope, 'GET', url, {accept: 'application/json'}, what)
      this.expectOk(response, what, ref.registry, 'tag list')
      pages++
      let parsed: unknown
      try {
        parsed = JSON.parse(response.body.toString('utf8'))
      } catch {
        throw new OperationError(`${ref.registry} answered the tag list of ${what} with something that is not JSON`)
      }
      const tags = (parsed as {tags?: unknown}).tags
      if (tags !== null && tags !== undefined && !Array.isArray(tags))
        throw new OperationError(`${ref.registry} answered the tag list of ${what} without a "tags" list`)
      for (const tag of (tags ?? []) as unknown[]) {
        if (typeof tag !== 'string' || COSIGN_TAG.test(tag)) continue
        seen.add(tag)
        if (seen.size >= maxTags) break
      }
      const next = nextLink(response.headers.link, response.url)
      if (seen.size >= maxTags) {
        truncated = next !== undefined || ((tags as unknown[] | null)?.length ?? 0) > seen.size
        if (truncated) this.logger.warn('tag list capped', {image: what, maxTags})
        break
      }
      if (next !== undefined && (visited.has(next) || next === response.url))
        throw new OperationError(
          `${ref.registry} sent tag list pages of ${what} that link back to a page already read (a loop after ${pages} page${pages > 1 ? 's' : ''})`,
          {hint: 'the registry paginates wrongly; report it to its operator'},
        )
      if (next && new URL(next).host !== new URL(response.url).host) {
        this.logger.warn('not following a tag list page on another host', {image: what})
        break
      }
      url = next
    }
    return {tags: [...seen], truncated, pages}
  }

  // ---- HTTP with auth ----------------------------------------------------

  private async send(
    kind: RequestKind,
    scope: Scope,
    method: 'GET' | 'HEAD',
    url: string,
    headers: Record<string, string>,
    what: string,
  ): Promise<Response> {
    const host = this.host(scope.host)
    const maxAttempts = this.options.maxAttempts ?? 3
    // While the first request to a host learns its scheme, the others wait rather than each collecting a 401.
    let probing: (() => void) | undefined
    while (!host.auth && host.probe) await host.probe
    if (!host.auth) host.probe = new Promise<void>((resolve) => (probing = resolve))
    const endProbe = () => {
      if (!probing) return
      host.probe = undefined
      probing()
      probing = undefined
    }
    try {
      let authHeader = await this.authorizationFor(scope, host)
      let retriedAuth = false
      let target = scope
      for (let attempt = 1; ; attempt++) {
        // Down a moment ago (another request just failed to connect): same cause, no request sent.
        const down = this.host(target.host).down
        if (down && down.until > Date.now()) throw down.error
        let response: Response
        try {
          response = await this.limited(target.host, () =>
            this.http(method, url, {...headers, ...(authHeader ? {authorization: authHeader} : {})}, what, target.host),
          )
        } catch (error) {
          this.count(kind)
          throw error
        }
        const answeredBy = new URL(response.url).host
        // A host that answers, or redirects elsewhere, without challenging us needs nothing up front.
        if (!host.auth && (response.status !== 401 || answeredBy !== scope.host)) host.auth = {scheme: 'none'}
        this.noteRateLimit(target.host, this.host(target.host), response)
        if (response.status === 401 && !retriedAuth) {
          this.count('auth_challenge')
          retriedAuth = true
          if (answeredBy !== target.host) {
            // Redirected to another registry that challenged us (lscr.io → ghcr.io): that host's own challenge,
            // anonymous, and its token goes to it directly. The first registry's credentials never go there.
            target = {host: answeredBy, repository: scope.repository}
            url = response.url
          }
          authHeader = await this.answerChallenge(target, this.host(target.host), response, authHeader, what, {
            foreign: target.host !== scope.host,
            // The scheme is known: the waiting requests go on (fetching their own tokens) while this one fetches its.
            learned: endProbe,
          })
          endProbe()
          continue
        }
        endProbe()
        this.count(kind)
        if (response.status === 401) throw await this.unauthorized(target, what)
        if (response.status === 429 || (response.status === 503 && response.headers['retry-after'] !== undefined)) {
          const maxWait = this.options.maxRetryWaitMs ?? 60_000
          const asked = parseRetryAfter(single(response.headers['retry-after']))
          const wait = Math.min(asked ?? 1000 * 2 ** (attempt - 1), maxWait)
          this.backOff(this.host(target.host), wait)
          if (attempt >= maxAttempts || (asked !== undefined && asked > maxWait)) {
            throw new TransientError(
              `${target.host} is rate limiting requests for ${what} (HTTP ${response.status}${asked !== undefined ? `, retry after ${Math.ceil(asked / 1000)} s` : ''})`,
              {hint: 'wait and run again, or log in to the registry for a higher limit'},
            )
          }
          this.logger.warn('registry rate limit, waiting', {registry: target.host, ms: wait, attempt})
          await sleep(wait)
          continue
        }
        if (response.status >= 500 && attempt < 2) {
          this.logger.debug('registry server error, retrying once', {registry: target.host, status: response.status})
          await sleep(500)
          continue
        }
        return response
      }
    } finally {
      endProbe()
    }
  }

  /** A 429/503: fewer requests at once to this host, and none until the wait is over. */
  private backOff(host: HostState, waitMs: number): void {
    host.limit = Math.max(1, Math.floor(host.limit / 2))
    host.pausedUntil = Math.max(host.pausedUntil ?? 0, Date.now() + waitMs)
  }

  private count(kind: RequestKind): void {
    this.stats.requests++
    this.stats.byKind[kind] = (this.stats.byKind[kind] ?? 0) + 1
  }

  /** Up-front auth once the host's scheme is known: saves the 401 round trip on every request after the first. */
  private async authorizationFor(scope: Scope, host: HostState): Promise<string | undefined> {
    if (!host.auth || host.auth.scheme === 'none') return undefined
    if (host.auth.scheme === 'basic') {
      const cred = await this.credentials.get(scope.host)
      return cred ? basicHeader(cred) : undefined
    }
    return `Bearer ${await this.token(scope, host.auth.realm, host.auth.service, [`repository:${scope.repository}:pull`], true)}`
  }

  /** A cached token, else one request shared by every caller asking for the same host and scopes. */
  private token(
    scope: Scope,
    realm: string,
    service: string | undefined,
    scopes: string[],
    withCredentials: boolean,
  ): Promise<string> {
    const key = tokenKey(scope.host, scopes.join(' '))
    const cached = this.tokens.get(key)
    if (cached && cached.expiresAt > Date.now()) return Promise.resolve(cached.token)
    let pending = this.pendingTokens.get(key)
    if (!pending) {
      pending = this.fetchToken(scope, realm, service, scopes, withCredentials).finally(() =>
        this.pendingTokens.delete(key),
      )
      this.pendingTokens.set(key, pending)
    }
    return pending
  }

  private async answerChallenge(
    scope: Scope,
    host: HostState,
    response: Response,
    sent: string | undefined,
    what: string,
    options: {foreign: boolean; learned?: () => void},
  ): Promise<string | undefined> {
    const challenges = parseWwwAuthenticate(response.headers['www-authenticate'])
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm)
    if (bearer) {
      const realm = bearer.params.realm!
      host.auth = {scheme: 'bearer', realm, service: bearer.params.service}
      if (!options.foreign) options.learned?.()
      // Use the scope the registry asked for; fall back to pull on this repository.
      const scopes = bearer.params.scope ? bearer.params.scope.split(' ') : [`repository:${scope.repository}:pull`]
      const key = tokenKey(scope.host, scopes.join(' '))
      // A token we just sent and was refused is stale; one fetched meanwhile by another request is fine.
      if (sent && sent === `Bearer ${this.tokens.get(key)?.token}`) this.tokens.delete(key)
      return `Bearer ${await this.token(scope, realm, bearer.params.service, scopes, !options.foreign)}`
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      host.auth = {scheme: 'basic'}
      if (!options.foreign) options.learned?.()
      const cred = options.foreign ? undefined : await this.credentials.get(scope.host)
      if (!cred || sent) throw await this.unauthorized(scope, what)
      return basicHeader(cred)
    }
    throw new OperationError(
      `${scope.host} refused ${what} (HTTP 401) without a challenge homeops understands (expected Bearer or Basic)`,
    )
  }

  private async fetchToken(
    scope: Scope,
    realm: string,
    service: string | undefined,
    scopes: string[],
    withCredentials: boolean,
  ): Promise<string> {
    let url: URL
    try {
      url = new URL(realm)
    } catch {
      throw new OperationError(`${scope.host} sent an invalid token realm "${realm.slice(0, 200)}"`)
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new OperationError(`${scope.host} sent a token realm that is not http(s)`)
    if (service) url.searchParams.set('service', service)
    for (const s of scopes) url.searchParams.append('scope', s)
    // Credentials go only to the realm the configured host itself named, never to one a redirect target names.
    const cred = withCredentials ? await this.credentials.get(scope.host) : undefined
    const headers: Record<string, string> = {accept: 'application/json'}
    if (cred) headers.authorization = basicHeader(cred)
    let response: Response
    try {
      response = await this.limited(url.host, () =>
        this.http('GET', url.toString(), headers, `a token for ${scope.repository}`, scope.host, {redirects: false}),
      )
    } finally {
      this.count('token')
    }
    if (response.status === 401 || response.status === 403) {
      throw new OperationError(
        cred
          ? `the token service of ${scope.host} refused the credentials from ${cred.source} (HTTP ${response.status})`
          : `the token service of ${scope.host} requires credentials (HTTP ${response.status})`,
        {hint: credentialHint(scope.host)},
      )
    }
    if (response.status === 429 || response.status >= 500)
      throw new TransientError(`the token service of ${scope.host} answered HTTP ${response.status}`)
    if (response.status !== 200)
      throw new OperationError(`the token service of ${scope.host} answered HTTP ${response.status}`)
    let body: {token?: unknown; access_token?: unknown; expires_in?: unknown}
    try {
      body = JSON.parse(response.body.toString('utf8')) as typeof body
    } catch {
      throw new OperationError(`the token service of ${scope.host} answered with something that is not JSON`)
    }
    const token = typeof body.token === 'string' ? body.token : body.access_token
    if (typeof token !== 'string' || token === '')
      throw new OperationError(`the token service of ${scope.host} answered without a token`)
    // The spec's default lifetime is 60 s; keep a margin so a token never expires in flight.
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60
    registerSecret(token, {ttlMs: lifetime * 1000})
    const expiresAt = Date.now() + Math.max(1, lifetime - Math.min(30, lifetime / 10)) * 1000
    for (const s of scopes) this.tokens.set(tokenKey(scope.host, s), {token, expiresAt})
    return token
  }

  private async unauthorized(scope: Scope, what: string): Promise<OperationError> {
    const cred = await this.credentials.get(scope.host)
    return new OperationError(
      cred
        ? `${scope.host} refused access to ${what} with the credentials from ${cred.source} (HTTP 401): wrong credentials, no pull permission, or the repository does not exist`
        : `${scope.host} requires authentication for ${what} (HTTP 401) and no credentials are configured for it`,
      {hint: credentialHint(scope.host)},
    )
  }

  private noteRateLimit(hostName: string, host: HostState, response: Response): void {
    const limit = parseRateLimit(single(response.headers['ratelimit-remaining']))
    if (!limit) return
    // The window comes from the remote: at most a day, whatever it says.
    const windowSeconds = Math.min(limit.windowSeconds ?? 60, 86_400)
    if (limit.remaining === 0) {
      if (!host.exhaustedUntil || host.exhaustedUntil < Date.now())
        this.logger.warn('registry pull rate limit used up', {registry: hostName, windowSeconds})
      host.exhaustedUntil = Date.now() + windowSeconds * 1000
    } else if (limit.remaining < 10 && !host.warnedLow) {
      host.warnedLow = true
      this.logger.warn('registry pull rate limit almost used up', {registry: hostName, remaining: limit.remaining})
    }
  }

  private expectOk(response: Response, what: string, registry: string, thing = 'manifest'): void {
    if (response.status === 200) return
    if (response.status === 404) {
      throw new OperationError(`${what} was not found on ${registry} (HTTP 404: no such repository or tag)`, {
        hint: 'check the image name and tag; a private repository may also answer 404 without credentials',
      })
    }
    if (response.status === 403)
      throw new OperationError(`${registry} denied access to the ${thing} of ${what} (HTTP 403)`, {
        hint: credentialHint(registry),
      })
    if (response.status >= 500 || response.status === 408)
      throw new TransientError(`${registry} failed to serve the ${thing} of ${what} (HTTP ${response.status})`)
    throw new OperationError(`${registry} answered HTTP ${response.status} for the ${thing} of ${what}`)
  }

  // ---- transport ---------------------------------------------------------

  private async http(
    method: 'GET' | 'HEAD',
    url: string,
    headers: Record<string, string>,
    what: string,
    registry: string,
    options: {redirects?: boolean} = {},
  ): Promise<Response> {
    if (this.closed) throw new OperationError('the registry client is closed')
    const down = this.host(registry).down
    if (down && down.until > Date.now()) throw down.error
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT
    const started = performance.now()
    let answer: HttpAnswer
    try {
      answer = await httpRequest(url, {
        method,
        headers: {'user-agent': this.options.userAgent ?? 'homeops', ...headers},
        pool: this.pool,
        signal: this.options.signal,
        timeoutMs,
        maxBytes: MAX_BODY,
        // Registries redirect to another host (lscr.io to ghcr.io, blobs to object storage): followed, and the
        // credentials stay with the host they were meant for (the HTTP module drops them on a host change).
        redirects: {max: options.redirects === false ? 0 : 3, crossHost: true},
      })
    } catch (error) {
      if (error instanceof AnswerTooLargeError)
        throw new OperationError(`the registry answer is larger than ${MAX_BODY / 1024 / 1024} MiB`)
      if (error instanceof RedirectError)
        throw new OperationError(`cannot talk to the registry ${registry}: ${error.message}`, {hint: error.hint})
      if (this.options.signal?.aborted) throw new TransientError(`request to ${registry} for ${what} aborted: stopping`)
      const failure = unreachable(registry, error, timeoutMs)
      // Unreachable (nothing answered): later requests in this run fail at once with the same cause.
      if (error instanceof NetworkError && error.phase === 'request')
        this.host(registry).down = {error: failure, until: Date.now() + DOWN_FOR_MS}
      throw failure
    }
    this.logger.debug('registry request', {
      method,
      url: answer.url.replace(/\?.*$/, ''),
      status: answer.status,
      ms: Math.round(performance.now() - started),
    })
    return {status: answer.status, headers: answer.headers, body: answer.body, url: answer.url}
  }

  private baseUrl(registry: string): string {
    return `${isPlainHttp(registry, this.options.insecureRegistries) ? 'http' : 'https'}://${registry}`
  }

  private host(name: string): HostState {
    let state = this.hosts.get(name)
    if (!state) {
      state = {active: 0, limit: this.startLimit(), waiting: []}
      this.hosts.set(name, state)
    }
    return state
  }

  private startLimit(): number {
    return Math.min(MAX_CONCURRENCY, Math.max(1, this.options.concurrencyPerRegistry ?? DEFAULT_CONCURRENCY))
  }

  private async limited<T>(hostName: string, work: () => Promise<T>): Promise<T> {
    const state = this.host(hostName)
    for (;;) {
      const pause = (state.pausedUntil ?? 0) - Date.now()
      if (pause > 0) await sleep(pause)
      else if (state.active >= state.limit) await new Promise<void>((resolve) => state.waiting.push(resolve))
      else break
    }
    state.active++
    let ok = false
    try {
      const result = await work()
      ok = true
      return result
    } finally {
      state.active--
      // Additive increase per answer (the window doubles per round trip while the registry keeps up).
      if (ok) state.limit = Math.min(Math.min(MAX_CONCURRENCY, this.startLimit() * 4), state.limit + 1)
      for (let free = state.limit - state.active; free > 0 && state.waiting.length > 0; free--) state.waiting.shift()!()
    }
  }

  /** The current adaptive limit for a host (for tests and the benchmark). */
  concurrencyOf(hostName: string): number {
    return this.host(hostName).limit
  }

  private memo<T>(
    cache: Map<string, {at: number; value: Promise<T>}>,
    key: string,
    load: () => Promise<T>,
  ): Promise<T> {
    const ttl = this.options.cacheTtlMs ?? Infinity
    const hit = cache.get(key)
    if (hit && Date.now() - hit.at < ttl) return hit.value
    const value = load()
    cache.set(key, {at: Date.now(), value})
    // A failure is shared by the callers already waiting, not kept for the next run of a long-lived client.
    value.catch(() => {
      if (ttl !== Infinity && cache.get(key)?.value === value) cache.delete(key)
    })
    return value
  }
}

// ---- helpers ---------------------------------------------------------------

function describe(ref: ImageReference, reference: string): string {
  return reference.startsWith('sha256:')
    ? formatReference({registry: ref.registry, repository: ref.repository, digest: reference})
    : formatReference({registry: ref.registry, repository: ref.repository, tag: reference})
}

function tokenKey(host: string, scope: string): string {
  return `${host}|${scope}`
}

function basicHeader(cred: RegistryCredential): string {
  return `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`
}

function credentialHint(host: string): string {
  const name = host === DOCKER_HUB ? '' : ` ${host}`
  return `run \`docker login${name}\` for the user homeops runs as, or add ${host} under registries: in the config`
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

export function isPlainHttp(registry: string, insecure: string[] = []): boolean {
  const hostname = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '')
  return (
    insecure.includes(registry) ||
    hostname === 'localhost' ||
    hostname === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  )
}

function validateManifest(response: Response, what: string, registry: string): void {
  let parsed: unknown
  try {
    parsed = JSON.parse(response.body.toString('utf8'))
  } catch {
    throw new OperationError(`${registry} served a malformed manifest for ${what} (not JSON)`)
  }
  const manifest = parsed as {schemaVersion?: unknown; mediaType?: unknown; manifests?: unknown; layers?: unknown}
  if (!manifest || typeof manifest !== 'object' || typeof manifest.schemaVersion !== 'number') {
    throw new OperationError(`${registry} served a malformed manifest for ${what} (no schemaVersion)`)
  }
  if (manifest.schemaVersion === 2 && !Array.isArray(manifest.manifests) && !Array.isArray(manifest.layers)) {
    throw new OperationError(`${registry} served a malformed manifest for ${what} (neither manifests nor layers)`)
  }
}

/** One message per cause and registry (not per image), so a registry that is down is reported once per workload. */
function unreachable(registry: string, error: unknown, timeoutMs: number): TransientError | OperationError {
  const {reason, transient} = describeNetworkError(error, timeoutMs)
  // A TLS or protocol mistake (an https:// registry that speaks plain HTTP) needs a human: not worth a retry.
  if (!transient) {
    return new OperationError(`cannot talk to the registry ${registry}: ${reason}`, {
      hint: 'check the registry address: homeops speaks https to every registry except loopback ones',
      cause: error,
    })
  }
  return new TransientError(`cannot reach the registry ${registry}: ${reason}`, {
    hint: 'check the network and the registry host; homeops retries on the next run',
    cause: error,
  })
}
