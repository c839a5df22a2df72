import {BlockList, isIP} from 'node:net'

import {ipv6Groups} from './ipv6.js'

/** One address range: `10.0.0.0/8`, `::1/128`; a bare address is a /32 or /128. */
export interface Cidr {
  /** The network address as written (IPv4-mapped IPv6 ranges are turned into IPv4). */
  address: string
  family: 4 | 6
  prefix: number
}

export type CidrResult = {ok: true; cidr: Cidr} | {ok: false; reason: string}

export const CIDR_EXAMPLES = 'e.g. 192.168.1.0/24, 127.0.0.1, ::1/128'

/**
 * The one CIDR parser of homeops (config validation, `/settings`, every
 * allow-list). Strict on purpose: `net.BlockList` aborts the whole process
 * (a failed C++ assertion, not an exception) on a prefix that is not an int32,
 * and lenient parsing turned `10.0.0.0/` into `/0` (everything). Accepted:
 * an IPv4 or IPv6 address, optionally `/` and a decimal prefix in range
 * (no sign, no leading zero, no hex or exponent). Zone ids are refused (a zone
 * is a property of a link, not of a range). `::ffff:a.b.c.d/96+n` is the IPv4
 * range `a.b.c.d/n`, since clients of a dual-stack socket show up that way.
 */
export function parseCidr(text: string): CidrResult {
  const value = text.trim()
  if (value === '') return {ok: false, reason: 'empty'}
  if (value.length > 64) return {ok: false, reason: 'too long for an address or CIDR range'}
  const parts = value.split('/')
  if (parts.length > 2) return {ok: false, reason: 'more than one "/"'}
  const [address = '', prefixText] = parts
  if (address.includes('%')) return {ok: false, reason: 'zone ids (%eth0) are not supported in an address range'}
  const family = isIP(address)
  if (family !== 4 && family !== 6) return {ok: false, reason: `"${address}" is not an IPv4 or IPv6 address`}
  const max = family === 4 ? 32 : 128
  let prefix = max
  if (prefixText !== undefined) {
    if (prefixText === '') return {ok: false, reason: 'the prefix length after "/" is missing'}
    if (!/^(0|[1-9]\d{0,2})$/.test(prefixText)) {
      return {ok: false, reason: `the prefix length "${prefixText}" is not a decimal number (0-${max})`}
    }
    prefix = Number(prefixText)
    if (prefix > max) return {ok: false, reason: `the prefix length ${prefix} is over ${max} for IPv${family}`}
  }
  if (family === 6) {
    const mapped = mappedIPv4(address)
    if (mapped !== undefined && prefix >= 96) return {ok: true, cidr: {address: mapped, family: 4, prefix: prefix - 96}}
  }
  return {ok: true, cidr: {address, family, prefix}}
}

/** The IPv4 address inside `::ffff:a.b.c.d` (any spelling), else undefined. */
export function mappedIPv4(address: string): string | undefined {
  if (isIP(address) !== 6) return undefined
  const g = ipv6Groups(address)
  if (g.length !== 8 || g.slice(0, 5).some((x) => x !== 0) || g[5] !== 0xffff) return undefined
  return [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff].join('.')
}

/** A client address as allow-lists compare it: zone dropped, IPv4-mapped IPv6 as IPv4; undefined when not an IP. */
export function normalizeClientAddress(remote: string): {address: string; family: 4 | 6} | undefined {
  const zone = remote.indexOf('%')
  const address = zone >= 0 ? remote.slice(0, zone) : remote
  const family = isIP(address)
  if (family === 4) return {address, family}
  if (family !== 6) return undefined
  const mapped = mappedIPv4(address)
  return mapped ? {address: mapped, family: 4} : {address, family: 6}
}

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopback(remote: string): boolean {
  const client = normalizeClientAddress(remote)
  if (!client) return false
  return client.family === 4
    ? client.address.startsWith('127.')
    : ipv6Groups(client.address).join(':') === '0:0:0:0:0:0:0:1'
}

export interface AddressMatcher {
  allows(remote: string): boolean
}

/** A matcher over parsed ranges: only parseCidr's output ever reaches `BlockList`. */
export function cidrMatcher(ranges: readonly Cidr[]): AddressMatcher {
  const list = new BlockList()
  for (const range of ranges) list.addSubnet(range.address, range.prefix, range.family === 6 ? 'ipv6' : 'ipv4')
  return {
    allows(remote) {
      const client = normalizeClientAddress(remote)
      if (!client) return false
      return list.check(client.address, client.family === 6 ? 'ipv6' : 'ipv4')
    },
  }
}
