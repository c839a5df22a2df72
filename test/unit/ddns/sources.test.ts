import {describe, expect, it} from 'vitest'

import {DEFAULT_SOURCES, extractAddress, parseSource} from '../../../src/lib/ddns/detect.js'
import {decodeAnswers, encodeQuery} from '../../../src/lib/ddns/dns-query.js'
import {deferDelay} from '../../../src/lib/ddns/updater.js'
import {worst} from '../../../src/lib/errors.js'

describe('IP sources', () => {
  it('parses every built-in source', () => {
    for (const family of [4, 6] as const) {
      for (const source of DEFAULT_SOURCES[family]) expect(() => parseSource(source, family, 'x')).not.toThrow()
    }
    expect(parseSource('dns://[2606:4700:4700::1111]/whoami.cloudflare?type=TXT&class=CH', 6, 'x')).toEqual({
      kind: 'dns',
      server: '2606:4700:4700::1111',
      port: 53,
      name: 'whoami.cloudflare',
      type: 'TXT',
      class: 'CH',
      label: 'dns://[2606:4700:4700::1111]/whoami.cloudflare',
    })
    expect(parseSource('dns://127.0.0.1:5353/myip.opendns.com', 4, 'x')).toMatchObject({
      port: 5353,
      type: 'A',
      class: 'IN',
    })
  })

  it('keeps query strings out of the label (they may hold tokens)', () => {
    expect(parseSource('https://echo.example/ip?key=abcd', 4, 'x')).toMatchObject({label: 'https://echo.example/ip'})
  })

  it('takes a bracketed IPv6 resolver as checked by the URL parser, and refuses a malformed one', () => {
    expect(parseSource('dns://[::ffff:1.1.1.1]:5353/whoami.cloudflare?type=TXT&class=CH', 6, 'x')).toMatchObject({
      server: '::ffff:101:101',
      port: 5353,
      label: 'dns://[::ffff:101:101]:5353/whoami.cloudflare',
    })
    expect(() => parseSource('dns://[2606:4700::1111::1]/whoami.cloudflare', 6, 'x')).toThrow(/not a URL/)
    expect(() => parseSource('dns://[fe80::1%25eth0]/whoami.cloudflare', 6, 'x')).toThrow(/not a URL/)
  })

  it.each([
    ['echo.example', /not a URL/],
    ['ftp://echo.example', /unsupported scheme ftp:/],
    ['dns://resolver.example/myip.opendns.com', /resolver must be an IP address/],
    ['dns://1.1.1.1/', /missing the name/],
    ['dns://1.1.1.1/myip.opendns.com?type=MX', /type must be A, AAAA or TXT/],
    ['dns://1.1.1.1/myip.opendns.com?type=AAAA', /type AAAA cannot answer an IPv4 address/],
    ['dns://1.1.1.1/whoami.cloudflare?type=TXT&class=HS', /class must be IN or CH/],
  ])('rejects %s with a clear reason', (source, reason) => {
    expect(() => parseSource(source, 4, 'ddns.ipSources.v4[0]')).toThrow(reason)
    expect(() => parseSource(source, 4, 'ddns.ipSources.v4[0]')).toThrow(/ddns.ipSources.v4\[0\]: IP source/)
  })

  it('extracts the address from plain, JSON and trace answers', () => {
    expect(extractAddress('84.16.66.10\n')).toBe('84.16.66.10')
    expect(extractAddress('{"ip":"84.16.66.10"}')).toBe('84.16.66.10')
    expect(extractAddress('fl=1\nh=x\nip=84.16.66.10\nts=1')).toBe('84.16.66.10')
    expect(extractAddress('<html>')).toBe('<html>')
  })

  it('encodes a CHAOS TXT question and decodes the answer', () => {
    const query = encodeQuery(0x1234, 'whoami.cloudflare', 16, 3)
    expect(query.subarray(0, 4)).toEqual(Buffer.from([0x12, 0x34, 0x01, 0x00]))
    expect(query.subarray(-4)).toEqual(Buffer.from([0, 16, 0, 3]))
    const question = query.subarray(12)
    const header = Buffer.from([0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0])
    const text = Buffer.from('84.16.66.10')
    const rr = Buffer.concat([
      Buffer.from([0xc0, 0x0c, 0, 16, 0, 3, 0, 0, 0, 0, 0, text.length + 1, text.length]),
      text,
    ])
    expect(decodeAnswers(Buffer.concat([header, question, rr]), 0x1234, 16)).toEqual(['84.16.66.10'])
    expect(decodeAnswers(Buffer.concat([header, question, rr]), 0x9999, 16)).toBeUndefined()
    const nx = Buffer.from([0x12, 0x34, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0])
    expect(() => decodeAnswers(Buffer.concat([nx, question]), 0x1234, 16)).toThrow(/NXDOMAIN/)
  })
})

describe('exit codes and back-off', () => {
  // The one exit-code policy (errors.ts worst()): a failure that needs a person wins over a temporary one.
  it('lets the most demanding record win: 4 > 1 > 3 > 0', () => {
    expect(worst([])).toBe(0)
    expect(worst([0, 1, 0])).toBe(1)
    expect(worst([1, 3, 0])).toBe(1)
    expect(worst([3, 4, 1])).toBe(4)
  })

  it('waits 30 min after 911 and 5 min after other failures, doubling, capped, never below Retry-After', () => {
    const mid = () => 0.5
    expect(deferDelay({kind: 'transient', code: '911', text: ''}, 1, mid)).toBe(30 * 60_000)
    expect(deferDelay({kind: 'transient', code: '911', text: ''}, 2, mid)).toBe(60 * 60_000)
    expect(deferDelay({kind: 'transient', code: '911', text: ''}, 10, mid)).toBe(4 * 3600_000)
    expect(deferDelay({kind: 'transient', code: 'http-503', text: ''}, 1, mid)).toBe(5 * 60_000)
    expect(deferDelay({kind: 'transient', code: 'http-503', text: ''}, 9, mid)).toBe(3600_000)
    expect(deferDelay({kind: 'transient', code: 'http-429', text: '', retryAfterSeconds: 7200}, 1, mid)).toBe(7200_000)
    expect(deferDelay({kind: 'transient', code: 'timeout', text: ''}, 1, () => 0)).toBe(4 * 60_000)
    expect(deferDelay({kind: 'transient', code: 'timeout', text: ''}, 1, () => 1)).toBe(6 * 60_000)
  })
})
