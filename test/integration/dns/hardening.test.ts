import {spawn} from 'node:child_process'
import {
  appendFileSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import dgram from 'node:dgram'
import net from 'node:net'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {
  type RunningDns,
  answersPromptly,
  capturingLogger,
  dig,
  header,
  makeContext,
  queryPacket,
  startDns,
  tcpAsk,
  tempDir,
  udpAsk,
  within,
} from './harness.js'
import {HostileUpstream} from './hostile-upstream.js'

const APP = ['app', 'home', 'lan']
const created: string[] = []
/** A temp directory removed after the file's tests. */
function dir(prefix: string): string {
  const path = tempDir(prefix)
  created.push(path)
  return path
}
afterAll(() => {
  for (const path of created) rmSync(path, {recursive: true, force: true})
})
const A = 1
const AAAA = 28

/** Hosts files with the inputs that used to break the server. */
function writeHostileHosts(dir: string): void {
  // 5 000 blocklist lines on one sink address (its PTR used to exceed 64 KiB and kill the process).
  writeFileSync(
    join(dir, 'sink'),
    Array.from({length: 5000}, (_, i) => `0.0.0.0 ad${i}.sink.test`).join('\n') + '\n:: ad1.sink.test\n',
  )
  // One name with 4 500 addresses.
  writeFileSync(
    join(dir, 'wide'),
    Array.from({length: 4500}, (_, i) => `10.${40 + (i >> 16)}.${(i >> 8) & 255}.${i & 255} wide.home.lan`).join('\n'),
  )
  writeFileSync(join(dir, 'block'), '0.0.0.0 doubleclick.net\n')
}

describe.each(['native', 'public'] as const)('big answers, blocklists and exact answers on the %s path', (udpPath) => {
  let dns: RunningDns
  let upstream: HostileUpstream

  beforeAll(async () => {
    upstream = new HostileUpstream()
    await upstream.start()
    const hosts = join(dir('big'), 'hosts')
    mkdirSync(hosts)
    writeHostileHosts(hosts)
    const context = await makeContext({
      port: 0,
      bind: '127.0.0.1',
      ipv6: false,
      docker: false,
      hostsDirectory: hosts,
      native: udpPath === 'native',
      upstreams: [`127.0.0.1:${upstream.port}`],
      records: {'app.home.lan': '10.0.0.7'},
    })
    dns = await startDns(context)
    expect(dns.mode.service()?.server?.udpPath).toBe(udpPath)
    // The pre-encoded answers are filled in the background: wait until the wide name is served.
    await within(10_000, 'wide.home.lan served', async () => {
      const answer = await tcpAsk(dns.port, queryPacket(['wide', 'home', 'lan'], A))
      return Boolean(answer && header(answer).an > 0)
    })
  }, 60_000)

  afterAll(async () => {
    await dns?.stop()
    await upstream?.stop()
  })

  it('answers the 4 500-address name with what fits and TC over UDP, the largest answer under 64 KiB over TCP', async () => {
    const plain = (await udpAsk(dns.port, queryPacket(['wide', 'home', 'lan'], A)))!
    expect(header(plain)).toMatchObject({rcode: 0, tc: true, an: 30}) // (512 - 12 - 19) / 16
    const edns = (await udpAsk(dns.port, queryPacket(['wide', 'home', 'lan'], A, {edns: true})))!
    expect(edns.length).toBeLessThanOrEqual(1232)
    expect(header(edns)).toMatchObject({rcode: 0, tc: true, an: 74}) // (1232 - 11 - 31) / 16
    const tcp = (await tcpAsk(dns.port, queryPacket(['wide', 'home', 'lan'], A)))!
    expect(header(tcp).rcode).toBe(0)
    expect(tcp.length).toBeLessThanOrEqual(65535)
    expect(tcp.length + 16).toBeGreaterThan(65535 - 11) // no further record would fit
    expect(header(tcp).an).toBe(Math.floor((65535 - 11 - 31) / 16))
    const viaDig = await dig(dns.port, ['+tcp', 'wide.home.lan'])
    expect(viaDig.status).toBe('NOERROR')
    expect(viaDig.answers.length).toBeGreaterThan(4000)
    // Its addresses still have their PTR.
    expect((await dig(dns.port, ['+short', '-x', '10.40.0.7'])).text.trim()).toBe('wide.home.lan.')
  })

  it('answers the 5 000-name sink over UDP and TCP, and gives no PTR for the sink address', async () => {
    for (const transport of ['+notcp', '+tcp']) {
      const a = await dig(dns.port, [transport, 'ad4321.sink.test'])
      expect(a.status).toBe('NOERROR')
      expect(a.flags).toContain('aa')
      expect(a.answers.map((r) => r[4])).toEqual(['0.0.0.0'])
      const aaaa = await dig(dns.port, [transport, 'AAAA', 'AD1.sink.test'])
      expect(aaaa.answers.map((r) => r[4])).toEqual(['::'])
      // A name without a `::` line: NODATA, not an empty answer pretending to be one.
      const nodata = await dig(dns.port, [transport, 'AAAA', 'ad2.sink.test'])
      expect(nodata.status).toBe('NOERROR')
      expect(nodata.answers).toEqual([])
      expect(nodata.authority[0]?.[3]).toBe('SOA')
      // 0.0.0.0 is not ours to name: forwarded (the upstream has nothing), no AA, no 5 000 PTRs.
      const ptr = await dig(dns.port, [transport, '-x', '0.0.0.0'])
      expect(ptr.answers).toEqual([])
      expect(ptr.flags).not.toContain('aa')
    }
  })

  it('is never authoritative above a registrable domain, nor for a hosts name’s parent or children', async () => {
    const blocked = await dig(dns.port, ['doubleclick.net'])
    expect(blocked.answers.map((r) => r[4])).toEqual(['0.0.0.0'])
    for (const name of ['www.example.net', 'sub.doubleclick.net', 'other.sink.test', 'nothing.test']) {
      const forwarded = await dig(dns.port, [name])
      expect(forwarded.status, name).toBe('NOERROR')
      expect(forwarded.flags, name).not.toContain('aa')
      expect(
        forwarded.answers.map((r) => r[4]),
        name,
      ).toEqual(['9.9.9.9'])
    }
    // Label names still make their parent a zone (below the registrable domain): NXDOMAIN there.
    expect((await dig(dns.port, ['missing.home.lan'])).status).toBe('NXDOMAIN')
  })

  it('answers a CNAME loop SERVFAIL, a label holding a dot FORMERR, and AXFR/IXFR REFUSED, over UDP and TCP', async () => {
    const service = dns.mode.service()!
    service.store.set('docker', 'loop', [
      {name: 'l1.home.lan', type: 'CNAME', value: 'l2.home.lan'},
      {name: 'l2.home.lan', type: 'CNAME', value: 'l1.home.lan'},
    ])
    service.store.flush()
    const dotted = queryPacket(['nas.home', 'lan'], A)
    for (const ask of [(p: Buffer) => udpAsk(dns.port, p), (p: Buffer) => tcpAsk(dns.port, p)]) {
      const loop = (await ask(queryPacket(['l1', 'home', 'lan'], A)))!
      expect(header(loop)).toMatchObject({rcode: 2, an: 0})
      expect(header((await ask(dotted))!).rcode).toBe(1)
      expect(header((await ask(queryPacket(['home', 'lan'], 252)))!).rcode).toBe(5)
      expect(header((await ask(queryPacket(['home', 'lan'], 251)))!).rcode).toBe(5)
    }
    expect(upstream.asked.has('nas.home.lan')).toBe(false)
  })
})

describe('forwarding through a hostile upstream', () => {
  let dns: RunningDns
  let upstream: HostileUpstream

  beforeAll(async () => {
    upstream = new HostileUpstream()
    await upstream.start()
    const context = await makeContext({
      port: 0,
      bind: '127.0.0.1',
      ipv6: false,
      docker: false,
      upstreams: [`127.0.0.1:${upstream.port}`],
      upstreamTimeoutMs: 1500,
      forwardMax: 5,
      cacheBytes: 20_000,
      records: {'app.home.lan': '10.0.0.7'},
    })
    dns = await startDns(context)
  }, 60_000)

  afterAll(async () => {
    await dns?.stop()
    await upstream?.stop()
  })

  it('passes on only the records answering the question, with TTL 0xFFFFFFFF not trusted, and no trailing bytes', async () => {
    const answer = await dig(dns.port, ['ttl.hostile.test'])
    expect(answer.status).toBe('NOERROR')
    expect(answer.answers).toEqual([['ttl.hostile.test.', '0', 'IN', 'A', '1.2.3.4']]) // RFC 2181 §8: top bit set → 0
    expect(answer.text).not.toContain('evil')
    expect(answer.text).not.toContain('7.7.7.7')
    expect(answer.text).not.toMatch(/malformed|extra bytes|trailing/i)
    const raw = (await udpAsk(dns.port, queryPacket(['ttl', 'hostile', 'test'], A)))!
    expect(raw.length).toBe(12 + 22 + 16) // header, question, one A record
    const chain = await dig(dns.port, ['chain.hostile.test'])
    expect(chain.answers.map((r) => [r[0], r[3], r[4]])).toEqual([
      ['chain.hostile.test.', 'CNAME', 'target.hostile.test.'],
      ['target.hostile.test.', 'A', '5.5.5.5'],
    ])
    const negative = await dig(dns.port, ['neg.hostile.test'])
    expect(negative.status).toBe('NXDOMAIN')
    expect(Number(negative.authority[0]?.[1])).toBeLessThanOrEqual(30) // RFC 2308: min(SOA TTL, MINIMUM)
  })

  it('answers cache hits on the native path, TTLs counting down, and shares one upstream query per question', async () => {
    const server = dns.mode.service()!.server!
    const forwarder = dns.mode.service()!.forwarder!
    const first = await dig(dns.port, ['cached.hostile.test'])
    expect(first.answers[0]?.[4]).toBe('9.9.9.9')
    await new Promise((r) => setTimeout(r, 1100))
    const nativeBefore = server.stats.nativeCacheHits
    const again = await dig(dns.port, ['CACHED.hostile.test'])
    expect(again.answers[0]?.[0]).toBe('CACHED.hostile.test.')
    expect(Number(again.answers[0]?.[1])).toBeLessThan(300)
    expect(server.stats.nativeCacheHits).toBe(nativeBefore + 1)
    expect(upstream.asked.get('cached.hostile.test')).toBe(1)
    // Ten identical questions at once: one upstream query.
    await Promise.all(Array.from({length: 10}, () => udpAsk(dns.port, queryPacket(['shared', 'hostile', 'test'], A))))
    expect(upstream.asked.get('shared.hostile.test')).toBe(1)
    expect(forwarder.stats.inflight).toBe(0)
  })

  it('answers SERVFAIL beyond forwardMax questions in flight, with bounded sockets, and keeps answering', async () => {
    const fds = () => readdirSync('/proc/self/fd').length
    const before = fds()
    let peak = before
    const sampler = setInterval(() => (peak = Math.max(peak, fds())), 20)
    const started = performance.now()
    // One client socket for all 40 questions, so the descriptors counted are the server's.
    const client = dgram.createSocket('udp4')
    const answers: (Buffer | undefined)[] = Array.from({length: 40}, () => undefined)
    client.on('message', (msg) => (answers[msg.readUInt16BE(0)] = msg))
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve))
    for (let i = 0; i < 40; i++)
      client.send(queryPacket([`silent${i}`, 'hostile', 'test'], A, {id: i}), dns.port, '127.0.0.1')
    await within(3000, 'every question answered', async () => answers.every(Boolean))
    client.close()
    clearInterval(sampler)
    const servfail = answers.filter((a) => a && header(a).rcode === 2)
    expect(servfail).toHaveLength(40) // 35 at once (over the limit), 5 after the upstream timeout
    expect(performance.now() - started).toBeLessThan(2900)
    expect(peak - before).toBeLessThanOrEqual(5 + 5) // one socket per forwarded question (and a few of the test's own)
    const text = dns.metrics.render()
    expect(text).toMatch(/homeops_dns_forward_refused_total\{reason="forward_max"\} 35/)
    await answersPromptly(dns.port, APP)
  })

  it('keeps the forward cache within its byte bound', async () => {
    for (let i = 0; i < 60; i++) await udpAsk(dns.port, queryPacket([`txt${i}`, 'hostile', 'test'], 16, {edns: true}))
    const stats = dns.mode.service()!.forwarder!.stats
    expect(stats.cacheBytes).toBeGreaterThan(10_000)
    expect(stats.cacheBytes).toBeLessThanOrEqual(20_000)
    expect(dns.metrics.render()).toMatch(new RegExp(`homeops_dns_cache_bytes ${stats.cacheBytes}\\b`))
    await answersPromptly(dns.port, APP)
  })
})

describe('TCP bounds', () => {
  let dns: RunningDns

  beforeAll(async () => {
    const hosts = join(dir('tcp'), 'hosts')
    mkdirSync(hosts)
    writeHostileHosts(hosts)
    const context = await makeContext({
      port: 0,
      bind: '127.0.0.1',
      ipv6: false,
      docker: false,
      hostsDirectory: hosts,
      records: {'app.home.lan': '10.0.0.7'},
      tcpMaxPerSource: 8,
      tcpMessageTimeoutMs: 1000,
      tcpIdleMs: 3000,
    })
    dns = await startDns(context)
  }, 60_000)

  afterAll(async () => {
    await dns?.stop()
  })

  it('stops reading a client that pipelines 64 KiB answers and never reads, without growing', async () => {
    const rss = process.memoryUsage().rss
    const socket = net.connect({host: '127.0.0.1', port: dns.port})
    socket.pause() // never read
    await new Promise((r) => socket.once('connect', r))
    const query = queryPacket(['wide', 'home', 'lan'], A)
    const framed = Buffer.alloc(query.length + 2)
    framed.writeUInt16BE(query.length, 0)
    query.copy(framed, 2)
    const burst = Buffer.concat(Array.from({length: 2000}, () => framed)) // 2 000 × 64 KiB = 128 MiB of answers
    for (let i = 0; i < 5; i++) socket.write(burst)
    await new Promise((r) => setTimeout(r, 1500))
    expect(process.memoryUsage().rss - rss).toBeLessThan(100 * 1024 * 1024)
    await answersPromptly(dns.port, APP)
    socket.destroy()
  })

  it('closes connections trickling bytes at the message deadline, caps them per source, and serves others', async () => {
    const closed: number[] = []
    const sockets = Array.from({length: 40}, (_, i) => {
      const s = net.connect({host: '127.0.0.1', port: dns.port}, () => s.write(Buffer.from([0, 64])))
      s.on('error', () => undefined)
      s.on('close', () => closed.push(i))
      return s
    })
    const trickle = setInterval(() => {
      for (const s of sockets) if (!s.destroyed) s.write(Buffer.from([0x61])) // a 64-byte message, one byte at a time
    }, 300)
    try {
      await new Promise((r) => setTimeout(r, 300))
      expect(dns.mode.service()!.server!.tcpConnections).toBeLessThanOrEqual(8)
      // Another client (127.0.0.2) is answered at once, over UDP and TCP.
      await answersPromptly(dns.port, APP, 100, '127.0.0.2')
      await within(3000, 'every trickling connection closed', async () => closed.length === 40)
      const text = dns.metrics.render()
      expect(text).toMatch(/homeops_dns_tcp_closed_total\{reason="per_source_limit"\} 32/)
      expect(text).toMatch(/homeops_dns_tcp_closed_total\{reason="message_timeout"\} 8/)
      await answersPromptly(dns.port, APP)
    } finally {
      clearInterval(trickle)
      for (const s of sockets) s.destroy()
    }
  })
})

describe('hosts directory', () => {
  let dns: RunningDns
  let hosts: string
  let outside: string
  let lines: string[]

  beforeAll(async () => {
    const root = dir('hostsdir')
    hosts = join(root, 'hosts')
    outside = join(root, 'secret')
    mkdirSync(hosts)
    writeFileSync(outside, 'root:s3cr3t-hash:19000:0:99999:7:::\n10.9.9.9 leaked.home.lan\n')
    symlinkSync(outside, join(hosts, 'shadow'))
    writeFileSync(join(hosts, 'lan'), '10.0.0.5 nas.home.lan\nnot-an-address p4ssw0rd-in-a-line\n')
    const captured = capturingLogger()
    lines = captured.lines
    const context = await makeContext(
      {port: 0, bind: '127.0.0.1', ipv6: false, docker: false, hostsDirectory: hosts, zones: ['home.lan']},
      {logger: captured.logger},
    )
    dns = await startDns(context)
  }, 60_000)

  afterAll(async () => {
    await dns?.stop()
  })

  it('does not follow a link out of the directory, and logs line numbers and reasons, never line contents', async () => {
    expect((await dig(dns.port, ['+short', 'nas.home.lan'])).text.trim()).toBe('10.0.0.5')
    expect((await dig(dns.port, ['leaked.home.lan'])).status).toBe('NXDOMAIN')
    const log = lines.join('')
    expect(log).toContain('links outside the hosts directory')
    expect(log).toMatch(/hosts line ignored .*line=2 .*reason="the first field is not an IP address"/)
    expect(log).not.toContain('s3cr3t')
    expect(log).not.toContain('p4ssw0rd')
    expect(log).not.toContain('not-an-address')
  })

  it('logs a file over the size limit', async () => {
    const huge = join(hosts, 'huge')
    writeFileSync(huge, '')
    truncateSync(huge, 65 * 1024 * 1024) // sparse: no disk used
    await within(3000, 'oversized file logged', async () => lines.join('').includes('larger than the limit'))
    rmSync(huge)
  })

  it('watches a deleted and recreated directory again: changes apply within about a second', async () => {
    rmSync(hosts, {recursive: true})
    await new Promise((r) => setTimeout(r, 1200))
    mkdirSync(hosts)
    writeFileSync(join(hosts, 'new'), '10.0.0.66 again.home.lan\n')
    const elapsed = await within(3000, 'again.home.lan served', async () =>
      (await dig(dns.port, ['+short', 'again.home.lan'])).text.includes('10.0.0.66'),
    )
    appendFileSync(join(hosts, 'new'), '10.0.0.67 later.home.lan\n')
    await within(2000, 'a change in the recreated directory', async () =>
      (await dig(dns.port, ['+short', 'later.home.lan'])).text.includes('10.0.0.67'),
    )
    expect(elapsed).toBeLessThan(2500)
  })
})

describe('a 1 000 000-line blocklist', () => {
  it('loads within the memory bound, answers its names, and reloads without a gap', async () => {
    const dir = tempDir('million')
    const hosts = join(dir, 'hosts')
    mkdirSync(hosts)
    const chunk: string[] = []
    writeFileSync(join(hosts, 'blocklist'), '')
    for (let i = 0; i < 1_000_000; i++) {
      chunk.push(`0.0.0.0 ad${i}.tracker${i % 5000}.example${i % 3}.com`)
      if (chunk.length === 100_000) {
        appendFileSync(join(hosts, 'blocklist'), chunk.join('\n') + '\n')
        chunk.length = 0
      }
    }
    writeFileSync(join(dir, 'config.yaml'), 'dns:\n  docker: false\n')
    const port = 20_000 + Math.floor(Math.random() * 20_000)
    const cli = new URL('../../../bin/run.js', import.meta.url).pathname
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HOMEOPS_')))
    const started = performance.now()
    let log = ''
    const child = spawn(
      process.execPath,
      [
        cli,
        'dns',
        'serve',
        '--config',
        join(dir, 'config.yaml'),
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--http-listen',
        '127.0.0.1:0',
      ],
      {
        env: {...env, HOSTS_DIRECTORY: hosts, HOMEOPS_DB_PATH: join(dir, 'state.db')},
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    )
    child.stderr.on('data', (d: Buffer) => (log += d.toString()))
    try {
      const last = ['ad999999', 'tracker4999', 'example0', 'com']
      await within(
        30_000,
        () => `the last name answered (log: ${log.slice(-2000)})`,
        async () => {
          const answer = await udpAsk(port, queryPacket(last, A), 200)
          return Boolean(answer && header(answer).an === 1)
        },
      )
      const loadMs = performance.now() - started
      const peakKb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1])
      console.log(
        `1 000 000-line blocklist: answering after ${Math.round(loadMs)} ms, peak RSS ${Math.round(peakKb / 1024)} MB`,
      )
      expect(peakKb / 1024).toBeLessThanOrEqual(400)
      // Reload (one more line) while a client keeps asking: every query answered, the new name served.
      let asked = 0
      let unanswered = 0
      let stop = false
      const client = (async () => {
        while (!stop && asked < 5000) {
          asked++
          const answer = await udpAsk(port, queryPacket(['ad5', 'tracker5', 'example2', 'com'], A), 1000)
          if (!answer || header(answer).an !== 1) unanswered++
        }
      })()
      appendFileSync(join(hosts, 'blocklist'), '0.0.0.0 brand-new.example.org\n')
      await within(15_000, 'the new name answered', async () => {
        const answer = await udpAsk(port, queryPacket(['brand-new', 'example', 'org'], A), 500)
        return Boolean(answer && header(answer).an === 1)
      })
      await new Promise((r) => setTimeout(r, 200))
      stop = true
      await client
      expect(asked).toBeGreaterThan(50)
      expect(unanswered).toBe(0)
      // Both AAAA (NODATA, full path) and a non-blocked name (forwarded: none configured, REFUSED) still work.
      const nodata = (await udpAsk(port, queryPacket(last, AAAA)))!
      expect(header(nodata)).toMatchObject({rcode: 0, an: 0})
    } finally {
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
      rmSync(dir, {recursive: true, force: true})
    }
  }, 120_000)
})
