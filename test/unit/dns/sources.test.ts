import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {Packet} from 'dns2'
import {describe, expect, it} from 'vitest'

import {ByteWriter, encodeAnswer} from '../../../src/lib/dns/answer.js'
import {recordsFromLabels} from '../../../src/lib/dns/docker-source.js'
import {parseUpstream} from '../../../src/lib/dns/forwarder.js'
import {defaultRouteInterface, detectHostIp} from '../../../src/lib/dns/host-ip.js'
import {parseHosts} from '../../../src/lib/dns/hosts-file.js'
import {canonicalAddress, nameProblem, reverseName} from '../../../src/lib/dns/names.js'
import {RateLimiter} from '../../../src/lib/dns/rate-limit.js'
import {UserError} from '../../../src/lib/errors.js'

describe('hosts files', () => {
  it('reads IPv4 and IPv6 lines, several names, comments; reports bad lines', () => {
    const {records, problems} = parseHosts(
      '# lan\n10.0.0.5 nas.lan nas  # the NAS\n\nfd00::5\tnas.lan\nnot-an-ip x.lan\n10.0.0.6\n',
    )
    expect(records).toEqual([
      {name: 'nas.lan', type: 'A', value: '10.0.0.5'},
      {name: 'nas', type: 'A', value: '10.0.0.5'},
      {name: 'nas.lan', type: 'AAAA', value: 'fd00::5'},
    ])
    expect(problems.map((p) => p.line)).toEqual([5, 6])
  })

  it('keeps blocklist names apart as bare names, and never puts a line’s text in a problem', () => {
    const {records, sinks, problems} = parseHosts(
      '0.0.0.0 Ads.Example.com tracker.example.net.\n:: ads.example.com\n0.0.0.0 bad_name! ok.test\nroot:s3cr3t:0\n',
    )
    expect(records).toEqual([])
    expect(sinks).toEqual({a: ['ads.example.com', 'tracker.example.net', 'ok.test'], aaaa: ['ads.example.com']})
    expect(problems).toEqual([
      {line: 3, reason: 'name 1 is not a valid DNS name'},
      {line: 4, reason: 'the first field is not an IP address'},
    ])
    expect(JSON.stringify(problems)).not.toContain('s3cr3t')
  })
})

describe('labels', () => {
  const hostIps = ['192.168.1.10']
  it('reads homeops.dns.name and joyride.host.name, comma-separated, pointing at HOSTIP', () => {
    expect(recordsFromLabels({'homeops.dns.name': 'a.lan, B.lan', 'joyride.host.name': 'c.lan'}, hostIps)).toEqual([
      {name: 'a.lan', type: 'A', value: '192.168.1.10'},
      {name: 'b.lan', type: 'A', value: '192.168.1.10'},
      {name: 'c.lan', type: 'A', value: '192.168.1.10'},
    ])
  })
  it('uses homeops.dns.ip, aliases as CNAMEs, and honours homeops.dns.enable=false', () => {
    expect(
      recordsFromLabels(
        {'homeops.dns.name': 'a.lan', 'homeops.dns.ip': '10.0.0.9,fd00::9', 'homeops.dns.alias': 'x.lan'},
        hostIps,
      ),
    ).toEqual([
      {name: 'a.lan', type: 'A', value: '10.0.0.9'},
      {name: 'a.lan', type: 'AAAA', value: 'fd00::9'},
      {name: 'x.lan', type: 'CNAME', value: 'a.lan'},
    ])
    expect(recordsFromLabels({'homeops.dns.name': 'a.lan', 'homeops.dns.enable': 'false'}, hostIps)).toEqual([])
    expect(recordsFromLabels({other: 'x'}, hostIps)).toEqual([])
  })
})

describe('host ip', () => {
  it('finds the default route interface with the lowest metric', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'homeops-route-'))
    const file = join(dir, 'route')
    writeFileSync(
      file,
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' +
        'wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n' +
        'eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n' +
        'eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n',
    )
    try {
      expect(await defaultRouteInterface(file)).toBe('eth0')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
    expect(await detectHostIp('10.0.0.1, fd00::1')).toEqual({addresses: ['10.0.0.1', 'fd00::1'], origin: 'HOSTIP'})
    const detected = await detectHostIp(undefined, join(dir, 'missing'))
    expect(detected.addresses).toHaveLength(1)
  })
})

describe('names', () => {
  it('validates names and builds reverse names', () => {
    expect(nameProblem('app.home.lan')).toBeUndefined()
    expect(nameProblem('*.app.home.lan')).toBeUndefined()
    expect(nameProblem('a.*.lan')).toMatch(/characters/)
    expect(nameProblem('-x.lan')).toMatch(/characters/)
    expect(reverseName('10.0.0.5')).toBe('5.0.0.10.in-addr.arpa')
    expect(reverseName('2001:db8::1')).toBe('1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa')
    expect(canonicalAddress('FD00:0000:0:0::0001')).toBe('fd00::1')
  })
})

describe('upstreams', () => {
  it('parses IP, IP:PORT and [IPv6]:PORT and refuses names', () => {
    expect(parseUpstream('1.1.1.1')).toEqual({host: '1.1.1.1', port: 53})
    expect(parseUpstream('127.0.0.1:5353')).toEqual({host: '127.0.0.1', port: 5353})
    expect(parseUpstream('[::1]:5353')).toEqual({host: '::1', port: 5353})
    expect(parseUpstream('2606:4700::1111')).toEqual({host: '2606:4700::1111', port: 53})
    expect(() => parseUpstream('dns.google')).toThrow(UserError)
    expect(() => parseUpstream('1.1.1.1:99999')).toThrow(/not an IP address/)
  })
})

describe('rate limiter', () => {
  it('does nothing while the server keeps up', () => {
    const limiter = new RateLimiter({perSource: 0})
    limiter.tick(0.2)
    for (let i = 0; i < 10_000; i++) expect(limiter.allow('10.0.0.1')).toBe(true)
  })

  it('cuts a flooding source to a fair share when saturated, never a quiet one', () => {
    const limiter = new RateLimiter({perSource: 0})
    limiter.tick(0.99) // saturated: start counting
    for (let i = 0; i < 1000; i++) limiter.allow('10.0.0.66')
    for (let i = 0; i < 10; i++) limiter.allow('10.0.0.2')
    limiter.tick(0.99) // budgets for the next window
    let flood = 0
    for (let i = 0; i < 1000; i++) if (limiter.allow('10.0.0.66')) flood++
    let quiet = 0
    for (let i = 0; i < 10; i++) if (limiter.allow('10.0.0.2')) quiet++
    expect(quiet).toBe(10)
    expect(flood).toBe(505)
    expect(limiter.dropped).toBe(495)
    // Limits stay for a few calm windows (no refilling the queue at once), then go.
    limiter.tick(0.1)
    let during = 0
    for (let i = 0; i < 1000; i++) if (limiter.allow('10.0.0.66')) during++
    expect(during).toBe(505)
    for (let i = 0; i < 8; i++) limiter.tick(0.1)
    let after = 0
    for (let i = 0; i < 1000; i++) if (limiter.allow('10.0.0.66')) after++
    expect(after).toBe(1000)
  })

  it('enforces a fixed per-source rate with a bounded table', () => {
    const limiter = new RateLimiter({perSource: 5, maxSources: 2})
    let allowed = 0
    for (let i = 0; i < 20; i++) if (limiter.allow('a')) allowed++
    expect(allowed).toBe(5)
    expect(limiter.allow('b')).toBe(true)
    for (let i = 0; i < 20; i++) limiter.allow(`x${i}`) // overflow sources share one bucket
    expect(limiter.allow('x99')).toBe(false)
  })
})

describe('encoding', () => {
  it('ByteWriter gives the same bytes as dns2’s writer', () => {
    const build = () => {
      const p = new Packet()
      p.header = new Packet.Header({id: 7, qr: 1, aa: 1, rcode: 3, ra: 1})
      p.questions = [new Packet.Question('host5.bench.lan', 1, 1)]
      p.answers = [
        new Packet.Resource({name: 'host5.bench.lan', type: 1, class: 1, ttl: 60, address: '10.1.0.5'}),
        new Packet.Resource({name: 'host5.bench.lan', type: 28, class: 1, ttl: 60, address: 'fd00::5'}),
      ]
      p.authorities = [
        new Packet.Resource({
          name: 'bench.lan',
          type: 6,
          class: 1,
          ttl: 60,
          primary: 'ns.bench.lan',
          admin: 'hostmaster.bench.lan',
          serial: 1763800000,
          refresh: 3600,
          retry: 600,
          expiration: 86400,
          minimum: 60,
        }),
      ]
      return p
    }
    const reference = build().toBuffer()
    expect((build().toBuffer as (w: unknown) => Buffer)(new ByteWriter()).equals(reference)).toBe(true)
  })

  it('appends an OPT record to the EDNS variant', () => {
    const encoded = encodeAnswer(
      {name: 'a.lan', type: 1, klass: 1},
      {rcode: 0, answers: [], authority: []},
      {ra: false, maxUdpSize: 1232},
    )
    expect(encoded.edns.length).toBe(encoded.plain.length + 11)
    expect(encoded.edns.readUInt16BE(10)).toBe(1)
    expect(encoded.edns.readUInt16BE(encoded.edns.length - 8)).toBe(1232)
  })
})
