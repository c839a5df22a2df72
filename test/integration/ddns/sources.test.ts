import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, afterEach, describe, expect, it} from 'vitest'

import {runPass} from '../../../src/lib/ddns/updater.js'
import {startDyndns2, startEcho} from './fakes.js'
import {ddnsContext, legacyEnv} from './harness.js'

const V4 = '84.16.66.10'
const dir = mkdtempSync(join(tmpdir(), 'homeops-ddns-sources-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!()
})

function script(name: string, body: string): string {
  const path = join(dir, name)
  writeFileSync(path, `#!/bin/sh\n${body}\n`)
  chmodSync(path, 0o755)
  return path
}

async function run(env: Record<string, string>, yaml?: string) {
  const harness = await ddnsContext({env, yaml})
  try {
    return await runPass(harness.context)
  } finally {
    await harness.context.close()
  }
}

async function provider() {
  const fake = await startDyndns2()
  cleanups.push(() => fake.close())
  return fake
}

describe('command IP source', () => {
  it('uses the address a command prints (told the family it wants)', async () => {
    const fake = await provider()
    const cmd = script('ip.sh', `[ "$HOMEOPS_DDNS_FAMILY" = 4 ] && echo "${V4}"`)
    const report = await run(legacyEnv(fake.url, {v4: [`exec:${cmd}`]}))
    expect(report.detection[0]).toMatchObject({ip: V4, sources: [`exec:${cmd}`]})
    expect(fake.requests.map((r) => r.query.myip)).toEqual([V4])
  })

  it('kills a command that hangs (and what it forked) at the request timeout, then tries the next source', async () => {
    const fake = await provider()
    const echo = await startEcho(V4)
    cleanups.push(() => echo.close())
    const hang = script('hang.sh', 'sleep 30 &\nsleep 30')
    const started = Date.now()
    const report = await run(legacyEnv(fake.url, {v4: [`exec:${hang}`, echo.url]}, {DDNS_REQUEST_TIMEOUT: '1'}))
    expect(Date.now() - started).toBeLessThan(5000)
    expect(report.detection[0]!.attempts[0]!.error).toBe('no output within 1s (killed)')
    expect(report.detection[0]!.ip).toBe(V4)
  })

  it.each([
    ['floods its output', 'yes 84.16.66.10', /more than 4096 bytes of output/],
    ['fails', 'echo 84.16.66.10; exit 3', /exited 3/],
    ['prints a private address', 'echo 192.168.1.2', /private/],
    ['does not exist', null, /cannot run/],
  ])('refuses a command that %s, sending nothing', async (_label, body, error) => {
    const fake = await provider()
    const cmd = body === null ? join(dir, 'missing.sh') : script(`c${Math.random()}.sh`, body)
    const report = await run(legacyEnv(fake.url, {v4: [`exec:${cmd}`]}))
    expect(report.exitCode).toBe(3)
    expect(report.detection[0]!.attempts[0]!.error).toMatch(error)
    expect(fake.requests).toHaveLength(0)
  })
})

describe('network interface IP source', () => {
  it('refuses an interface without a public address (loopback), naming what it holds', async () => {
    const fake = await provider()
    const report = await run(legacyEnv(fake.url, {v4: ['iface://lo']}))
    expect(report.exitCode).toBe(3)
    expect(report.detection[0]!.attempts[0]!.error).toBe('interface lo has no public IPv4 address (127.0.0.1)')
    expect(fake.requests).toHaveLength(0)
  })
})

describe('per-record IP sources', () => {
  it('detects each record from its own sources, still asking each source list once', async () => {
    const fake = await startDyndns2({hosts: ['a.example.org', 'b.example.org', 'c.example.org']})
    cleanups.push(() => fake.close())
    const global = await startEcho(V4)
    const other = await startEcho('84.16.77.20')
    cleanups.push(
      () => global.close(),
      () => other.close(),
    )
    const yaml = `ddns:
  server: ${fake.url}
  ipSources: {v4: ['${global.url}']}
  records:
    - {name: a, provider: dyndns2, hostname: a.example.org, username: user, password: pass-word-1}
    - {name: b, provider: dyndns2, hostname: b.example.org, username: user, password: pass-word-1, ipSources: {v4: ['${other.url}']}}
    - {name: c, provider: dyndns2, hostname: c.example.org, username: user, password: pass-word-1, ipSources: {v4: ['${other.url}']}}
`
    const report = await run({}, yaml)
    expect(report.records.map((r) => [r.record, r.detectedIp, r.result])).toEqual([
      ['a', V4, 'good'],
      ['b', '84.16.77.20', 'good'],
      ['c', '84.16.77.20', 'good'],
    ])
    expect([global.hits, other.hits]).toEqual([1, 1])
  })

  it('names the record and index of a bad per-record source (exit 2 before anything runs)', async () => {
    const yaml = `ddns:
  records:
    - {name: a, provider: dyndns2, server: 'http://127.0.0.1:9', hostname: a.example.org, username: u, password: p, ipSources: {v4: ['ftp://x']}}
`
    await expect(run({}, yaml)).rejects.toThrow(
      /ddns\.records\[0\]\.ipSources\.v4\[0\]: IP source "ftp:\/\/x" is invalid/,
    )
  })
})
