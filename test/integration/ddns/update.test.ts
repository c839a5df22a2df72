import {readFileSync} from 'node:fs'
import {afterEach, describe, expect, it} from 'vitest'

import {ExitCode} from '../../../src/lib/errors.js'
import {ddnsStatus, ddnsHistory} from '../../../src/lib/ddns/status.js'
import {type DdnsRunReport, type PassOptions, runPass} from '../../../src/lib/ddns/updater.js'
import {type Dyndns2Fake, type EchoFake, startDns, startDyndns2, startEcho} from './fakes.js'
import {ddnsContext, legacyEnv} from './harness.js'

const V4 = '84.16.66.10'
const V4_NEW = '84.16.66.77'
const V6 = '2a02:1234::10'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!()
})

async function dyndns2(flavour: 'dyndns2' | 'infomaniak' = 'infomaniak'): Promise<Dyndns2Fake> {
  const fake = await startDyndns2({flavour})
  cleanups.push(() => fake.close())
  return fake
}

async function echo(answer: string, host: '127.0.0.1' | '::1' = '127.0.0.1'): Promise<EchoFake> {
  const fake = await startEcho(answer, host)
  cleanups.push(() => fake.close())
  return fake
}

/** One `ddns update` run: a fresh context (as a new process would have) over the same database. */
function runner(env: Record<string, string>, yaml?: string) {
  let dbPath: string | undefined
  const all: string[] = []
  return {
    logs: all,
    get dbPath() {
      return dbPath!
    },
    async run(options: PassOptions = {}, override: Record<string, string> = {}): Promise<DdnsRunReport> {
      const harness = await ddnsContext({env: {...env, ...override}, yaml, dbPath})
      dbPath = harness.dbPath
      try {
        return await runPass(harness.context, options)
      } finally {
        all.push(...harness.logs)
        await harness.context.close()
      }
    },
    async status() {
      const harness = await ddnsContext({env, yaml, dbPath})
      try {
        return await ddnsStatus(harness.context)
      } finally {
        await harness.context.close()
      }
    },
    async history() {
      const harness = await ddnsContext({env, yaml, dbPath})
      try {
        return await ddnsHistory(harness.context, {limit: 50})
      } finally {
        await harness.context.close()
      }
    },
  }
}

describe('ddns update against a dyndns2 server', () => {
  it('sends once on the first run, then nothing while the address is unchanged', async () => {
    const provider = await dyndns2('infomaniak')
    const source = await echo(V4)
    const ddns = runner(legacyEnv(provider.url, {v4: [source.url]}))

    const first = await ddns.run()
    expect(first.exitCode).toBe(0)
    expect(provider.requests).toHaveLength(1)
    expect(provider.requests[0]).toMatchObject({
      path: '/nic/update',
      query: {hostname: 'home.example.org', myip: V4},
      user: 'user',
      password: 'pass-word-1',
      userAgent: 'homeops/0.1.0-test',
    })
    expect(first.records).toEqual([
      expect.objectContaining({
        record: 'home.example.org',
        family: 'ipv4',
        detectedIp: V4,
        previousIp: null,
        action: 'sent',
        result: 'good',
        answer: `successfully_changed ${V4}`,
      }),
    ])

    const second = await ddns.run()
    expect(second.exitCode).toBe(0)
    expect(provider.requests).toHaveLength(1) // 0 provider requests
    expect(source.hits).toBe(2) // one detection request per run
    expect(second.records[0]).toMatchObject({action: 'skipped', result: 'unchanged', previousIp: V4, detectedIp: V4})
  })

  it('sends once when the address changes, with the previous address in the report and history', async () => {
    const provider = await dyndns2('dyndns2')
    const source = await echo(V4)
    const ddns = runner(legacyEnv(provider.url, {v4: [source.url]}))
    await ddns.run()
    source.answer = V4_NEW
    const changed = await ddns.run()
    expect(provider.requests.map((r) => r.query.myip)).toEqual([V4, V4_NEW])
    expect(changed.records[0]).toMatchObject({action: 'sent', result: 'good', previousIp: V4, detectedIp: V4_NEW})
    await ddns.run()
    expect(provider.requests).toHaveLength(2)
    const {entries} = await ddns.history()
    expect(entries.map((e) => [e.previousIp, e.ip, e.result])).toEqual([
      [V4, V4_NEW, 'good'],
      [null, V4, 'good'],
    ])
  })

  it('accepts the provider saying it already had the address (nochg / no_change)', async () => {
    const provider = await dyndns2('infomaniak')
    provider.records.set('home.example.org/4', V4)
    const source = await echo(V4)
    const ddns = runner(legacyEnv(provider.url, {v4: [source.url]}))
    const report = await ddns.run()
    expect(report.exitCode).toBe(0)
    expect(report.records[0]).toMatchObject({action: 'sent', result: 'nochg', answer: `no_change ${V4}`})
    await ddns.run()
    expect(provider.requests).toHaveLength(1)
  })

  it('sends a separate request per family when IPv6 is enabled, each detected over its own family', async () => {
    const provider = await dyndns2()
    const v4 = await echo(V4)
    const v6 = await echo('2A02:1234:0:0:0:0:0:10', '::1')
    const ddns = runner(legacyEnv(provider.url, {v4: [v4.url], v6: [v6.url]}, {DDNS_ENABLE_IPV6: 'true'}))
    const report = await ddns.run()
    expect(report.exitCode).toBe(0)
    expect(provider.requests.map((r) => r.query.myip)).toEqual([V4, V6])
    expect(v4.families).toEqual([4])
    expect(v6.families).toEqual([6])
    expect(report.records.map((r) => [r.family, r.action, r.result])).toEqual([
      ['ipv4', 'sent', 'good'],
      ['ipv6', 'sent', 'good'],
    ])
    await ddns.run()
    expect(provider.requests).toHaveLength(2)
  })

  it('blocks a record after badauth: later runs send nothing, until its config changes', async () => {
    const provider = await dyndns2('infomaniak')
    const source = await echo(V4)
    const env = legacyEnv(provider.url, {v4: [source.url]}, {INFOMANIAK_DDNS_PASSWORD: 'wrong-password'})
    const ddns = runner(env)

    const refused = await ddns.run()
    expect(refused.exitCode).toBe(ExitCode.fatalRemote)
    expect(refused.records[0]).toMatchObject({action: 'sent', result: 'badauth', answer: 'badauth'})
    expect(refused.records[0]!.message).toMatch(/the username or password was refused.*--force/)
    expect(provider.requests).toHaveLength(1)

    for (let i = 0; i < 2; i++) {
      const blocked = await ddns.run()
      expect(blocked.exitCode).toBe(ExitCode.fatalRemote)
      expect(blocked.records[0]).toMatchObject({action: 'blocked', result: 'badauth'})
      expect(blocked.records[0]!.message).toMatch(/^blocked since .*: badauth/)
    }
    expect(provider.requests).toHaveLength(1)
    expect(source.hits).toBe(1) // a blocked setup does not even detect
    const status = await ddns.status()
    expect(status.records[0]!.blocked).toMatchObject({reason: 'badauth', hint: 'the username or password was refused'})

    // The operator fixes the password: the block is gone, the update goes through.
    const fixed = await ddns.run({}, {INFOMANIAK_DDNS_PASSWORD: 'pass-word-1'})
    expect(fixed.exitCode).toBe(0)
    expect(fixed.records[0]).toMatchObject({action: 'sent', result: 'good'})
    expect(provider.requests).toHaveLength(2)
    expect(ddns.logs.join('')).toContain('configuration changed: clearing its block')
  })

  it('clears a block with --force', async () => {
    const provider = await dyndns2('dyndns2')
    const source = await echo(V4)
    provider.script.push('nohost')
    const ddns = runner(legacyEnv(provider.url, {v4: [source.url]}))
    expect((await ddns.run()).exitCode).toBe(ExitCode.fatalRemote)
    expect((await ddns.run()).records[0]!.action).toBe('blocked')
    expect(provider.requests).toHaveLength(1)
    const forced = await ddns.run({force: true})
    expect(forced.exitCode).toBe(0)
    expect(forced.records[0]).toMatchObject({action: 'sent', result: 'good'})
    expect((await ddns.status()).records[0]!.blocked).toBeNull()
  })

  it.each(['notfqdn', 'badagent', 'abuse', 'numhost', '400:nohost'])(
    'treats %s as fatal and blocks',
    async (answer) => {
      const provider = await dyndns2()
      const source = await echo(V4)
      provider.script.push(answer)
      const ddns = runner(legacyEnv(provider.url, {v4: [source.url]}))
      expect((await ddns.run()).exitCode).toBe(4)
      expect((await ddns.run()).records[0]!.action).toBe('blocked')
      expect(provider.requests).toHaveLength(1)
    },
  )

  it.each(['911', 'dnserr', 'http-503', 'http-500'])(
    'sends one request after %s, defers the record ≥ its back-off, and exits 3 on every run until then',
    async (answer) => {
      const provider = await dyndns2()
      const source = await echo(V4)
      provider.script.push(answer, answer, answer, answer)
      const ddns = runner(legacyEnv(provider.url, {v4: [source.url]}, {DDNS_MAX_RETRIES: '3'}))
      const slept: number[] = []
      const sleep = async (ms: number) => void slept.push(ms)

      const first = await ddns.run({sleep})
      expect(first.exitCode).toBe(ExitCode.temporary)
      expect(provider.requests).toHaveLength(1) // one request per record per run for any answer the provider gave
      expect(slept).toEqual([])
      expect(first.records[0]).toMatchObject({action: 'sent', result: answer, tries: 1})
      const notBefore = Date.parse(first.records[0]!.notBefore!)
      const minimum = answer === '911' || answer === 'dnserr' ? 24 * 60_000 : 4 * 60_000 // 30 min / 5 min, -20 % jitter
      expect(notBefore - Date.now()).toBeGreaterThan(minimum)

      const second = await ddns.run({sleep})
      expect(second.exitCode).toBe(ExitCode.temporary)
      expect(second.records[0]).toMatchObject({
        action: 'deferred',
        result: answer,
        notBefore: first.records[0]!.notBefore,
      })
      expect(provider.requests).toHaveLength(1)
      expect(source.hits).toBe(1)
      expect((await ddns.status()).records[0]!.nextAttemptNotBefore).toBe(first.records[0]!.notBefore)

      // Past the "not before" time, the next run sends again.
      provider.script.length = 0
      const later = await ddns.run({sleep, now: () => new Date(notBefore + 1000)})
      expect(later.records[0]).toMatchObject({action: 'sent', result: 'good'})
      expect(provider.requests).toHaveLength(2)
    },
  )

  it('never sleeps for Retry-After in a run: persists "not before" and exits 3 at once', async () => {
    const provider = await dyndns2()
    const source = await echo(V4)
    provider.script.push({status: 503, body: 'busy', headers: {'retry-after': '7200'}})
    const ddns = runner(legacyEnv(provider.url, {v4: [source.url]}))
    const slept: number[] = []
    const started = Date.now()
    const report = await ddns.run({sleep: async (ms) => void slept.push(ms)})
    expect(Date.now() - started).toBeLessThan(5000)
    expect(slept).toEqual([])
    expect(report.exitCode).toBe(ExitCode.temporary)
    expect(provider.requests).toHaveLength(1)
    expect(Date.parse(report.records[0]!.notBefore!) - Date.now()).toBeGreaterThan(7100 * 1000)
  })

  it.each([
    ['a number past any date', '99999999999999'],
    ['86 400 000 seconds', '86400000'],
    ['an HTTP date in 2099', 'Thu, 01 Jan 2099 00:00:00 GMT'],
  ])(
    'clamps an absurd Retry-After (%s) to 4 h with a warning, and still sends the other records',
    async (_label, value) => {
      const provider = await dyndns2()
      provider.script.push({status: 429, body: 'slow down', headers: {'retry-after': value}})
      const source = await echo(V4)
      const yaml = `ddns:
  server: ${provider.url}
  ipSources: {v4: ['${source.url}']}
  records:
    - {name: first, provider: dyndns2, hostname: home.example.org, username: user, password: pass-word-1}
    - {name: second, provider: dyndns2, hostname: home.example.org, username: user, password: pass-word-1}
`
      const ddns = runner({}, yaml)
      const report = await ddns.run()
      expect(report.records.map((r) => [r.record, r.result, r.exitCode])).toEqual([
        ['first', 'http-429', 3],
        ['second', 'good', 0],
      ])
      const wait = Date.parse(report.records[0]!.notBefore!) - Date.now()
      expect(wait).toBeGreaterThan(3.9 * 3600_000)
      expect(wait).toBeLessThanOrEqual(4 * 3600_000)
      expect(ddns.logs.join('')).toMatch(/out-of-range delay; clamped.*clampedToSeconds=14400/)
      const next = await ddns.run()
      expect(next.records.map((r) => r.action)).toEqual(['deferred', 'skipped'])
    },
  )

  it('after a timeout: one request, outcome "unknown" recorded, nothing resent in the run nor deferred', async () => {
    const provider = await dyndns2()
    const source = await echo(V4)
    provider.script.push('hang', 'hang')
    const ddns = runner(legacyEnv(provider.url, {v4: [source.url]}, {DDNS_MAX_RETRIES: '3', DDNS_REQUEST_TIMEOUT: '1'}))
    const report = await ddns.run()
    expect(report.exitCode).toBe(ExitCode.temporary)
    expect(provider.requests).toHaveLength(1)
    expect(report.records[0]).toMatchObject({result: 'timeout', tries: 1, action: 'sent', notBefore: null})
    expect(report.records[0]!.message).toMatch(/outcome unknown.*next run checks and decides/)
    expect((await ddns.status()).records[0]).toMatchObject({
      lastIp: null,
      lastResult: 'timeout',
      nextAttemptNotBefore: null,
    })
    expect((await ddns.history()).entries[0]).toMatchObject({result: 'timeout'})
  })

  it('after a timeout, the next run asks DNS and sends nothing when the record already holds the address', async () => {
    const provider = await dyndns2()
    const source = await echo(V4)
    const dns = await startDns({'home.example.org': V4})
    cleanups.push(() => dns.close())
    provider.script.push('hang')
    const ddns = runner(
      legacyEnv(
        provider.url,
        {v4: [source.url]},
        {DDNS_REQUEST_TIMEOUT: '1', DDNS_CHECK_RESOLVER: `127.0.0.1:${dns.port}`},
      ),
    )
    expect((await ddns.run()).records[0]!.result).toBe('timeout')
    const next = await ddns.run()
    expect(next.exitCode).toBe(0)
    expect(next.records[0]).toMatchObject({action: 'skipped', result: 'confirmed'})
    expect(provider.requests).toHaveLength(1)
    expect(dns.hits).toBeGreaterThan(0)
    expect((await ddns.status()).records[0]).toMatchObject({lastIp: V4})
    await ddns.run()
    expect(provider.requests).toHaveLength(1)
  })

  it('after a timeout, the next run resends when DNS does not show the address', async () => {
    const provider = await dyndns2()
    const source = await echo(V4)
    const dns = await startDns({'home.example.org': '84.16.66.1'})
    cleanups.push(() => dns.close())
    provider.script.push('hang')
    const ddns = runner(
      legacyEnv(
        provider.url,
        {v4: [source.url]},
        {DDNS_REQUEST_TIMEOUT: '1', DDNS_CHECK_RESOLVER: `127.0.0.1:${dns.port}`},
      ),
    )
    await ddns.run()
    const next = await ddns.run()
    expect(next.records[0]).toMatchObject({action: 'sent', result: 'good'})
    expect(provider.requests).toHaveLength(2)
  })

  it('retries a provider it cannot reach within the run, and does not delay the next run', async () => {
    const source = await echo(V4)
    const ddns = runner(
      legacyEnv('http://127.0.0.1:9', {v4: [source.url]}, {DDNS_MAX_RETRIES: '2', DDNS_RETRY_BACKOFF: '2'}),
    )
    const slept: number[] = []
    const report = await ddns.run({sleep: async (ms) => void slept.push(ms), random: () => 0.5})
    expect(report.exitCode).toBe(ExitCode.temporary)
    expect(report.records[0]).toMatchObject({result: 'unreachable', tries: 3, notBefore: null})
    expect(slept).toEqual([2000, 4000])
    // The provider is back: the next run sends at once, no back-off.
    const provider = await dyndns2()
    const next = await ddns.run({}, {DDNS_SERVER: provider.url})
    expect(next.records[0]).toMatchObject({action: 'sent', result: 'good'})
    expect(provider.requests).toHaveLength(1)
  })

  it('caps the in-run wait for an unreachable provider at 5 s', async () => {
    const source = await echo(V4)
    const ddns = runner(
      legacyEnv('http://127.0.0.1:9', {v4: [source.url]}, {DDNS_MAX_RETRIES: '2', DDNS_RETRY_BACKOFF: '3600'}),
    )
    const slept: number[] = []
    await ddns.run({sleep: async (ms) => void slept.push(ms)})
    expect(slept).toEqual([5000, 5000])
  })

  it('gives one answer one exit code on every run: garbage exits 1, and 1 again while deferred', async () => {
    const provider = await dyndns2()
    const source = await echo(V4)
    provider.script.push('garbage')
    const ddns = runner(legacyEnv(provider.url, {v4: [source.url]}))
    const first = await ddns.run()
    expect(first.records[0]).toMatchObject({action: 'sent', result: 'unknown', exitCode: 1})
    expect(first.exitCode).toBe(1)
    const second = await ddns.run()
    expect(second.records[0]).toMatchObject({action: 'deferred', exitCode: 1})
    expect(second.exitCode).toBe(1)
    expect(provider.requests).toHaveLength(1)
  })

  it('fails (exit 1) when the provider reports another address than the one sent', async () => {
    const provider = await dyndns2()
    const source = await echo(V4)
    provider.script.push(`good ${V4_NEW}`)
    const ddns = runner(legacyEnv(provider.url, {v4: [source.url]}))
    const report = await ddns.run()
    expect(report.exitCode).toBe(ExitCode.failure)
    expect(report.records[0]).toMatchObject({result: 'mismatch'})
    expect(report.records[0]!.answer).toContain(`the provider reports ${V4_NEW}, but ${V4} was sent`)
    expect((await ddns.status()).records[0]!.lastIp).toBeNull()
  })

  it('resends an unchanged address once the last accepted update is older than maxAgeDays (default 25)', async () => {
    const provider = await dyndns2()
    const source = await echo(V4)
    const ddns = runner(legacyEnv(provider.url, {v4: [source.url]}))
    await ddns.run()
    const day = 86_400_000
    const at = (days: number) => () => new Date(Date.now() + days * day)
    expect((await ddns.run({now: at(24)})).records[0]).toMatchObject({action: 'skipped', result: 'unchanged'})
    expect(provider.requests).toHaveLength(1)
    const refreshed = await ddns.run({now: at(26)})
    expect(refreshed.records[0]).toMatchObject({action: 'sent', result: 'nochg', exitCode: 0})
    expect(refreshed.records[0]!.message).toMatch(
      /^resent 84\.16\.66\.10: the last accepted update is older than 25 days/,
    )
    expect(provider.requests).toHaveLength(2)
    // The refresh counts as the latest accepted update: 26 days later nothing is due.
    expect((await ddns.run({now: at(27)})).records[0]!.action).toBe('skipped')
    expect(provider.requests).toHaveLength(2)
  })

  it('never refreshes with maxAgeDays 0', async () => {
    const provider = await dyndns2()
    const source = await echo(V4)
    const ddns = runner(legacyEnv(provider.url, {v4: [source.url]}, {DDNS_MAX_AGE_DAYS: '0'}))
    await ddns.run()
    await ddns.run({now: () => new Date(Date.now() + 400 * 86_400_000)})
    expect(provider.requests).toHaveLength(1)
  })

  it('changes nothing on --dry-run', async () => {
    const provider = await dyndns2()
    const source = await echo(V4)
    const ddns = runner(legacyEnv(provider.url, {v4: [source.url]}))
    const report = await ddns.run({dryRun: true})
    expect(report.records[0]).toMatchObject({action: 'dry-run', result: 'would-send', detectedIp: V4})
    expect(provider.requests).toHaveLength(0)
    expect((await ddns.history()).entries).toEqual([])
  })
})

describe('ddns public address detection', () => {
  it('sends nothing and exits 3 when every source fails, and keeps the stored address', async () => {
    const provider = await dyndns2()
    const good = await echo(V4)
    const ddns = runner(legacyEnv(provider.url, {v4: [good.url]}))
    await ddns.run()
    const failing = await echo('fail')
    const hanging = await echo('hang')
    const garbage = await echo('<html>oops</html>')
    const report = await ddns.run(
      {},
      {DDNS_IP_SOURCES_V4: [failing.url, hanging.url, garbage.url].join(','), DDNS_REQUEST_TIMEOUT: '1'},
    )
    expect(report.exitCode).toBe(ExitCode.temporary)
    expect(report.records[0]).toMatchObject({action: 'skipped', result: 'detection-failed', detectedIp: null})
    expect(report.detection[0]!.attempts.map((a) => a.error)).toEqual([
      'HTTP 500',
      'no answer within 1s',
      'answered "<html>oops</html>": not an IPv4 address',
    ])
    expect(provider.requests).toHaveLength(1) // only the first run's update
    expect((await ddns.status()).records[0]!.lastIp).toBe(V4)
  })

  it('fails over to the second source when the first fails', async () => {
    const provider = await dyndns2()
    const broken = await echo('fail')
    const good = await echo(V4)
    const ddns = runner(legacyEnv(provider.url, {v4: [broken.url, good.url]}))
    const report = await ddns.run()
    expect(report.exitCode).toBe(0)
    expect(report.detection[0]).toMatchObject({ip: V4, sources: [good.url.replace(/\/$/, '')]})
    expect(broken.hits).toBe(1)
    expect(good.hits).toBe(1)
    expect(provider.requests).toHaveLength(1)
  })

  it.each(['192.168.1.10', '100.64.3.4', '10.0.0.1', '127.0.0.1'])(
    'rejects the non-public %s from an echo service and uses the next one',
    async (bad) => {
      const provider = await dyndns2()
      const liar = await echo(bad)
      const good = await echo(`json:${V4}`)
      const ddns = runner(legacyEnv(provider.url, {v4: [liar.url, good.url]}))
      const report = await ddns.run()
      expect(report.detection[0]!.attempts[0]!.error).toMatch(new RegExp(`answered "${bad.replace(/\./g, '\\.')}": `))
      expect(provider.requests.map((r) => r.query.myip)).toEqual([V4])
    },
  )

  it.each([
    [
      'checkip.dyndns.org',
      `<html><head><title>Current IP Check</title></head><body>Current IP Address: ${V4}</body></html>`,
    ],
    ['a page with the address twice', `<p>Your IP: <b>${V4}</b></p><p>(${V4})</p>`],
  ])('reads an HTML echo page (%s) holding exactly one public address', async (_label, page) => {
    const provider = await dyndns2()
    const html = await echo(page)
    const report = await runner(legacyEnv(provider.url, {v4: [html.url]})).run()
    expect(report.detection[0]).toMatchObject({ip: V4})
    expect(provider.requests.map((r) => r.query.myip)).toEqual([V4])
  })

  it.each([
    ['two different addresses', `<p>you: ${V4}, proxy: ${V4_NEW}</p>`],
    ['only a private address', '<body>Current IP Address: 192.168.1.2</body>'],
    ['an address of the other family', `<body>Current IP Address: ${V6}</body>`],
  ])('refuses an HTML page with %s', async (_label, page) => {
    const provider = await dyndns2()
    const html = await echo(page)
    const report = await runner(legacyEnv(provider.url, {v4: [html.url]})).run()
    expect(report.exitCode).toBe(3)
    expect(report.records[0]!.result).toBe('detection-failed')
    expect(provider.requests).toHaveLength(0)
  })

  it('rejects a private address even when it is the only answer (exit 3, nothing sent)', async () => {
    const provider = await dyndns2()
    const liar = await echo('192.168.1.10')
    const report = await runner(legacyEnv(provider.url, {v4: [liar.url]})).run()
    expect(report.exitCode).toBe(3)
    expect(report.records[0]!.result).toBe('detection-failed')
    expect(provider.requests).toHaveLength(0)
  })

  it('requires two sources to agree when requireAgreement is 2', async () => {
    const provider = await dyndns2()
    const a = await echo(V4)
    const b = await echo(V4_NEW)
    const c = await echo(V4_NEW)
    const disagree = runner(legacyEnv(provider.url, {v4: [a.url, b.url]}, {DDNS_REQUIRE_AGREEMENT: '2'}))
    const report = await disagree.run()
    expect(report.exitCode).toBe(3)
    expect(report.detection[0]!.error).toMatch(/did not agree/)
    expect(provider.requests).toHaveLength(0)
    const agree = runner(legacyEnv(provider.url, {v4: [a.url, b.url, c.url]}, {DDNS_REQUIRE_AGREEMENT: '2'}))
    expect((await agree.run()).detection[0]).toMatchObject({ip: V4_NEW})
    expect(provider.requests.map((r) => r.query.myip)).toEqual([V4_NEW])
  })

  it('asks DNS: myip.opendns.com (A) and whoami.cloudflare (TXT, CHAOS class)', async () => {
    const provider = await dyndns2()
    const dns = await startDns({'myip.opendns.com': V4, 'whoami.cloudflare': V4})
    cleanups.push(() => dns.close())
    const broken = await echo('fail')
    const ddns = runner(
      legacyEnv(provider.url, {
        v4: [
          broken.url,
          `dns://127.0.0.1:${dns.port}/nothing.example?type=A`,
          `dns://127.0.0.1:${dns.port}/whoami.cloudflare?type=TXT&class=CH`,
        ],
      }),
    )
    const report = await ddns.run()
    expect(report.detection[0]).toMatchObject({ip: V4, sources: [`dns://127.0.0.1:${dns.port}/whoami.cloudflare`]})
    expect(report.detection[0]!.attempts[1]!.error).toBe('DNS answer NXDOMAIN')
    expect(provider.requests).toHaveLength(1)
  })
})

describe('ddns with several records', () => {
  it('lets the most severe outcome win and keeps the others going', async () => {
    const provider = await dyndns2()
    const source = await echo(V4)
    const yaml = `ddns:
  server: ${provider.url}
  ipSources: {v4: ['${source.url}']}
  retryBackoff: 0
  maxRetries: 0
  records:
    - {name: ok, provider: dyndns2, hostname: home.example.org, username: user, password: pass-word-1}
    - {name: unknown-host, provider: dyndns2, hostname: nope.example.org, username: user, password: pass-word-1}
    - {name: broken, provider: dyndns2, hostname: home.example.org, username: user, password: pass-word-1, server: 'http://127.0.0.1:9/'}
`
    const ddns = runner({HOMEOPS_DDNS_REQUEST_TIMEOUT: '2'}, yaml)
    const report = await ddns.run()
    expect(report.records.map((r) => [r.record, r.result, r.exitCode])).toEqual([
      ['ok', 'good', 0],
      ['unknown-host', 'nohost', 4],
      ['broken', 'unreachable', 3],
    ])
    expect(report.exitCode).toBe(4)
    const only = await ddns.run({records: ['ok']})
    expect(only.records.map((r) => r.record)).toEqual(['ok'])
    await expect(ddns.run({records: ['typo']})).rejects.toThrow(/no ddns record named "typo"/)
  })
})

describe('ddns secrets', () => {
  /** Every byte of the state database and its WAL, as latin1 text (a UTF-8 secret is searched by its bytes). */
  function databaseBytes(dbPath: string): string {
    return ['', '-wal', '-shm']
      .map((suffix) => {
        try {
          return readFileSync(dbPath + suffix).toString('latin1')
        } catch {
          return ''
        }
      })
      .join('')
  }

  it.each([
    ['an ASCII password', 'Echo-S3cret-99'],
    ['a non-ASCII password', 'pässwörd-Ünïcode-€'],
  ])('masks %s a provider echoes back before the database, history, --json and logs', async (_label, secret) => {
    const provider = await dyndns2()
    const source = await echo(V4)
    provider.script.push(`badauth ${secret}`, `good ${V4}`)
    const ddns = runner(legacyEnv(provider.url, {v4: [source.url]}, {INFOMANIAK_DDNS_PASSWORD: secret}))
    const refused = await ddns.run()
    expect(refused.records[0]).toMatchObject({result: 'badauth', answer: 'badauth ***'})
    const blocked = await ddns.run()
    const status = await ddns.status()
    const history = await ddns.history()
    expect(history.entries[0]!.answer).toBe('badauth ***')
    expect(status.records[0]!.blocked!.message).toBe('badauth ***')
    const utf8 = Buffer.from(secret, 'utf8').toString('latin1')
    for (const text of [
      databaseBytes(ddns.dbPath),
      JSON.stringify([refused, blocked, status, history]),
      ...ddns.logs,
    ]) {
      expect(text).not.toContain(utf8)
      expect(text).not.toContain(secret)
    }
  })

  it('never writes the password to logs, reports or the database', async () => {
    const provider = await dyndns2()
    const source = await echo(V4)
    const secret = 'S3cr3t-never-shown'
    const ddns = runner(legacyEnv(provider.url, {v4: [source.url]}, {INFOMANIAK_DDNS_PASSWORD: secret}))
    const reports = [await ddns.run(), await ddns.run(), await ddns.run({force: true})]
    const history = await ddns.history()
    const status = await ddns.status()
    const db = ['', '-wal'].map((suffix) => {
      try {
        return readFileSync(ddns.dbPath + suffix).toString('latin1')
      } catch {
        return ''
      }
    })
    const everything = [...ddns.logs, JSON.stringify(reports), JSON.stringify(history), JSON.stringify(status), ...db]
    for (const text of everything) {
      expect(text).not.toContain(secret)
      expect(text).not.toContain(Buffer.from(`user:${secret}`).toString('base64'))
    }
    expect(provider.requests[0]!.password).toBe(secret) // it was used, just never shown
  })
})
