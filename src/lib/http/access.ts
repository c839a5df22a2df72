import {createHash, timingSafeEqual} from 'node:crypto'

import {UserError} from '../errors.js'
import {CIDR_EXAMPLES, type Cidr, cidrMatcher, isLoopback, parseCidr} from '../net/cidr.js'
import {SAFE_METHODS} from './request-guard.js'
import type {AccessPolicy, AllowList} from './access-policy.js'
import type {HttpRequest} from './router.js'
import {HttpError} from './router.js'

export type {AccessPolicy, AllowList} from './access-policy.js'

/** CIDR allow-list for IPv4 and IPv6 (`10.0.0.0/8`, `::1/128`, or a single address); strict, see net/cidr.ts. */
export function parseAllowList(entries: readonly string[], setting = 'allowed addresses'): AllowList {
  const ranges: Cidr[] = []
  for (const entry of entries) {
    const parsed = parseCidr(entry)
    if (!parsed.ok) {
      throw new UserError(`${setting}: "${entry}" is not an address or CIDR range: ${parsed.reason}`, {
        hint: CIDR_EXAMPLES,
      })
    }
    ranges.push(parsed.cidr)
  }
  const matcher = cidrMatcher(ranges)
  return {entries: [...entries], allows: (remote) => matcher.allows(remote)}
}

/** Constant-time comparison (hashing first makes the lengths equal). */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

export function presentedKey(request: HttpRequest): string | undefined {
  const fromQuery = request.query.get('key')
  if (fromQuery) return fromQuery
  const header = request.headers['x-api-key']
  if (typeof header === 'string' && header) return header
  const auth = request.headers.authorization
  if (auth?.toLowerCase().startsWith('bearer ')) return auth.slice(7).trim()
  return undefined
}

export function enforceAccess(policy: AccessPolicy, request: HttpRequest): void {
  const allowList = policy.allowList?.()
  if (allowList && !allowList.allows(request.remoteAddress)) {
    throw new HttpError(403, {error: 'forbidden', reason: `address ${request.remoteAddress} is not allowed`})
  }
  if (policy.enabled && !policy.enabled()) throw new HttpError(403, {error: 'api_disabled'})
  if (!policy.apiKey || request.authenticated) return
  const key = policy.apiKey()
  if (key !== undefined) {
    const given = presentedKey(request)
    if (given === undefined || !secretsEqual(given, key)) throw new HttpError(401, {error: 'unauthorized'})
    request.authenticated = true
    return
  }
  if (!SAFE_METHODS.has(request.method) && !isLocalClient(request)) {
    throw new HttpError(403, noKeyRefusal(policy.keySetting ?? 'serve.apiKey'))
  }
}

const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip', 'x-forwarded-host']

/**
 * A client on this machine: a loopback address, and not relayed by a reverse
 * proxy on this machine (which would make every Internet client look local).
 */
export function isLocalClient(request: Pick<HttpRequest, 'remoteAddress' | 'headers'>): boolean {
  return isLoopback(request.remoteAddress) && !PROXY_HEADERS.some((h) => request.headers[h] !== undefined)
}

/** The 403 body of a write refused by the "no key" policy. */
export function noKeyRefusal(setting: string): Record<string, unknown> {
  return {
    error: 'no_api_key',
    message: 'no API key is configured: changes are accepted from this machine (loopback) only',
    hint: `set ${setting} (16+ characters) to act from other machines`,
  }
}

/**
 * What a client may do under a key-governed policy, for `/api/auth` and the UI:
 * `key` (a key is configured: send it), `loopback` (no key, this client is
 * local: allowed), `refused` (no key, remote client: read only).
 */
export function writeAccess(
  key: string | undefined,
  request: Pick<HttpRequest, 'remoteAddress' | 'headers'>,
): 'key' | 'loopback' | 'refused' {
  if (key !== undefined) return 'key'
  return isLocalClient(request) ? 'loopback' : 'refused'
}
