import {describe, expect, it} from 'vitest'

import {parseAllowList} from '../../../src/lib/http/access.js'
import {cidrMatcher, isLoopback, parseCidr} from '../../../src/lib/net/cidr.js'

// [input, expected: {address, family, prefix} | a fragment of the refusal reason]
const TABLE: [string, {address: string; family: 4 | 6; prefix: number} | RegExp][] = [
  ['10.0.0.0/8', {address: '10.0.0.0', family: 4, prefix: 8}],
  ['192.168.1.0/24', {address: '192.168.1.0', family: 4, prefix: 24}],
  ['127.0.0.1', {address: '127.0.0.1', family: 4, prefix: 32}],
  ['0.0.0.0/0', {address: '0.0.0.0', family: 4, prefix: 0}],
  ['1.2.3.4/32', {address: '1.2.3.4', family: 4, prefix: 32}],
  [' 10.1.0.0/16 ', {address: '10.1.0.0', family: 4, prefix: 16}],
  ['::1', {address: '::1', family: 6, prefix: 128}],
  ['::1/128', {address: '::1', family: 6, prefix: 128}],
  ['::/0', {address: '::', family: 6, prefix: 0}],
  ['fd00::/8', {address: 'fd00::', family: 6, prefix: 8}],
  ['2001:db8::/32', {address: '2001:db8::', family: 6, prefix: 32}],
  ['::ffff:10.0.0.0/104', {address: '10.0.0.0', family: 4, prefix: 8}],
  ['::ffff:192.168.1.7', {address: '192.168.1.7', family: 4, prefix: 32}],
  ['::FFFF:c0a8:0107/128', {address: '192.168.1.7', family: 4, prefix: 32}],
  ['::ffff:0:0/96', {address: '0.0.0.0', family: 4, prefix: 0}],
  ['::ffff:0:0/95', {address: '::ffff:0:0', family: 6, prefix: 95}],
  ['127.0.0.1/-0', /not a decimal number/],
  ['127.0.0.1/-1', /not a decimal number/],
  ['10.0.0.0/', /missing/],
  ['10.0.0.0/33', /over 32/],
  ['::/129', /over 128/],
  ['192.168.1.0/24/99', /more than one/],
  ['10.0.0.0/0x18', /not a decimal number/],
  ['10.0.0.0/1e1', /not a decimal number/],
  ['10.0.0.0/08', /not a decimal number/],
  ['10.0.0.0/+8', /not a decimal number/],
  ['10.0.0.0/8.0', /not a decimal number/],
  ['10.0.0.0/ 8', /not a decimal number/],
  ['10.0.0.0/4294967304', /not a decimal number/],
  ['10.0.0.0/NaN', /not a decimal number/],
  ['fe80::1%eth0', /zone ids/],
  ['fe80::%25eth0/64', /zone ids/],
  ['', /empty/],
  ['/8', /not an IPv4 or IPv6 address/],
  ['not-an-ip', /not an IPv4 or IPv6 address/],
  ['010.0.0.1/8', /not an IPv4 or IPv6 address/],
  ['10.0.0/8', /not an IPv4 or IPv6 address/],
  ['256.0.0.0/8', /not an IPv4 or IPv6 address/],
  ['localhost', /not an IPv4 or IPv6 address/],
  ['[::1]/128', /not an IPv4 or IPv6 address/],
  ['1.2.3.4/32\u0000', /not a decimal number/],
  ['1'.repeat(100), /too long/],
]

describe('parseCidr (the one strict CIDR parser)', () => {
  it.each(TABLE)('%j', (input, expected) => {
    const result = parseCidr(input)
    if (expected instanceof RegExp) {
      expect(result.ok).toBe(false)
      if (!result.ok) expect(result.reason).toMatch(expected)
    } else {
      expect(result).toEqual({ok: true, cidr: expected})
    }
  })

  it('has at least 30 cases', () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(30)
  })

  it('never hands BlockList a value it aborts on: every refused entry is a UserError naming the setting', () => {
    for (const [input, expected] of TABLE) {
      if (!(expected instanceof RegExp)) continue
      expect(() => parseAllowList([input], 'serve.allowedIps')).toThrow(/^serve\.allowedIps: /)
    }
  })
})

describe('allow-list matching', () => {
  const list = (...entries: string[]) => {
    const ranges = entries.map((e) => {
      const parsed = parseCidr(e)
      if (!parsed.ok) throw new Error(parsed.reason)
      return parsed.cidr
    })
    return cidrMatcher(ranges)
  }

  it('matches IPv4 clients of a dual-stack socket (::ffff:a.b.c.d) against IPv4 ranges, and mapped ranges against IPv4 clients', () => {
    expect(list('192.168.1.0/24').allows('::ffff:192.168.1.9')).toBe(true)
    expect(list('::ffff:192.168.1.0/120').allows('192.168.1.9')).toBe(true)
    expect(list('192.168.1.0/24').allows('192.168.2.1')).toBe(false)
  })

  it('drops a client zone id, and refuses what is not an address', () => {
    expect(list('fe80::/10').allows('fe80::1%eth0')).toBe(true)
    expect(list('0.0.0.0/0', '::/0').allows('garbage')).toBe(false)
    expect(list('0.0.0.0/0', '::/0').allows('')).toBe(false)
  })

  it('knows loopback clients in every spelling', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1'])
      expect(isLoopback(a)).toBe(true)
    for (const a of ['10.0.0.1', '::2', '::ffff:10.0.0.1', 'localhost', '']) expect(isLoopback(a)).toBe(false)
  })
})
