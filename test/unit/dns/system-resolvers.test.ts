import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {systemResolvers} from '../../../src/lib/dns/system-resolvers.js'

const dir = mkdtempSync(join(tmpdir(), 'homeops-resolvconf-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

function resolvConf(text: string): string {
  const file = join(dir, `resolv-${Math.random().toString(36).slice(2)}.conf`)
  writeFileSync(file, text)
  return file
}

describe('system resolvers (resolv.conf)', () => {
  const conf = resolvConf(
    '# generated\nsearch lan\nnameserver 127.0.0.53\nnameserver 192.168.1.1\nnameserver fe80::1%eth0\nnameserver not-an-ip\nnameserver 192.168.1.1\noptions edns0\n',
  )

  it('keeps a loopback resolver on another address than ours (systemd-resolved while we bind 127.0.0.1)', () => {
    const found = systemResolvers({file: conf, bind: '127.0.0.1', port: 53, ipv6: false})
    expect(found.upstreams).toEqual(['127.0.0.53', '192.168.1.1'])
    expect(found.skipped).toEqual([
      {address: 'fe80::1%eth0', reason: 'a scoped link-local address'},
      {address: 'not-an-ip', reason: 'not an IP address'},
    ])
  })

  it('leaves itself out: a wildcard bind on port 53 owns every loopback address', () => {
    const found = systemResolvers({file: conf, bind: '0.0.0.0', port: 53, ipv6: true})
    expect(found.upstreams).toEqual(['192.168.1.1'])
    expect(found.skipped[0]).toEqual({address: '127.0.0.53', reason: 'this server (port 53)'})
  })

  it('keeps every nameserver when we answer on another port (resolv.conf means port 53)', () => {
    expect(systemResolvers({file: conf, bind: '0.0.0.0', port: 5353, ipv6: true}).upstreams).toEqual([
      '127.0.0.53',
      '192.168.1.1',
    ])
  })

  it('skips the exact bind address on port 53', () => {
    const own = resolvConf('nameserver 10.9.8.7\nnameserver 1.1.1.1\n')
    expect(systemResolvers({file: own, bind: '10.9.8.7', port: 53, ipv6: false}).upstreams).toEqual(['1.1.1.1'])
  })

  it('says why it found nothing: a missing file, a FIFO-like path, no nameserver line', () => {
    expect(systemResolvers({file: join(dir, 'missing'), bind: '0.0.0.0', port: 53, ipv6: true}).problem).toMatch(
      /missing: /,
    )
    expect(systemResolvers({file: dir, bind: '0.0.0.0', port: 53, ipv6: true}).problem).toContain(dir)
    const empty = resolvConf('search lan\n')
    expect(systemResolvers({file: empty, bind: '0.0.0.0', port: 53, ipv6: true}).problem).toBe(
      `${empty}: no nameserver line`,
    )
  })

  it('reads a bounded number of nameservers and refuses a huge file', () => {
    const many = resolvConf(Array.from({length: 50}, (_, i) => `nameserver 10.0.0.${i + 1}`).join('\n'))
    expect(systemResolvers({file: many, bind: '127.0.0.1', port: 53, ipv6: false}).upstreams).toHaveLength(8)
    const huge = resolvConf('#'.repeat(200 * 1024))
    expect(systemResolvers({file: huge, bind: '127.0.0.1', port: 53, ipv6: false}).problem).toMatch(/larger than/)
  })
})
