import {isIPv4, isIPv6} from 'node:net'

import {canonicalIPv6, ipv6Groups} from '../net/ipv6.js'

export type Family = 4 | 6

/**
 * Whether `text` is a public unicast address of `family`, i.e. one a DNS
 * record for this network may point at. Everything else is rejected with a
 * reason: private (RFC 1918, ULA), CGNAT (100.64/10), loopback, link-local,
 * multicast, reserved, and the documentation/benchmark ranges (an echo
 * service never legitimately answers those, so they mean a broken source).
 */
export function checkPublicAddress(text: string, family: Family): {ok: true; ip: string} | {ok: false; reason: string} {
  const ip = text.trim()
  if (family === 4) {
    if (!isIPv4(ip))
      return {ok: false, reason: isIPv6(ip) ? 'an IPv6 address where IPv4 was expected' : 'not an IPv4 address'}
    const reason = ipv4Special(ip)
    return reason ? {ok: false, reason} : {ok: true, ip}
  }
  if (!isIPv6(ip))
    return {ok: false, reason: isIPv4(ip) ? 'an IPv4 address where IPv6 was expected' : 'not an IPv6 address'}
  const normalized = canonicalIPv6(ip)
  const reason = ipv6Special(normalized)
  return reason ? {ok: false, reason} : {ok: true, ip: normalized}
}

const V4_RANGES: [string, number, string][] = [
  ['0.0.0.0', 8, '"this network" (0/8)'],
  ['10.0.0.0', 8, 'private (10/8)'],
  ['100.64.0.0', 10, 'carrier-grade NAT (100.64/10)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private (172.16/12)'],
  ['192.0.0.0', 24, 'IETF protocol assignment (192.0.0/24)'],
  ['192.0.2.0', 24, 'documentation (192.0.2/24)'],
  ['192.88.99.0', 24, '6to4 relay anycast'],
  ['192.168.0.0', 16, 'private (192.168/16)'],
  ['198.18.0.0', 15, 'benchmarking (198.18/15)'],
  ['198.51.100.0', 24, 'documentation (198.51.100/24)'],
  ['203.0.113.0', 24, 'documentation (203.0.113/24)'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved (240/4)'],
]

function v4ToInt(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0)
}

function ipv4Special(ip: string): string | undefined {
  const n = v4ToInt(ip)
  for (const [base, bits, reason] of V4_RANGES) {
    const size = 2 ** (32 - bits)
    const start = v4ToInt(base)
    if (n >= start && n < start + size) return reason
  }
  return undefined
}

function ipv6Special(ip: string): string | undefined {
  const g = ipv6Groups(ip)
  const first = g[0]!
  if (g.every((x) => x === 0)) return 'the unspecified address'
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return 'loopback'
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return 'an IPv4-mapped address'
  if ((first & 0xfe00) === 0xfc00) return 'unique local (fc00::/7)'
  if ((first & 0xffc0) === 0xfe80) return 'link-local (fe80::/10)'
  if ((first & 0xff00) === 0xff00) return 'multicast'
  if ((first & 0xe000) !== 0x2000) return 'not global unicast (outside 2000::/3)'
  if (first === 0x2001 && g[1] === 0x0db8) return 'documentation (2001:db8::/32)'
  if (first === 0x3fff && g[1]! < 0x1000) return 'documentation (3fff::/20)'
  if (first === 0x2001 && g[1]! < 0x0200 && g[1] !== 0) return 'IETF protocol assignment (2001::/23)'
  return undefined
}

export function familyLabel(family: Family): 'IPv4' | 'IPv6' {
  return family === 4 ? 'IPv4' : 'IPv6'
}
