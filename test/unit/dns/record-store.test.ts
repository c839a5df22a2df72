import {describe, expect, it} from 'vitest'

import {authoritative} from '../../../src/lib/dns/answer.js'
import {getDomain} from 'tldts'

import {RecordStore, computeZones, recordsFromValue} from '../../../src/lib/dns/record-store.js'
import {Logger} from '../../../src/lib/log/logger.js'
import {RCODE, TYPE} from '../../../src/lib/dns/wire.js'

function capture() {
  const lines: string[] = []
  return {lines, logger: new Logger({level: 'debug', format: 'text', sink: {write: (l: string) => lines.push(l)}})}
}

describe('RecordStore', () => {
  it('lets the stronger source kind win a name and logs the conflict once', () => {
    const {lines, logger} = capture()
    const store = new RecordStore({ttl: 60, logger})
    store.set('docker', 'container/web', [{name: 'web.home.lan', type: 'A', value: '10.0.0.9'}])
    store.set('hosts', '/h/lan', [{name: 'WEB.home.lan', type: 'A', value: '10.0.0.5'}])
    store.set('swarm', 'service/web', [{name: 'web.home.lan', type: 'A', value: '10.0.0.7'}])
    let data = store.flush()
    expect(data.names.get('web.home.lan')).toMatchObject({a: ['10.0.0.5'], kind: 'hosts', sources: ['hosts:/h/lan']})
    expect(data.conflicts).toHaveLength(2)
    store.set('docker', 'container/other', [{name: 'other.home.lan', type: 'A', value: '10.0.0.1'}])
    data = store.flush()
    expect(lines.filter((l) => l.includes('several sources'))).toHaveLength(2)
    store.set('static', 'config', [{name: 'web.home.lan', type: 'A', value: '10.0.0.2'}])
    expect(store.flush().names.get('web.home.lan')?.a).toEqual(['10.0.0.2'])
  })

  it('adds up the records of one kind and ignores invalid ones with a warning', () => {
    const {lines, logger} = capture()
    const store = new RecordStore({ttl: 60, logger})
    store.set('hosts', 'a', [
      {name: 'nas.lan', type: 'A', value: '10.0.0.5'},
      {name: 'nas.lan', type: 'AAAA', value: 'FD00:0:0::5'},
      {name: 'bad_name!.lan', type: 'A', value: '10.0.0.6'},
    ])
    store.set('hosts', 'b', [{name: 'nas.lan', type: 'A', value: '10.0.0.6'}])
    const entry = store.flush().names.get('nas.lan')
    expect(entry).toMatchObject({a: ['10.0.0.5', '10.0.0.6'], aaaa: ['fd00::5']})
    expect(lines.some((l) => l.includes('dns record ignored') && l.includes('bad_name'))).toBe(true)
  })

  it('derives zones from the names unless configured, never above a registrable domain', () => {
    const registrable = (name: string) => getDomain(name, {allowPrivateDomains: true})
    expect(computeZones([], ['a.home.lan', 'b.x.home.lan', '*.app.lab.lan', 'single'], registrable)).toEqual([
      'home.lan',
      'lab.lan',
      'single',
    ])
    expect(computeZones(['Home.LAN.'], ['a.other'], registrable)).toEqual(['home.lan'])
    // Not `net`, `co.uk` or `duckdns.org`: those belong to everyone.
    expect(
      computeZones([], ['doubleclick.net', 'ads.example.co.uk', 'x.me.duckdns.org', 'example.co.uk'], registrable),
    ).toEqual(['doubleclick.net', 'me.duckdns.org', 'example.co.uk'])
    // Without the list nothing is known about a parent: the name alone.
    expect(computeZones([], ['a.home.lan'])).toEqual(['a.home.lan'])
  })

  it('derives zones in linear time (20 000 names with distinct parents)', () => {
    const names = Array.from({length: 20_000}, (_, i) => `host.p${i}.example${i % 7}.lan`)
    names.push('x.example3.lan') // makes the 2 857 zones below example3.lan nested ones
    const started = performance.now()
    const zones = computeZones([], names, (n) => getDomain(n))
    expect(zones).toHaveLength(20_000 - 2857 + 1)
    // Generous: the quadratic version took 38 s for this; linear takes milliseconds.
    expect(performance.now() - started).toBeLessThan(2000)
  })

  it('turns values into A, AAAA and CNAME records', () => {
    expect(recordsFromValue('x.lan', '10.0.0.1, fd00::1')).toEqual([
      {name: 'x.lan', type: 'A', value: '10.0.0.1'},
      {name: 'x.lan', type: 'AAAA', value: 'fd00::1'},
    ])
    expect(recordsFromValue('x.lan', 'app.lan')).toEqual([{name: 'x.lan', type: 'CNAME', value: 'app.lan'}])
  })

  it('removes an origin with an empty list and rebuilds on replaceKind', () => {
    const store = new RecordStore({ttl: 60})
    store.set('docker', 'container/a', [{name: 'a.lan', type: 'A', value: '10.0.0.1'}])
    expect(store.flush().names.has('a.lan')).toBe(true)
    store.replaceKind('docker', new Map())
    expect(store.flush().names.has('a.lan')).toBe(false)
  })
})

describe('authoritative answers', () => {
  const store = new RecordStore({ttl: 30, zones: ['home.lan']})
  store.set('static', 'config', [
    {name: 'app.home.lan', type: 'A', value: '10.0.0.5'},
    {name: 'app.home.lan', type: 'AAAA', value: 'fd00::5'},
    {name: 'v4.home.lan', type: 'A', value: '10.0.0.6'},
    {name: 'www.home.lan', type: 'CNAME', value: 'app.home.lan'},
    {name: 'ext.home.lan', type: 'CNAME', value: 'www.example.com'},
    {name: 'dangling.home.lan', type: 'CNAME', value: 'gone.home.lan'},
    {name: '*.apps.home.lan', type: 'A', value: '10.0.0.8'},
    {name: 'deep.sub.home.lan', type: 'A', value: '10.0.0.9'},
  ])
  const data = store.flush()

  it('answers A and AAAA, NODATA with the SOA, NXDOMAIN in the zone, nothing outside', () => {
    expect(authoritative(data, 'app.home.lan', TYPE.A)?.answers.map((r) => r.address)).toEqual(['10.0.0.5'])
    expect(authoritative(data, 'app.home.lan', TYPE.AAAA)?.answers.map((r) => r.address)).toEqual(['fd00::5'])
    const nodata = authoritative(data, 'v4.home.lan', TYPE.AAAA)!
    expect(nodata).toMatchObject({rcode: RCODE.NOERROR, answers: []})
    expect(nodata.authority[0]).toMatchObject({type: TYPE.SOA, name: 'home.lan', minimum: 30})
    expect(authoritative(data, 'nope.home.lan', TYPE.A)).toMatchObject({rcode: RCODE.NXDOMAIN, answers: []})
    expect(authoritative(data, 'www.example.com', TYPE.A)).toBeUndefined()
  })

  it('answers empty non-terminals with NODATA and the apex SOA', () => {
    expect(authoritative(data, 'sub.home.lan', TYPE.A)).toMatchObject({rcode: RCODE.NOERROR, answers: []})
    expect(authoritative(data, 'home.lan', TYPE.SOA)?.answers[0]).toMatchObject({type: TYPE.SOA})
  })

  it('follows CNAMEs inside the store and stops at outside targets', () => {
    const www = authoritative(data, 'www.home.lan', TYPE.A)!
    expect(www.answers.map((r) => [r.type, r.domain ?? r.address])).toEqual([
      [TYPE.CNAME, 'app.home.lan'],
      [TYPE.A, '10.0.0.5'],
    ])
    expect(authoritative(data, 'ext.home.lan', TYPE.A)!.answers).toHaveLength(1)
    expect(authoritative(data, 'dangling.home.lan', TYPE.A)).toMatchObject({rcode: RCODE.NXDOMAIN})
  })

  it('matches wildcards for any depth below, but not names that exist', () => {
    expect(authoritative(data, 'x.apps.home.lan', TYPE.A)?.answers[0]).toMatchObject({
      name: 'x.apps.home.lan',
      address: '10.0.0.8',
    })
    expect(authoritative(data, 'a.b.apps.home.lan', TYPE.A)?.answers[0]?.address).toBe('10.0.0.8')
    expect(authoritative(data, 'apps.home.lan', TYPE.A)).toMatchObject({rcode: RCODE.NOERROR, answers: []})
  })

  it('answers PTR from A/AAAA records and ANY with one RRset (RFC 8482)', () => {
    expect(authoritative(data, '5.0.0.10.in-addr.arpa', TYPE.PTR)?.answers.map((r) => r.domain)).toEqual([
      'app.home.lan',
    ])
    const v6 = '5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa'
    expect(authoritative(data, v6, TYPE.PTR)?.answers[0]?.domain).toBe('app.home.lan')
    expect(authoritative(data, 'app.home.lan', TYPE.ANY)?.answers.map((r) => r.type)).toEqual([TYPE.A])
  })
})
