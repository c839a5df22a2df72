import {type ChildProcess, spawn} from 'node:child_process'
import {chmodSync, mkdirSync, writeFileSync} from 'node:fs'
import dgram from 'node:dgram'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type RunningDns, dig, makeContext, startDns, tempDir, within} from './harness.js'

let upstream: ChildProcess | undefined
let upstreamPort: number
let dns: RunningDns

async function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4')
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port
      s.close(() => resolve(port))
    })
  })
}

function stopUpstream(): Promise<void> {
  const child = upstream
  upstream = undefined
  if (!child || child.exitCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

beforeAll(async () => {
  const dir = tempDir('forward')
  chmodSync(dir, 0o755) // dnsmasq reads the file as nobody
  mkdirSync(join(dir, 'h'), {mode: 0o755})
  const hosts = join(dir, 'h', 'upstream-hosts')
  const many = Array.from({length: 120}, (_, i) => `10.30.${i >> 8}.${i & 255} many.upstream.test`)
  writeFileSync(hosts, ['10.20.30.40 ext.upstream.test', ...many].join('\n') + '\n', {mode: 0o644})
  upstreamPort = await freeUdpPort()
  upstream = spawn(
    '/usr/sbin/dnsmasq',
    [
      '--keep-in-foreground',
      '--no-resolv',
      '--no-hosts',
      `--port=${upstreamPort}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      `--addn-hosts=${hosts}`,
      '--local-ttl=300',
      '--local=/upstream.test/',
      `--pid-file=${join(dir, 'dnsmasq.pid')}`,
    ],
    {stdio: 'ignore'},
  )
  await within(5000, 'dnsmasq answering', async () =>
    (await dig(upstreamPort, ['+short', 'ext.upstream.test']).catch(() => ({text: ''}))).text.includes('10.20.30.40'),
  )
  const context = await makeContext({
    port: 0,
    bind: '127.0.0.1',
    docker: false,
    zones: ['home.lan'],
    records: {'own.home.lan': '10.0.0.1'},
    upstreams: [`127.0.0.1:${upstreamPort}`],
    upstreamTimeoutMs: 700,
  })
  dns = await startDns(context)
}, 60_000)

afterAll(async () => {
  await dns?.stop()
  await stopUpstream()
})

describe('forwarding to an upstream (dnsmasq)', () => {
  it('forwards names outside our zones, with RA and without AA, and keeps answering our own', async () => {
    const ext = await dig(dns.port, ['EXT.upstream.test'])
    expect(ext.status).toBe('NOERROR')
    expect(ext.flags).toContain('ra')
    expect(ext.flags).not.toContain('aa')
    expect(ext.answers).toEqual([['EXT.upstream.test.', '300', 'IN', 'A', '10.20.30.40']])
    const own = await dig(dns.port, ['own.home.lan'])
    expect(own.flags).toContain('aa')
    const missing = await dig(dns.port, ['missing.upstream.test'])
    expect(missing.status).toBe('NXDOMAIN')
  })

  it('falls back to TCP when the upstream truncates, and truncates for a UDP client in turn', async () => {
    const forwarder = dns.mode.service()!.forwarder!
    const before = forwarder.stats.tcpFallbacks
    const tcp = await dig(dns.port, ['+tcp', 'many.upstream.test'])
    expect(tcp.answers).toHaveLength(120)
    expect(forwarder.stats.tcpFallbacks).toBe(before + 1)
    const udp = await dig(dns.port, ['+notcp', '+ignore', 'many.upstream.test'])
    expect(udp.flags).toContain('tc')
  })

  it('answers from the cache, with TTLs counting down, when the upstream is gone', async () => {
    const forwarder = dns.mode.service()!.forwarder!
    await dig(dns.port, ['ext.upstream.test'])
    await stopUpstream()
    await new Promise((r) => setTimeout(r, 1100))
    // Cache hits are answered by the native answerer (UDP) or the full path: count both.
    const server = dns.mode.service()!.server!
    const hitCount = () => forwarder.stats.cacheHits + server.stats.nativeCacheHits
    const hits = hitCount()
    const cached = await dig(dns.port, ['ext.upstream.test'])
    expect(cached.answers[0]?.[4]).toBe('10.20.30.40')
    expect(Number(cached.answers[0]?.[1])).toBeLessThan(300)
    expect(hitCount()).toBe(hits + 1)
    // Not cached and no upstream: SERVFAIL, after the timeout, not a hang.
    const started = Date.now()
    const fail = await dig(dns.port, ['+time=5', 'other.upstream.test'])
    expect(fail.status).toBe('SERVFAIL')
    expect(Date.now() - started).toBeLessThan(3000)
  })
})
