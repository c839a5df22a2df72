import {describe, expect, it} from 'vitest'

import {canonicalIPv6, ipv6Groups} from '../../../src/lib/net/ipv6.js'

describe('IPv6 text', () => {
  it('expands `::`, drops a zone and turns an IPv4 tail into two groups', () => {
    expect(ipv6Groups('2001:db8::1')).toEqual([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1])
    expect(ipv6Groups('fe80::1%eth0')).toEqual([0xfe80, 0, 0, 0, 0, 0, 0, 1])
    expect(ipv6Groups('::ffff:192.168.1.2')).toEqual([0, 0, 0, 0, 0, 0xffff, 0xc0a8, 0x0102])
    expect(ipv6Groups('::')).toEqual([0, 0, 0, 0, 0, 0, 0, 0])
  })

  it('writes the RFC 5952 form', () => {
    expect(canonicalIPv6('2001:0DB8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1')
    expect(canonicalIPv6('2a02:1234:0:0:0:0:0:0')).toBe('2a02:1234::')
    expect(canonicalIPv6('FD00:0000:0:0::0001')).toBe('fd00::1')
    expect(canonicalIPv6('2a02:1:0:3:4:5:6:7')).toBe('2a02:1:0:3:4:5:6:7') // a single zero group stays
    expect(canonicalIPv6('0:0:0:0:0:0:0:0')).toBe('::')
  })
})
