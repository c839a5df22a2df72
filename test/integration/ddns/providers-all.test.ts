import {afterEach, describe, expect, it} from 'vitest'

import {PROVIDERS} from '../../../src/lib/ddns/providers/registry.js'
import type {DdnsProviderName} from '../../../src/lib/ddns/providers/registry.js'
import {runPass} from '../../../src/lib/ddns/updater.js'
import {startEcho} from './fakes.js'
import {ddnsContext} from './harness.js'
import {CREDENTIALS, type ProviderFake, startProviderFake} from './provider-fakes.js'

const V4 = '84.16.66.10'
const V6 = '2a02:1234::10'
const OLD4 = '84.16.66.1'
const OLD6 = '2a02:1234::1'

/** Services whose success answer does not say whether the address was already there. */
const CANNOT_TELL_NOCHG = new Set(['namecheap', 'njalla', 'freemyip', 'changeip'])
/** What a refused credential and an unknown host come back as, where the service cannot tell them apart. */
const REFUSED_AS: Partial<Record<DdnsProviderName, {auth?: string; nohost?: string}>> = {
  duckdns: {nohost: 'badauth'},
  njalla: {nohost: 'badauth'},
  freemyip: {nohost: 'badauth'},
  freedns: {auth: 'nohost'},
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!()
})

async function setup(name: DdnsProviderName) {
  const fake = await startProviderFake(name)
  const v4 = await startEcho(V4)
  const v6 = await startEcho(V6, '::1')
  cleanups.push(
    () => fake.close(),
    () => v4.close(),
    () => v6.close(),
  )
  const hostname = name === 'duckdns' ? 'home.duckdns.org' : 'home.example.org'
  fake.world.records.set(`${hostname}/A`, OLD4)
  fake.world.records.set(`${hostname}/AAAA`, OLD6)
  return {fake, sources: {v4: v4.url, v6: v6.url}, hostname}
}

function yaml(
  name: DdnsProviderName,
  fake: ProviderFake,
  sources: {v4: string; v6: string},
  options: {hostname: string; wrong?: boolean; ipv6?: boolean},
): string {
  const info = PROVIDERS.find((p) => p.name === name)!
  const creds: string[] = []
  for (const key of info.required) {
    const value = CREDENTIALS[key]
    creds.push(`${key}: '${options.wrong && key !== 'zone' ? `wrong-${value}` : value}'`)
  }
  return `ddns:
  ipv6: ${options.ipv6 ?? false}
  ipSources: {v4: ['${sources.v4}'], v6: ['${sources.v6}']}
  records:
    - {name: r, provider: ${name}, hostname: ${options.hostname}, server: '${fake.server}', ${creds.join(', ')}}
`
}

async function pass(config: string, dbPath?: string) {
  const harness = await ddnsContext({yaml: config, dbPath})
  try {
    return {report: await runPass(harness.context), dbPath: harness.dbPath, logs: harness.logs.join('')}
  } finally {
    await harness.context.close()
  }
}

describe.each(PROVIDERS.map((p) => [p.name, p] as const))('provider %s', (name, info) => {
  const dual = info.families === '4+6'

  it(`updates the record${dual ? ' (A and AAAA)' : ''} and then sends nothing while unchanged`, async () => {
    const {fake, sources, hostname} = await setup(name)
    const config = yaml(name, fake, sources, {hostname, ipv6: dual})
    const first = await pass(config)
    expect(first.report.records.map((r) => [r.family, r.action, r.result, r.exitCode])).toEqual(
      dual
        ? [
            ['ipv4', 'sent', 'good', 0],
            ['ipv6', 'sent', 'good', 0],
          ]
        : [['ipv4', 'sent', 'good', 0]],
    )
    expect(fake.world.records.get(`${hostname}/A`)).toBe(V4)
    if (dual) expect(fake.world.records.get(`${hostname}/AAAA`)).toBe(V6)
    for (const secret of [CREDENTIALS.password, CREDENTIALS.token, CREDENTIALS.secret]) {
      expect(first.logs).not.toContain(secret)
      expect(JSON.stringify(first.report)).not.toContain(secret)
    }
    const requests = fake.requests.length
    const again = await pass(config, first.dbPath)
    expect(again.report.records.every((r) => r.action === 'skipped' && r.result === 'unchanged')).toBe(true)
    expect(fake.requests.length).toBe(requests)
  })

  it('accepts "no change" when the provider already holds the address', async () => {
    const {fake, sources, hostname} = await setup(name)
    fake.world.records.set(`${hostname}/A`, V4)
    const {report} = await pass(yaml(name, fake, sources, {hostname}))
    expect(report.exitCode).toBe(0)
    expect(report.records[0]!.result).toBe(CANNOT_TELL_NOCHG.has(name) ? 'good' : 'nochg')
    expect(fake.world.records.get(`${hostname}/A`)).toBe(V4)
  })

  it('blocks the record when the credentials are refused (exit 4), and sends nothing on the next run', async () => {
    const {fake, sources, hostname} = await setup(name)
    const config = yaml(name, fake, sources, {hostname, wrong: true})
    const first = await pass(config)
    expect(first.report.records[0]).toMatchObject({result: REFUSED_AS[name]?.auth ?? 'badauth', exitCode: 4})
    expect(fake.world.records.get(`${hostname}/A`)).toBe(OLD4)
    const requests = fake.requests.length
    const second = await pass(config, first.dbPath)
    expect(second.report.records[0]).toMatchObject({action: 'blocked', exitCode: 4})
    expect(fake.requests.length).toBe(requests)
  })

  it('blocks a hostname the provider does not know (exit 4), creating nothing', async () => {
    const {fake, sources} = await setup(name)
    const unknown = name === 'duckdns' ? 'nope.duckdns.org' : 'nope.example.org'
    const config =
      name === 'freedns'
        ? yaml(name, fake, sources, {hostname: unknown, wrong: true}) // a FreeDNS token names the record
        : yaml(name, fake, sources, {hostname: unknown})
    const {report} = await pass(config)
    expect(report.records[0]).toMatchObject({result: REFUSED_AS[name]?.nohost ?? 'nohost', exitCode: 4})
    expect([...fake.world.records.keys()].some((k) => k.startsWith('nope.'))).toBe(false)
  })

  it('defers the record when rate limited (exit 3), one request, no retry in the run', async () => {
    const {fake, sources, hostname} = await setup(name)
    fake.world.rateLimited = true
    const config = yaml(name, fake, sources, {hostname})
    const first = await pass(config)
    expect(first.report.records[0]).toMatchObject({action: 'sent', exitCode: 3})
    expect(Date.parse(first.report.records[0]!.notBefore!) - Date.now()).toBeGreaterThan(55_000)
    const requests = fake.requests.length
    const second = await pass(config, first.dbPath)
    expect(second.report.records[0]).toMatchObject({action: 'deferred', exitCode: 3})
    expect(fake.requests.length).toBe(requests)
  })
})

it('offers at least 30 providers', () => {
  expect(PROVIDERS.length).toBeGreaterThanOrEqual(30)
  expect(new Set(PROVIDERS.map((p) => p.name)).size).toBe(PROVIDERS.length)
})
