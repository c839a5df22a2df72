import {afterEach, describe, expect, it} from 'vitest'

import {runPass} from '../../../src/lib/ddns/updater.js'
import {type SeenRequest, startApi, startEcho} from './fakes.js'
import {ddnsContext} from './harness.js'

const V4 = '84.16.66.10'
const V6 = '2a02:1234::10'
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!()
})

async function sources() {
  const v4 = await startEcho(V4)
  const v6 = await startEcho(V6, '::1')
  cleanups.push(
    () => v4.close(),
    () => v6.close(),
  )
  return {v4: v4.url, v6: v6.url}
}

async function pass(yaml: string, dbPath?: string) {
  const harness = await ddnsContext({yaml, dbPath, env: {HOMEOPS_DDNS_RETRY_BACKOFF: '0'}})
  try {
    return {report: await runPass(harness.context), dbPath: harness.dbPath, logs: harness.logs}
  } finally {
    await harness.context.close()
  }
}

describe('DuckDNS', () => {
  it('updates each family with the token; a token change alone does not resend', async () => {
    const {v4, v6} = await sources()
    let answer = 'OK'
    const api = await startApi((req) => {
      if (answer === 'KO') return {body: 'KO'}
      const ip = req.query.ipv6 ?? req.query.ip
      return {body: `OK\n${req.query.ip ?? ''}\n${req.query.ipv6 ?? ''}\n${ip ? 'UPDATED' : 'NOCHANGE'}`}
    })
    cleanups.push(() => api.close())
    const yaml = `ddns:
  ipv6: true
  ipSources: {v4: ['${v4}'], v6: ['${v6}']}
  records:
    - {name: duck, provider: duckdns, hostname: myhome.duckdns.org, token: duck-token-123, server: '${api.url}/update'}
`
    const first = await pass(yaml)
    expect(first.report.exitCode).toBe(0)
    expect(api.requests.map((r: SeenRequest) => r.query)).toEqual([
      {domains: 'myhome', token: 'duck-token-123', ip: V4, verbose: 'true'},
      // DuckDNS fills a missing ip= from the source address: the IPv6 update carries the detected IPv4.
      {domains: 'myhome', token: 'duck-token-123', ip: V4, ipv6: V6, verbose: 'true'},
    ])
    expect(first.report.records.map((r) => r.result)).toEqual(['good', 'good'])
    expect(first.logs.join('')).not.toContain('duck-token-123')

    const again = await pass(yaml, first.dbPath)
    expect(again.report.records.map((r) => r.action)).toEqual(['skipped', 'skipped'])
    expect(api.requests).toHaveLength(2)

    answer = 'KO'
    const rotated = await pass(yaml.replace('duck-token-123', 'duck-token-456'), first.dbPath)
    expect(rotated.report.records.map((r) => r.action)).toEqual(['skipped', 'skipped'])
    expect(api.requests).toHaveLength(2)
  })

  it('blocks the record when DuckDNS answers KO', async () => {
    const {v4} = await sources()
    const api = await startApi(() => ({body: 'KO'}))
    cleanups.push(() => api.close())
    const yaml = `ddns:
  ipSources: {v4: ['${v4}']}
  records: [{provider: duckdns, hostname: myhome.duckdns.org, token: bad-token-1, server: '${api.url}/update'}]
`
    const first = await pass(yaml)
    expect(first.report.exitCode).toBe(4)
    expect(first.report.records[0]).toMatchObject({result: 'badauth', answer: 'KO (token or domain refused)'})
    const second = await pass(yaml, first.dbPath)
    expect(second.report.records[0]!.action).toBe('blocked')
    expect(api.requests).toHaveLength(1)
  })
})

describe('Cloudflare', () => {
  function cloudflare(records: {id: string; name: string; type: string; content: string}[], token = 'cf-token-1') {
    return startApi((req) => {
      if (req.authorization !== `Bearer ${token}`) {
        return {status: 403, body: {success: false, errors: [{code: 9109, message: 'Invalid access token'}]}}
      }
      if (req.method === 'GET' && req.path === '/client/v4/zones') {
        const zones = req.query.name === 'example.org' ? [{id: 'zone-1', name: 'example.org'}] : []
        return {body: {success: true, result: zones}}
      }
      if (req.method === 'GET' && req.path === '/client/v4/zones/zone-1/dns_records') {
        return {
          body: {success: true, result: records.filter((r) => r.type === req.query.type && r.name === req.query.name)},
        }
      }
      const patch = /^\/client\/v4\/zones\/zone-1\/dns_records\/(.+)$/.exec(req.path)
      if (req.method === 'PATCH' && patch) {
        const record = records.find((r) => r.id === patch[1])!
        record.content = (JSON.parse(req.body!) as {content: string}).content
        return {body: {success: true, result: record}}
      }
      return {status: 404, body: {success: false, errors: [{code: 7003, message: 'no route'}]}}
    })
  }

  it('finds the zone, updates only its own record, and leaves the others alone', async () => {
    const {v4, v6} = await sources()
    const records = [
      {id: 'r-a', name: 'home.example.org', type: 'A', content: '84.16.66.1'},
      {id: 'r-aaaa', name: 'home.example.org', type: 'AAAA', content: V6},
      {id: 'r-other', name: 'www.example.org', type: 'A', content: '84.16.66.1'},
    ]
    const api = await cloudflare(records)
    cleanups.push(() => api.close())
    const yaml = `ddns:
  ipv6: true
  ipSources: {v4: ['${v4}'], v6: ['${v6}']}
  records: [{name: cf, provider: cloudflare, hostname: home.example.org, token: cf-token-1, server: '${api.url}/client/v4'}]
`
    const {report} = await pass(yaml)
    expect(report.exitCode).toBe(0)
    expect(report.records.map((r) => [r.family, r.result])).toEqual([
      ['ipv4', 'good'],
      ['ipv6', 'nochg'],
    ])
    expect(records.map((r) => r.content)).toEqual([V4, V6, '84.16.66.1'])
    expect(api.requests.filter((r) => r.method === 'PATCH').map((r) => [r.path, r.body])).toEqual([
      ['/client/v4/zones/zone-1/dns_records/r-a', JSON.stringify({content: V4})],
    ])
  })

  it('blocks on a refused token and on a missing record, never creating one', async () => {
    const {v4} = await sources()
    const api = await cloudflare([])
    cleanups.push(() => api.close())
    const base = (token: string) => `ddns:
  ipSources: {v4: ['${v4}']}
  records: [{name: cf, provider: cloudflare, hostname: home.example.org, token: ${token}, server: '${api.url}/client/v4'}]
`
    const refused = await pass(base('wrong-token'))
    expect(refused.report.records[0]).toMatchObject({result: 'badauth', exitCode: 4})
    const missing = await pass(base('cf-token-1'))
    expect(missing.report.records[0]).toMatchObject({result: 'nohost', exitCode: 4})
    expect(missing.report.records[0]!.answer).toMatch(/no A record named home.example.org in zone example.org/)
    expect(api.requests.some((r) => r.method === 'POST')).toBe(false)
  })
})

describe('Cloudflare answers without the documented shape', () => {
  const zoneOk = {success: true, result: [{id: 'zone1', name: 'example.org'}]}
  const cases: [string, (req: SeenRequest) => {status?: number; body: unknown}][] = [
    ['a result that is a string', () => ({body: {success: true, result: 'oops'}})],
    ['a null result', () => ({body: {success: true, result: null}})],
    ['a zone without an id', () => ({body: {success: true, result: [{}]}})],
    ['a JSON null body', () => ({body: 'null'})],
    ['an HTML error page', () => ({body: '<html>gateway</html>'})],
    [
      'a record list that is an object',
      (req) => (req.path.endsWith('/zones') ? {body: zoneOk} : {body: {success: true, result: {id: 'x'}}}),
    ],
    [
      'a record without content',
      (req) => (req.path.endsWith('/zones') ? {body: zoneOk} : {body: {success: true, result: [{id: 'r1'}]}}),
    ],
  ]
  it.each(cases)('treats %s as a temporary provider error (exit 3), never a block', async (_label, handler) => {
    const {v4} = await sources()
    const api = await startApi(handler)
    cleanups.push(() => api.close())
    const yaml = `ddns:
  ipSources: {v4: ['${v4}']}
  records: [{name: cf, provider: cloudflare, hostname: home.example.org, token: cf-token-1, server: '${api.url}/client/v4'}]
`
    const first = await pass(yaml)
    expect(first.report.exitCode).toBe(3)
    expect(first.report.records[0]).toMatchObject({action: 'sent', result: 'malformed', exitCode: 3})
    expect(api.requests.some((r) => r.path.includes('undefined'))).toBe(false)
    expect(api.requests.some((r) => r.method === 'PATCH')).toBe(false)
    const status = await (async () => {
      const harness = await ddnsContext({yaml, dbPath: first.dbPath})
      try {
        const {ddnsStatus} = await import('../../../src/lib/ddns/status.js')
        return await ddnsStatus(harness.context)
      } finally {
        await harness.context.close()
      }
    })()
    expect(status.records[0]!.blocked).toBeNull()
    expect(status.records[0]!.nextAttemptNotBefore).not.toBeNull()
  })
})
