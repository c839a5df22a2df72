import {describe, expect, it} from 'vitest'

import {checkPublicAddress} from '../../../src/lib/ddns/address.js'

describe('public address check', () => {
  it.each(['84.16.66.10', '1.1.1.1', '8.8.8.8', '100.63.255.255', '100.128.0.1', '172.32.0.1', '223.255.255.254'])(
    'accepts the public IPv4 %s',
    (ip) => {
      expect(checkPublicAddress(ip, 4)).toEqual({ok: true, ip})
    },
  )

  it.each([
    ['10.1.2.3', 'private (10/8)'],
    ['172.16.5.4', 'private (172.16/12)'],
    ['192.168.1.10', 'private (192.168/16)'],
    ['100.64.0.1', 'carrier-grade NAT (100.64/10)'],
    ['100.127.255.254', 'carrier-grade NAT (100.64/10)'],
    ['127.0.0.1', 'loopback'],
    ['169.254.1.1', 'link-local'],
    ['0.0.0.0', '"this network" (0/8)'],
    ['203.0.113.7', 'documentation (203.0.113/24)'],
    ['198.51.100.1', 'documentation (198.51.100/24)'],
    ['192.0.2.1', 'documentation (192.0.2/24)'],
    ['198.18.0.1', 'benchmarking (198.18/15)'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved (240/4)'],
  ])('rejects %s as %s', (ip, reason) => {
    expect(checkPublicAddress(ip, 4)).toEqual({ok: false, reason})
  })

  it('rejects garbage and the wrong family', () => {
    expect(checkPublicAddress('<html>nope</html>', 4)).toEqual({ok: false, reason: 'not an IPv4 address'})
    expect(checkPublicAddress('2a02:1234::1', 4)).toEqual({
      ok: false,
      reason: 'an IPv6 address where IPv4 was expected',
    })
    expect(checkPublicAddress('84.16.66.10', 6)).toEqual({ok: false, reason: 'an IPv4 address where IPv6 was expected'})
    expect(checkPublicAddress('999.1.1.1', 4).ok).toBe(false)
  })

  it('accepts global IPv6 and returns it normalised', () => {
    expect(checkPublicAddress('2A02:1234:0000:0000:0000:0000:0000:0010', 6)).toEqual({ok: true, ip: '2a02:1234::10'})
    expect(checkPublicAddress('2606:4700:4700::1111', 6)).toEqual({ok: true, ip: '2606:4700:4700::1111'})
  })

  it.each([
    ['::1', 'loopback'],
    ['::', 'the unspecified address'],
    ['fd00::1', 'unique local (fc00::/7)'],
    ['fe80::1', 'link-local (fe80::/10)'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation (2001:db8::/32)'],
    ['3fff::1', 'documentation (3fff::/20)'],
    ['::ffff:84.16.66.10', 'an IPv4-mapped address'],
    ['64:ff9b::1.2.3.4', 'not global unicast (outside 2000::/3)'],
  ])('rejects the IPv6 %s as %s', (ip, reason) => {
    expect(checkPublicAddress(ip, 6)).toEqual({ok: false, reason})
  })
})
