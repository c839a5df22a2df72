import {describe, expect, it} from 'vitest'

import {parseIfInet6, pickStableIPv6} from '../../../src/lib/ddns/local-sources.js'
import {parseSource} from '../../../src/lib/ddns/detect.js'

// /proc/net/if_inet6 of a host with SLAAC privacy extensions on eth0: addr ifindex plen scope flags name
const IF_INET6 = `
00000000000000000000000000000001 01 80 10 80       lo
2a021234000000000000000000000077 02 40 00 01     eth0
2a0212340000000002163efffe4a5b6c 02 40 00 100     eth0
fe8000000000000002163efffe4a5b6c 02 40 20 80     eth0
fd001234000000000000000000000005 02 40 00 80     eth0
2a021234000000000000000000000099 02 40 00 20     eth0
2a021234000000000000000000000042 03 40 00 80     wlan0
`

describe('network interface source', () => {
  it('reads the addresses of one interface with their flags', () => {
    expect(parseIfInet6(IF_INET6, 'eth0').map((a) => [a.address, a.flags])).toEqual([
      ['2a02:1234:0000:0000:0000:0000:0000:0077', 0x01],
      ['2a02:1234:0000:0000:0216:3eff:fe4a:5b6c', 0x100],
      ['fe80:0000:0000:0000:0216:3eff:fe4a:5b6c', 0x80],
      ['fd00:1234:0000:0000:0000:0000:0000:0005', 0x80],
      ['2a02:1234:0000:0000:0000:0000:0000:0099', 0x20],
    ])
  })

  it('picks the stable global address: never a temporary, deprecated or private one', () => {
    expect(pickStableIPv6(parseIfInet6(IF_INET6, 'eth0'))).toBe('2a02:1234::216:3eff:fe4a:5b6c')
    expect(pickStableIPv6(parseIfInet6(IF_INET6, 'wlan0'))).toBe('2a02:1234::42')
    expect(pickStableIPv6(parseIfInet6(IF_INET6, 'lo'))).toBeUndefined()
  })

  it('prefers permanent addresses, then the lowest, so the choice does not flap', () => {
    const addresses = [
      {address: '2a02:1234::9', flags: 0},
      {address: '2a02:1234::5', flags: 0},
      {address: '2a02:1234::7', flags: 0x80},
    ]
    expect(pickStableIPv6(addresses)).toBe('2a02:1234::7')
    expect(pickStableIPv6(addresses.slice(0, 2))).toBe('2a02:1234::5')
  })
})

describe('source syntax', () => {
  it.each([
    ['iface://eth0', {kind: 'iface', name: 'eth0'}],
    ['exec:/usr/local/bin/my-ip --v4', {kind: 'exec', argv: ['/usr/local/bin/my-ip', '--v4']}],
  ])('parses %s', (text, expected) => {
    expect(parseSource(text, 4, 'x')).toMatchObject(expected)
  })

  it.each([
    ['exec:my-ip', /absolute path/],
    ['iface://', /iface:\/\/NAME/],
    ['iface://a-name-far-too-long-for-linux', /iface:\/\/NAME/],
  ])('refuses %s', (text, message) => {
    expect(() => parseSource(text, 4, 'ddns.ipSources.v4[0]')).toThrow(message)
  })
})
