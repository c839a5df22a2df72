import {createHash, timingSafeEqual} from 'node:crypto'
import {BlockList, isIP} from 'node:net'

import {UserError} from '../errors.js'
import type {HttpRequest} from './router.js'
import {HttpError} from './router.js'

/**
 * Who may call a route. Each part is a function so a change of settings
 * (monitor's `/settings`) applies to the next request without a restart.
 */
export interface AccessPolicy {
  /** When it returns false: 403 {"error":"api_disabled"}. */
  enabled?: () => boolean
  /** When it returns a key, requests must carry it (`?key=`, `Authorization: Bearer`, `X-API-Key`). */
  apiKey?: () => string | undefined
  /** When it returns a list, the client address must be in it. */
  allowList?: () => AllowList | undefined
}

export interface AllowList {
  readonly entries: readonly string[]
  allows(address: string): boolean
}

/** CIDR allow-list for IPv4 and IPv6 (`10.0.0.0/8`, `::1/128`, or a single address). */
export function parseAllowList(entries: readonly string[], setting = 'allowed addresses'): AllowList {
  const list = new BlockList()
  for (const entry of entries) {
    const [address = '', prefixText] = entry.trim().split('/')
    const family = isIP(address)
    const max = family === 6 ? 128 : 32
    const prefix = prefixText === undefined ? max : Number(prefixText)
    if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
      throw new UserError(`${setting}: "${entry}" is not an address or CIDR range`, {
        hint: 'e.g. 192.168.1.0/24, 127.0.0.1, ::1/128',
      })
    }
    list.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4')
  }
  return {
    entries: [...entries],
    allows(remote) {
      const address = remote.startsWith('::ffff:') && isIP(remote.slice(7)) === 4 ? remote.slice(7) : remote
      const family = isIP(address)
      if (family === 0) return false
      return list.check(address, family === 6 ? 'ipv6' : 'ipv4')
    },
  }
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
  const key = policy.apiKey?.()
  if (key !== undefined) {
    const given = presentedKey(request)
    if (given === undefined || !secretsEqual(given, key)) throw new HttpError(401, {error: 'unauthorized'})
  }
}
