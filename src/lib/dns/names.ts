import {isIPv4, isIPv6} from 'node:net'

import {canonicalIPv6, ipv6Groups} from '../net/ipv6.js'

/**
 * Domain names as the store keeps them: lower case, no trailing dot, labels of
 * letters, digits, `-` and `_`, at most 63 octets each and 253 in all; `*` is
 * allowed as the first label only (wildcard).
 */
const LABEL = /^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$/

export function normalizeName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '')
}

/** Why `name` cannot be served, or undefined when it is fine. */
export function nameProblem(name: string): string | undefined {
  if (name === '') return 'empty name'
  if (name.length > 253) return 'longer than 253 characters'
  const labels = name.split('.')
  for (const [i, label] of labels.entries()) {
    if (label === '*' && i === 0 && labels.length > 1) continue
    if (label === '') return 'empty label'
    if (label.length > 63) return `label "${label.slice(0, 20)}…" longer than 63 characters`
    if (!LABEL.test(label)) return `label "${label}" has characters other than a-z 0-9 - _`
  }
  return undefined
}

export function isWildcard(name: string): boolean {
  return name.startsWith('*.')
}

/** `app.home.lan` → `home.lan`; a single label has no parent. */
export function parentName(name: string): string | undefined {
  const dot = name.indexOf('.')
  return dot < 0 ? undefined : name.slice(dot + 1)
}

/** The nearest of `name` and its ancestors that `set` holds (the root `''` last), or undefined. */
export function ancestorIn(name: string, set: ReadonlySet<string>): string | undefined {
  let node: string | undefined = name
  while (node !== undefined) {
    if (set.has(node)) return node
    node = parentName(node)
  }
  return set.has('') ? '' : undefined
}

/** The addresses blocklists point names at: no PTR is derived for them. */
export function isSinkAddress(address: string): boolean {
  return address === '0.0.0.0' || address === '::'
}

/** True when `name` is `zone` or below it. */
export function inZone(name: string, zone: string): boolean {
  if (zone === '') return true
  return name === zone || name.endsWith('.' + zone)
}

export function addressFamily(value: string): 4 | 6 | undefined {
  if (isIPv4(value)) return 4
  if (isIPv6(value)) return 6
  return undefined
}

/** The PTR owner name of an address: `10.0.0.5` → `5.0.0.10.in-addr.arpa`. */
export function reverseName(address: string): string {
  if (isIPv4(address)) return address.split('.').reverse().join('.') + '.in-addr.arpa'
  const bytes = ipv6Bytes(address)
  const nibbles: string[] = []
  for (let i = bytes.length - 1; i >= 0; i--) {
    nibbles.push((bytes[i]! & 0xf).toString(16), (bytes[i]! >> 4).toString(16))
  }
  return nibbles.join('.') + '.ip6.arpa'
}

/** The 16 bytes of an IPv6 address (including `::ffff:1.2.3.4` forms). */
export function ipv6Bytes(address: string): number[] {
  return ipv6Groups(address).flatMap((group) => [group >> 8, group & 0xff])
}

/** Canonical (RFC 5952) text of an IPv6 address, so equal addresses compare equal. */
export function canonicalAddress(address: string): string {
  return isIPv6(address) ? canonicalIPv6(address) : address
}

/** Wire format of a (lower-case) name: length-prefixed labels and the root byte. */
export function encodeWireName(name: string): Buffer {
  const parts = name === '' ? [] : name.split('.')
  const out = Buffer.alloc(parts.reduce((n, p) => n + p.length + 1, 1))
  let offset = 0
  for (const part of parts) {
    out[offset++] = part.length
    offset += out.write(part, offset, 'latin1')
  }
  out[offset] = 0
  return out
}
