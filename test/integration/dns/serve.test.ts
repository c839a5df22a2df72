import dgram from 'node:dgram'
import net from 'node:net'
import {appendFileSync, mkdirSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type RunningDns, dig, makeContext, startDns, tempDir, within} from './harness.js'

// Every answer is checked on both UDP paths: the native answerer (the default) and the full path (dns2).
describe.each(['native', 'public'] as const)('UDP answered on the %s path', (udpPath) => {
  let dns: RunningDns
  let hostsDir: string

  beforeAll(async () => {
    const dir = tempDir('serve')
    hostsDir = join(dir, 'hosts')
    mkdirSync(hostsDir)
    writeFileSync(join(hostsDir, 'lan'), '10.0.0.5 nas.home.lan nas2.home.lan # storage\nfd00::5 nas.home.lan\n')
    writeFileSync(join(hostsDir, '.hidden'), '10.0.0.99 hidden.home.lan\n')
    const many = Array.from({length: 300}, (_, i) => `10.0.1.${i % 250} big.home.lan`)
    writeFileSync(
      join(hostsDir, 'big'),
      many.map((l, i) => l.replace(/10\.0\.1\.\d+/, `10.1.${i >> 8}.${i & 255}`)).join('\n'),
    )
    const context = await makeContext({
      port: 0,
      bind: '127.0.0.1',
      docker: false,
      hostIp: '192.168.50.10',
      hostsDirectory: hostsDir,
      zones: ['home.lan'],
      native: udpPath === 'native',
      records: {
        'app.home.lan': '10.0.0.7',
        'www.home.lan': 'app.home.lan',
        '*.apps.home.lan': '10.0.0.8',
        'v6only.home.lan': 'fd00::6',
      },
    })
    dns = await startDns(context)
    // The path asked for, not a silent fallback.
    expect(dns.mode.service()?.server?.udpPath).toBe(udpPath)
  }, 60_000)

  afterAll(async () => {
    await dns?.stop()
  })

  describe.each(['+notcp', '+tcp'])('dig %s', (transport) => {
    it('answers A and AAAA with the AA bit, case-insensitively, echoing the question case', async () => {
      const a = await dig(dns.port, [transport, 'NaS.Home.LAN', 'A'])
      expect(a.status).toBe('NOERROR')
      expect(a.flags).toContain('aa')
      expect(a.answers).toEqual([['NaS.Home.LAN.', '60', 'IN', 'A', '10.0.0.5']])
      const aaaa = await dig(dns.port, [transport, 'nas.home.lan', 'AAAA'])
      expect(aaaa.answers.map((r) => r[4])).toEqual(['fd00::5'])
    })

    it('answers PTR generated from A and AAAA records', async () => {
      const v4 = await dig(dns.port, [transport, '-x', '10.0.0.5'])
      expect(v4.answers.map((r) => r[4]).sort()).toEqual(['nas.home.lan.', 'nas2.home.lan.'])
      const v6 = await dig(dns.port, [transport, '-x', 'fd00::5'])
      expect(v6.answers.map((r) => r[4])).toEqual(['nas.home.lan.'])
    })

    it('answers CNAME for aliases, followed to the target', async () => {
      const www = await dig(dns.port, [transport, 'www.home.lan', 'A'])
      expect(www.answers.map((r) => [r[3], r[4]])).toEqual([
        ['CNAME', 'app.home.lan.'],
        ['A', '10.0.0.7'],
      ])
    })

    it('answers wildcards, SOA at the apex, NXDOMAIN and NODATA with the SOA in authority', async () => {
      const wild = await dig(dns.port, [transport, 'anything.apps.home.lan'])
      expect(wild.answers).toEqual([['anything.apps.home.lan.', '60', 'IN', 'A', '10.0.0.8']])
      const soa = await dig(dns.port, [transport, 'home.lan', 'SOA'])
      expect(soa.answers[0]?.slice(3, 5)).toEqual(['SOA', 'ns.home.lan.'])
      const nx = await dig(dns.port, [transport, 'missing.home.lan'])
      expect(nx.status).toBe('NXDOMAIN')
      expect(nx.flags).toContain('aa')
      expect(nx.authority[0]?.slice(0, 4)).toEqual(['home.lan.', '60', 'IN', 'SOA'])
      const nodata = await dig(dns.port, [transport, 'v6only.home.lan', 'A'])
      expect(nodata.status).toBe('NOERROR')
      expect(nodata.answers).toEqual([])
      expect(nodata.authority[0]?.[3]).toBe('SOA')
      const mx = await dig(dns.port, [transport, 'nas.home.lan', 'MX'])
      expect(mx).toMatchObject({status: 'NOERROR', answers: []})
    })

    it('answers ANY minimally (one RRset, RFC 8482) and refuses names outside without upstreams', async () => {
      const any = await dig(dns.port, [transport, 'nas.home.lan', 'ANY'])
      expect(any.answers.map((r) => r[3])).toEqual(['A'])
      const out = await dig(dns.port, [transport, 'www.example.com'])
      expect(out.status).toBe('REFUSED')
    })
  })

  describe('IPv6', () => {
    it('answers on ::1 next to 127.0.0.1, over UDP and TCP', async () => {
      for (const transport of ['+notcp', '+tcp']) {
        const result = await dig(dns.port, [transport, 'nas.home.lan', 'AAAA'], '::1')
        expect(result.answers.map((r) => r[4])).toEqual(['fd00::5'])
      }
    })
  })

  describe('EDNS0 and truncation', () => {
    it('echoes OPT with our UDP size (1232) and answers without OPT when the query has none', async () => {
      const withEdns = await dig(dns.port, ['+bufsize=4096', 'nas.home.lan'])
      expect(withEdns.udpSize).toBe(1232)
      const plain = await dig(dns.port, ['+noedns', 'nas.home.lan'])
      expect(plain.text).not.toContain('OPT PSEUDOSECTION')
      expect(plain.answers).toHaveLength(1)
    })

    it('sets TC over UDP for a large answer with the records that fit, and TCP gives all of it', async () => {
      const udp = await dig(dns.port, ['+notcp', '+ignore', '+noedns', 'big.home.lan'])
      expect(udp.flags).toContain('tc')
      // 512 bytes: header 12, question 18, then 30 A records of 16 bytes.
      expect(udp.answers).toHaveLength(30)
      const tcp = await dig(dns.port, ['+tcp', 'big.home.lan'])
      expect(tcp.answers).toHaveLength(300)
      // dig retries over TCP by itself when it sees TC.
      const auto = await dig(dns.port, ['big.home.lan'])
      expect(auto.answers).toHaveLength(300)
    })

    it('survives a query asking for a 65 535-byte EDNS buffer with a large answer set', async () => {
      const huge = await dig(dns.port, ['+notcp', '+ignore', '+bufsize=65535', 'big.home.lan'])
      expect(huge.flags).toContain('tc') // capped at 1232, so truncated
      const again = await dig(dns.port, ['nas.home.lan'])
      expect(again.status).toBe('NOERROR')
    })
  })

  describe('hosts files', () => {
    it('ignores files starting with a dot', async () => {
      const hidden = await dig(dns.port, ['hidden.home.lan'])
      expect(hidden.status).toBe('NXDOMAIN')
    })

    it('picks up an added line, a new file and a removed file within a second', async () => {
      appendFileSync(join(hostsDir, 'lan'), '10.0.0.20 added.home.lan\n')
      await within(1000, 'added line', async () =>
        (await dig(dns.port, ['+short', 'added.home.lan'])).text.includes('10.0.0.20'),
      )
      // Editors save by writing a temporary file and renaming it over.
      writeFileSync(join(hostsDir, '.lab.swp'), '10.0.0.21 lab.home.lan\n')
      renameSync(join(hostsDir, '.lab.swp'), join(hostsDir, 'lab'))
      await within(1000, 'new file', async () =>
        (await dig(dns.port, ['+short', 'lab.home.lan'])).text.includes('10.0.0.21'),
      )
      rmSync(join(hostsDir, 'lab'))
      await within(1000, 'removed file', async () => (await dig(dns.port, ['lab.home.lan'])).status === 'NXDOMAIN')
    })
  })

  describe('HTTP routes', () => {
    it('serves /records (/dns/records in homeops serve), /health and /status in the original tool’s shapes', async () => {
      const call = async (path: string) => {
        const match = dns.router.match('GET', path)
        if (match.kind !== 'found') throw new Error(`no route ${path}`)
        return match.route.handler({params: match.params} as never)
      }
      const records = (await call('/records')).json as {
        status: string
        total_records: number
        records: {hostname: string; ip_address: string; ttl: number}[]
      }
      expect(records.status).toBe('success')
      expect(records.total_records).toBe(records.records.length)
      expect(records.records).toContainEqual(
        expect.objectContaining({hostname: 'app.home.lan', ip_address: '10.0.0.7', ttl: 60, source: 'static:config'}),
      )
      expect((await call('/health')).json).toMatchObject({status: 'healthy', service: 'homeops dns'})
      expect((await call('/status')).json).toMatchObject({
        status: 'running',
        dns_server: {port: dns.port, running: true},
        hosts_monitor: {enabled: true},
      })
    })

    it('exposes homeops_dns_queries_total and the answer-time histogram', () => {
      const text = dns.metrics.render()
      expect(text).toMatch(/homeops_dns_queries_total\{type="A",rcode="NOERROR"\} \d+/)
      expect(text).toMatch(/homeops_dns_queries_total\{type="A",rcode="NXDOMAIN"\} \d+/)
      expect(text).toMatch(/homeops_dns_answer_seconds_bucket\{le="\+Inf"\} \d+/)
      expect(text).toContain('# TYPE homeops_dns_answer_seconds histogram')
    })
  })

  describe('malformed packets', () => {
    function udpExchange(payload: Buffer, timeoutMs = 500): Promise<Buffer | undefined> {
      return new Promise((resolve) => {
        const socket = dgram.createSocket('udp4')
        const timer = setTimeout(() => {
          socket.close()
          resolve(undefined)
        }, timeoutMs)
        socket.on('message', (msg) => {
          clearTimeout(timer)
          socket.close()
          resolve(msg)
        })
        socket.send(payload, dns.port, '127.0.0.1')
      })
    }
    const header = (id: number, qd = 1) => {
      const h = Buffer.alloc(12)
      h.writeUInt16BE(id, 0)
      h[2] = 0x01
      h.writeUInt16BE(qd, 4)
      return h
    }

    it('answers FORMERR to truncated, looping and trailing-garbage packets, drops junk, and keeps answering', async () => {
      const truncated = Buffer.concat([header(1), Buffer.from([3, 0x6e, 0x61])])
      const loop = Buffer.concat([header(2), Buffer.from([0xc0, 12, 0, 1, 0, 1])])
      const forward = Buffer.concat([header(3), Buffer.from([0xc0, 40, 0, 1, 0, 1])])
      const trailing = Buffer.concat([header(4), Buffer.from([1, 0x61, 0, 0, 1, 0, 1, 9, 9, 9])])
      const badCounts = Buffer.concat([header(5, 3), Buffer.from([1, 0x61, 0, 0, 1, 0, 1])])
      // A name that runs to the very end of a packet long enough for the hot path (it used to hang the server).
      const cutName = Buffer.concat([header(10), Buffer.from([4, 0x61, 0x62, 0x63, 0x64])])
      for (const [packet, id] of [
        [truncated, 1],
        [loop, 2],
        [forward, 3],
        [trailing, 4],
        [badCounts, 5],
        [cutName, 10],
      ] as const) {
        const answer = await udpExchange(packet)
        expect(answer, `packet ${id}`).toBeDefined()
        expect(answer!.readUInt16BE(0)).toBe(id)
        expect(answer![3]! & 0x0f).toBe(1) // FORMERR
      }
      // Too short to carry an ID, a response, an oversized datagram: no answer.
      expect(await udpExchange(Buffer.from([1, 2, 3]))).toBeUndefined()
      const response = Buffer.concat([header(6), Buffer.from([1, 0x61, 0, 0, 1, 0, 1])])
      response[2] = 0x81
      expect(await udpExchange(response)).toBeUndefined()
      const oversized = Buffer.concat([header(7), Buffer.alloc(60_000, 0x3f)])
      const big = await udpExchange(oversized)
      expect(big === undefined || (big[3]! & 0x0f) === 1).toBe(true)
      // Random bytes, many of them.
      for (let i = 0; i < 300; i++) {
        const junk = Buffer.alloc(12 + Math.floor(Math.random() * 200))
        for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(Math.random() * 256)
        junk[2] = junk[2]! & 0x7f
        const sender = dgram.createSocket('udp4')
        sender.send(junk, dns.port, '127.0.0.1', () => sender.close())
      }
      expect((await dig(dns.port, ['nas.home.lan'])).status).toBe('NOERROR')
    })

    it('keeps answering through 20 000 mutations of a query it answers from the hot path', async () => {
      // dig's own query for nas.home.lan with EDNS: the packet the hot path parses most.
      const valid = Buffer.concat([
        header(0x4242),
        Buffer.from([3, 0x6e, 0x61, 0x73, 4, 0x68, 0x6f, 0x6d, 0x65, 3, 0x6c, 0x61, 0x6e, 0, 0, 1, 0, 1]),
        Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]),
      ])
      valid[11] = 1
      expect((await udpExchange(valid))?.readUInt16BE(6)).toBe(1) // one answer: it is a hot-path hit
      let seed = 7
      const random = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n
      const sender = dgram.createSocket('udp4')
      for (let i = 0; i < 20_000; i++) {
        const packet = Buffer.from(valid.subarray(0, random(valid.length + 1)))
        for (let m = random(4); m >= 0; m--) if (packet.length > 0) packet[random(packet.length)] = random(256)
        if (packet.length > 2) packet[2] = packet[2]! & 0x7f // queries only: responses are dropped anyway
        sender.send(packet, dns.port, '127.0.0.1')
        if (i % 500 === 0) await new Promise((r) => setImmediate(r))
      }
      await new Promise((r) => setTimeout(r, 200))
      sender.close()
      expect((await dig(dns.port, ['nas.home.lan'])).answers[0]?.[4]).toBe('10.0.0.5')
      expect((await dig(dns.port, ['+tcp', 'app.home.lan'])).answers[0]?.[4]).toBe('10.0.0.7')
    })

    it('survives a TCP client sending a bad frame and one closing mid-message', async () => {
      await new Promise<void>((resolve) => {
        const socket = net.connect(dns.port, '127.0.0.1', () => {
          socket.write(Buffer.from([0, 40, 1, 2, 3]))
          socket.end()
        })
        socket.on('close', () => resolve())
        socket.on('error', () => resolve())
      })
      const answer = await new Promise<Buffer>((resolve, reject) => {
        const socket = net.connect(dns.port, '127.0.0.1', () => {
          socket.write(Buffer.concat([Buffer.from([0, 16]), header(9), Buffer.from([0xc0, 12, 0, 1])]))
        })
        socket.on('data', (d) => {
          socket.destroy()
          resolve(d)
        })
        socket.on('error', reject)
      })
      expect(answer.readUInt16BE(2)).toBe(9)
      expect(answer[5]! & 0x0f).toBe(1)
      expect((await dig(dns.port, ['+tcp', 'nas.home.lan'])).status).toBe('NOERROR')
    })
  })
})
