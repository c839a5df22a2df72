import {UserError} from '../errors.js'

/**
 * Image references as Docker writes them (`nginx`, `nginx:1.27-alpine`,
 * `ghcr.io/org/app:v2`, `127.0.0.1:5000/team/app@sha256:…`, Swarm's pinned
 * `repo:tag@sha256:…`), parsed into the parts the registry API needs.
 * Follows the grammar of github.com/distribution/reference.
 */
export interface ImageReference {
  /** Registry host as the API is reached: `registry-1.docker.io`, `127.0.0.1:5801`, `ghcr.io`. */
  registry: string
  /** Repository path: `library/nginx`, `org/app`. */
  repository: string
  tag?: string
  /** `sha256:…` when pinned. */
  digest?: string
}

/** Where Docker Hub's registry API lives (`docker.io` is only a name). */
export const DOCKER_HUB = 'registry-1.docker.io'
const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com'])

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const DOMAIN_LABEL = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)'
const DOMAIN = new RegExp(`^(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]{1,5})?$`)
const TAG = /^[\w][\w.-]{0,127}$/
export const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/
const SHA256 = /^sha256:[0-9a-f]{64}$/
const MAX_NAME = 255

/** The canonical API host for a registry name: `docker.io` and its aliases become `registry-1.docker.io`. */
export function normalizeRegistryHost(host: string): string {
  let h = host.trim()
  h = h.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
  h = h.replace(/\/.*$/, '')
  h = h.toLowerCase()
  return HUB_ALIASES.has(h) ? DOCKER_HUB : h
}

function bad(text: string, why: string): UserError {
  return new UserError(`"${text}" is not an image reference: ${why}`, {
    hint: 'expected [registry[:port]/]repository[:tag][@sha256:digest], e.g. ghcr.io/org/app:1.2.3',
  })
}

export function parseImageReference(text: string): ImageReference {
  const input = typeof text === 'string' ? text.trim() : ''
  if (input === '') throw bad(String(text), 'it is empty')
  if (/\s/.test(input)) throw bad(input, 'it contains white space')
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) throw bad(input, 'it has a URL scheme; write the registry host only')

  let rest = input
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at !== -1) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!DIGEST.test(digest)) throw bad(input, `"${digest}" is not a digest (algorithm:hex)`)
    if (digest.startsWith('sha256:') && !SHA256.test(digest.toLowerCase()))
      throw bad(input, 'a sha256 digest has 64 hexadecimal characters')
    digest = digest.toLowerCase()
  }

  let tag: string | undefined
  const lastSlash = rest.lastIndexOf('/')
  const colon = rest.lastIndexOf(':')
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!TAG.test(tag)) throw bad(input, `"${tag}" is not a valid tag`)
  }
  if (rest === '') throw bad(input, 'the repository name is missing')

  let registry = 'docker.io'
  let path = rest
  const firstSlash = rest.indexOf('/')
  if (firstSlash !== -1) {
    const first = rest.slice(0, firstSlash)
    if (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase()) {
      registry = first
      path = rest.slice(firstSlash + 1)
      if (!DOMAIN.test(registry)) throw bad(input, `"${registry}" is not a registry host`)
    }
  }
  if (path === '') throw bad(input, 'the repository name is missing')
  const components = path.split('/')
  for (const component of components) {
    if (!COMPONENT.test(component)) {
      const why =
        component === ''
          ? 'it has an empty path component'
          : component !== component.toLowerCase()
            ? `repository names must be lowercase ("${component}")`
            : `"${component}" is not a valid repository path component`
      throw bad(input, why)
    }
  }
  const host = normalizeRegistryHost(registry)
  if (host === DOCKER_HUB && components.length === 1) path = `library/${path}`
  if (`${host}/${path}`.length > MAX_NAME) throw bad(input, `the name is longer than ${MAX_NAME} characters`)

  const ref: ImageReference = {registry: host, repository: path}
  if (tag !== undefined) ref.tag = tag
  if (digest !== undefined) ref.digest = digest
  return ref
}

/** The reference as people write it: `nginx:1.27`, `ghcr.io/org/app:v2`, `127.0.0.1:5801/hotest/app@sha256:…`. */
export function formatReference(ref: ImageReference): string {
  let out = familiarName(ref)
  if (ref.tag) out += `:${ref.tag}`
  if (ref.digest) out += `@${ref.digest}`
  return out
}

/** `nginx`, `user/app`, `ghcr.io/org/app` (no tag, no digest). */
export function familiarName(ref: Pick<ImageReference, 'registry' | 'repository'>): string {
  if (ref.registry === DOCKER_HUB) {
    return ref.repository.startsWith('library/') && ref.repository.split('/').length === 2
      ? ref.repository.slice('library/'.length)
      : ref.repository
  }
  return `${ref.registry}/${ref.repository}`
}

/** Fully qualified `registry/repository`, the key for per-repository caches. */
export function repositoryKey(ref: Pick<ImageReference, 'registry' | 'repository'>): string {
  return `${ref.registry}/${ref.repository}`
}

/** Same registry and repository (so a RepoDigest of one is comparable with the other's digest). */
export function sameRepository(
  a: Pick<ImageReference, 'registry' | 'repository'>,
  b: Pick<ImageReference, 'registry' | 'repository'>,
): boolean {
  return a.registry === b.registry && a.repository === b.repository
}

/** An image ID (`sha256:<64 hex>` or a bare 12–64 hex prefix) rather than a name. */
export function isImageId(text: string): boolean {
  return /^sha256:[0-9a-f]{64}$/.test(text) || /^[0-9a-f]{64}$/.test(text)
}
