import dgram from 'node:dgram'
import net from 'node:net'
import {performance} from 'node:perf_hooks'

import {Packet} from 'dns2'

import {UserError, errnoCode, errorMessage} from '../errors.js'
import type {Logger} from '../log/logger.js'
import {MAX_MESSAGE, authoritative, encodeAnswer, questionEnd, truncateTo, withOpt} from './answer.js'
import type {Forwarder} from './forwarder.js'
import {encodeWireName} from './names.js'
import {type NativeAnswerer, type NativeSinks, NativeTable, attachNative, nativeAddon} from './native.js'
import type {RateLimiter} from './rate-limit.js'
import {DnsStats, type HotEntry, metricIndex, patch} from './stats.js'
import type {ZoneData} from './record-store.js'
import {CLASS_IN, HEADER, type Query, RCODE, TYPE, errorResponse, scanQuery} from './wire.js'

export {ANSWER_BUCKETS, DnsStats, METRIC_RCODES, METRIC_TYPES} from './stats.js'

const TYPE_IXFR = 251
const TYPE_AXFR = 252

export interface DnsServerOptions {
  bind: string
  port: number
  ipv6: boolean
  tcp: boolean
  maxUdpSize: number
  forwarder?: Forwarder
  limiter?: RateLimiter
  logger: Logger
  /** Pre-encoded answers kept beyond the store's own names (wildcards, NXDOMAIN, …). */
  dynamicEntries?: number
  /** Open TCP connections at most (`dns.tcpMaxConnections`). */
  maxTcpConnections?: number
  /** Open TCP connections per source address at most (`dns.tcpMaxPerSource`). */
  maxTcpPerSource?: number
  /** A connection without a query in flight or on its way is closed after this (`dns.tcpIdleMs`). */
  tcpIdleMs?: number
  /** A TCP message (the first one from connecting) must arrive whole within this (`dns.tcpMessageTimeoutMs`). */
  tcpMessageMs?: number
  /** Answer bytes queued for a connection before it stops being read (`dns.tcpOutputBytes`). */
  tcpOutputBytes?: number
  /** `dns.rateLimit`, for the native threads' own limiter. */
  rateLimit?: number
  /** Answer UDP on native threads when the addon is built (`dns.native`); default true. */
  native?: boolean
}

type Entry = HotEntry

/** How a socket's datagrams are read: a native thread (the fast path), or dgram's API into the full path. */
export type UdpPath = 'native' | 'public'

interface UdpEndpoint {
  socket: dgram.Socket
  address: string
  port: number
  family: 4 | 6
  path: UdpPath
  native?: NativeAnswerer
}

/**
 * The DNS server: UDP and TCP sockets, IPv4 and IPv6. One data plane:
 *
 * - the fast path, native (native.ts): a thread per UDP socket answers plain
 *   queries from a table of answers pre-encoded by dns2 when the store
 *   changed, from the forwarding cache (TTLs counted down) and for blocklist
 *   names, in batches, and hands everything else to `onUdp`;
 * - the full path, `answer()`: validates the whole message, parses it with
 *   dns2, answers from the same pre-encoded answers or the store, forwards,
 *   truncates, refuses. It serves TCP, every miss of the fast path, and all of
 *   UDP when the addon is not built.
 */
export class DnsServer {
  private readonly counters = new DnsStats()
  private data: ZoneData | undefined
  private table = new Map<string, Entry>()
  private dynamic = new Map<string, Entry>()
  private readonly udp: UdpEndpoint[] = []
  private readonly tcpServers: net.Server[] = []
  private readonly tcpSockets = new Set<net.Socket>()
  private readonly tcpPerSource = new Map<string, number>()
  private fillTimer: NodeJS.Immediate | undefined
  private readonly ra: boolean
  private readonly maxUdp: number
  /** The answers the native threads serve; undefined when they are off or not built. */
  private readonly nativeTable: NativeTable | undefined
  /** Why the native threads are not used (for the start-up log). */
  readonly nativeProblem: string | undefined

  constructor(private readonly options: DnsServerOptions) {
    this.ra = Boolean(options.forwarder)
    this.maxUdp = options.maxUdpSize
    if (options.native === false) this.nativeProblem = 'off (dns.native: false)'
    else {
      const {addon, error} = nativeAddon()
      this.nativeTable = addon ? new NativeTable(addon) : undefined
      this.nativeProblem = error
    }
    const table = this.nativeTable
    if (table && options.forwarder) {
      // Forwarded answers the cache keeps (DO-less questions) are answered by the native threads too.
      const udpSize = this.maxUdp
      options.forwarder.listener = {
        stored: (question, answer, ttl) => {
          const edns = withOpt(answer.message, udpSize)
          const entry: HotEntry = {
            plain: answer.message,
            edns,
            rcode: answer.rcode,
            questionLength: question.length,
            metric: metricIndex(question.readUInt16BE(question.length - 4), answer.rcode),
          }
          table.putForward(question, entry, answer.ttlOffsets, ttl, true)
        },
        evicted: (question) => table.deleteForward(question),
      }
    }
  }

  /** Open TCP connections. */
  get tcpConnections(): number {
    return this.tcpSockets.size
  }

  /** Counters of every path, the native threads' included. */
  get stats(): DnsStats {
    for (const e of this.udp) if (e.native) this.counters.merge(e.native.takeStats())
    return this.counters
  }

  /** Addresses actually listening (`127.0.0.1:5353/udp`, …). */
  get addresses(): string[] {
    const out: string[] = []
    for (const e of this.udp) out.push(`${e.family === 6 ? `[${e.address}]` : e.address}:${e.port}/udp`)
    for (const s of this.tcpServers) {
      const a = s.address() as net.AddressInfo | null
      if (a) out.push(`${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/tcp`)
    }
    return out
  }

  get port(): number {
    return this.udp[0]?.port ?? this.options.port
  }

  /** True when the native threads answer UDP. */
  get fastPath(): boolean {
    return this.udp.length > 0 && this.udp.every((e) => e.path === 'native')
  }

  /** How UDP is answered, e.g. `native` (diagnostics; several values when sockets differ). */
  get udpPath(): string {
    return [...new Set(this.udp.map((e) => e.path))].join(',') || 'none'
  }

  /**
   * New records: the full path answers from them at once (encoding on demand); the pre-encoded
   * answers are rebuilt in the background and handed to the native threads in one swap, which keep
   * answering from the previous ones until then (no gap). Blocklist names are not pre-encoded: the
   * native threads synthesise their answers from the names alone.
   */
  setData(data: ZoneData): void {
    this.data = data
    this.table = new Map()
    this.dynamic = new Map()
    if (this.fillTimer) clearImmediate(this.fillTimer)
    const work: string[] = []
    for (const [name, entry] of data.names) if (!entry.sink && !name.startsWith('*.')) work.push(name)
    for (const name of data.ptr.keys()) work.push(name)
    const names = data.names.size
    let i = 0
    const step = () => {
      this.fillTimer = undefined
      if (this.data !== data) return
      const end = Math.min(work.length, i + 128)
      for (; i < end; i++) {
        const name = work[i]!
        for (const type of i < work.length - data.ptr.size ? [TYPE.A, TYPE.AAAA] : [TYPE.PTR]) {
          const key = tableKey(name, type, CLASS_IN)
          if (this.table.has(key)) continue
          const entry = this.encode(data, name, type, CLASS_IN)
          if (entry) this.table.set(key, entry)
        }
      }
      if (i < work.length) {
        this.fillTimer = setImmediate(step)
        return
      }
      const table = this.nativeTable
      if (!table) return
      const skipped = table.set(this.table, this.dynamic, this.sinks(data))
      if (skipped > 0) this.options.logger.warn('dns answers left to the full path', {count: skipped, names})
    }
    step()
  }

  /** Blocklist names for the native threads: `[bits][length][wire name]…`. */
  private sinks(data: ZoneData): NativeSinks {
    let size = 0
    for (const [name, entry] of data.names) if (entry.sink) size += name.length + 4
    // Not from the pool: the native threads read the names in place for as long as this table serves.
    const names = Buffer.allocUnsafeSlow(size)
    let o = 0
    for (const [name, entry] of data.names) {
      if (!entry.sink) continue
      names[o] = (entry.a.length > 0 ? 1 : 0) | (entry.aaaa.length > 0 ? 2 : 0)
      const start = o + 2
      let p = start
      let label = p++
      for (let k = 0; k < name.length; k++) {
        const c = name.charCodeAt(k)
        if (c === 0x2e) {
          names[label] = p - label - 1
          label = p++
        } else names[p++] = c
      }
      names[label] = p - label - 1
      names[p++] = 0
      names[o + 1] = p - start
      o = p
    }
    return {
      names: names.subarray(0, o),
      ttl: data.ttl,
      ra: this.ra ? 1 : 0,
      metricA: metricIndex(TYPE.A, RCODE.NOERROR),
      metricAaaa: metricIndex(TYPE.AAAA, RCODE.NOERROR),
    }
  }

  async start(): Promise<void> {
    const hosts = listenHosts(this.options.bind, this.options.ipv6)
    let port = this.options.port
    for (let attempt = 0; ; attempt++) {
      try {
        for (const [i, host] of hosts.entries()) {
          const endpoint = await this.bindUdp(host.address, host.family, port, i > 0 && host.optional)
          if (endpoint && port === 0) port = endpoint.port
        }
        if (this.options.tcp) {
          for (const [i, host] of hosts.entries()) await this.bindTcp(host.address, port, i > 0 && host.optional)
        }
        break
      } catch (error) {
        await this.stop()
        // Port 0: the UDP port we were given may be taken for TCP; try another.
        if (this.options.port === 0 && errnoCode(error) === 'EADDRINUSE' && attempt < 5) {
          port = 0
          continue
        }
        throw listenError(error, hosts.map((h) => h.address).join(', '), port)
      }
    }
  }

  async stop(): Promise<void> {
    if (this.fillTimer) clearImmediate(this.fillTimer)
    this.fillTimer = undefined
    for (const e of this.udp.splice(0)) {
      // The native thread first: it reads the socket's descriptor until it is told to stop (and then
      // adds its last counts, hence the order).
      if (e.native) {
        e.native.close()
        this.counters.merge(e.native.takeStats())
      }
      try {
        e.socket.close()
      } catch {
        // already closed
      }
    }
    for (const socket of this.tcpSockets) socket.destroy()
    this.tcpSockets.clear()
    this.tcpPerSource.clear()
    await Promise.all(this.tcpServers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
  }

  private bindUdp(address: string, family: 4 | 6, port: number, optional: boolean): Promise<UdpEndpoint | undefined> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket({
        type: family === 6 ? 'udp6' : 'udp4',
        reuseAddr: false,
        ipv6Only: family === 6,
      })
      const onError = (error: Error) => {
        socket.close()
        if (optional && ['EADDRNOTAVAIL', 'EAFNOSUPPORT'].includes(errnoCode(error) ?? '')) {
          this.options.logger.warn('IPv6 is not available; answering on IPv4 only', {
            address,
            error: errorMessage(error),
          })
          resolve(undefined)
        } else reject(error)
      }
      socket.once('error', onError)
      socket.bind(port, address, () => {
        socket.off('error', onError)
        socket.on('error', (error) => this.options.logger.warn('dns udp socket error', {error: errorMessage(error)}))
        for (const size of [16 << 20, 4 << 20, 1 << 20]) {
          try {
            socket.setRecvBufferSize(size)
            socket.setSendBufferSize(size)
            break
          } catch {
            // the kernel caps it (net.core.rmem_max); try smaller
          }
        }
        const info = socket.address()
        const endpoint: UdpEndpoint = {socket, address: info.address, port: info.port, family, path: 'public'}
        this.installFastPath(endpoint)
        this.udp.push(endpoint)
        resolve(endpoint)
      })
    })
  }

  private bindTcp(address: string, port: number, optional: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({noDelay: true}, (socket) => this.onTcp(socket))
      server.maxConnections = this.options.maxTcpConnections ?? 256
      const onError = (error: Error) => {
        server.close()
        if (optional && ['EADDRNOTAVAIL', 'EAFNOSUPPORT'].includes(errnoCode(error) ?? '')) resolve()
        else reject(error)
      }
      server.once('error', onError)
      server.listen({host: address, port, ipv6Only: address.includes(':'), exclusive: true}, () => {
        server.off('error', onError)
        server.on('error', (error) => this.options.logger.warn('dns tcp server error', {error: errorMessage(error)}))
        server.on('drop', () => this.counters.dropped.tcpRejected++)
        this.tcpServers.push(server)
        resolve()
      })
    })
  }

  /** The native thread when built (misses come back to `onUdp`), else dgram's API into the full path. */
  private installFastPath(endpoint: UdpEndpoint): void {
    const native =
      this.nativeTable &&
      attachNative(
        endpoint.socket,
        this.nativeTable,
        {maxUdp: this.maxUdp, perSource: this.options.rateLimit ?? 0},
        // The thread applied the source limiter already.
        (msg, address, port) => this.onUdp(msg, address, port, endpoint, true),
      )
    if (native) {
      endpoint.native = native
      endpoint.path = 'native'
      return
    }
    endpoint.socket.on('message', (msg, rinfo) => this.onUdp(msg, rinfo.address, rinfo.port, endpoint))
  }

  /** One UDP datagram for the full path. */
  private onUdp(msg: Buffer, address: string, port: number, endpoint: UdpEndpoint, limited = false): void {
    const started = performance.now()
    const stats = this.counters
    const limiter = this.options.limiter
    if (!limited && limiter && !limiter.allow(address)) {
      stats.dropped.rateLimited++
      return
    }
    void this.answer(msg, 'udp').then(
      (out) => {
        if (out) this.sendPublic(endpoint, out, port, address)
        stats.observe((performance.now() - started) / 1000)
      },
      (error: unknown) => {
        stats.dropped.malformed++
        this.options.logger.debug('dns query failed', {error: errorMessage(error)})
      },
    )
  }

  private sendPublic(endpoint: UdpEndpoint, out: Buffer, port: number, address: string): void {
    try {
      endpoint.socket.send(out, port, address, (error) => {
        if (error) this.counters.sendErrors++
      })
    } catch {
      this.counters.sendErrors++
    }
  }

  /**
   * The full path: validates the message, parses it with dns2, answers from
   * our records, forwards, or refuses. Undefined: drop silently.
   */
  async answer(msg: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    const scan = scanQuery(msg)
    if (scan.kind === 'drop') {
      this.counters.dropped.malformed++
      return undefined
    }
    if (scan.kind === 'error') {
      this.counters.queries[metricIndex(0, scan.rcode)]!++
      return errorResponse(scan.id, scan.flags, scan.rcode, scan.question, this.ra)
    }
    const query = scan.query
    const question = Buffer.from(msg.subarray(HEADER, query.questionEnd))
    if (query.badOpt) return this.error(query, RCODE.FORMERR, question)
    if (query.opt && query.opt.version > 0) {
      this.counters.queries[metricIndex(query.type, RCODE.BADVERS)]!++
      const out = withOpt(errorResponse(query.id, query.flags, 0, question, this.ra), this.maxUdp, RCODE.BADVERS >> 4)
      return out
    }
    // dns2 parses what passed the structural checks.
    const request = Packet.parse(msg)
    const parsed = request.questions[0]
    if (!parsed) return this.error(query, RCODE.FORMERR, question)
    const name = parsed.name.toLowerCase().replace(/\.$/, '')
    const type = parsed.type
    const klass = parsed.class
    const limit =
      transport === 'tcp' ? MAX_MESSAGE : query.opt ? Math.min(Math.max(query.opt.udpSize, 512), this.maxUdp) : 512
    // Zone transfers are not offered (RFC 5936 allows REFUSED); nothing to hand out name by name.
    if (type === TYPE_AXFR || type === TYPE_IXFR) return this.error(query, RCODE.REFUSED, question)

    const data = this.data
    if (data && (klass === CLASS_IN || klass === 255)) {
      const key = tableKey(name, type, klass)
      let entry = this.table.get(key) ?? this.dynamic.get(key)
      if (!entry) {
        entry = this.encode(data, name, type, klass)
        if (entry) {
          const max = this.options.dynamicEntries ?? 20_000
          if (this.dynamic.size >= max) this.dynamic.clear()
          this.dynamic.set(key, entry)
          this.nativeTable?.addDynamic(key, entry, max)
        }
      }
      if (entry) {
        this.counters.queries[entry.metric]!++
        const full = Buffer.from(query.opt ? entry.edns : entry.plain)
        if (entry.questionLength === query.questionEnd - HEADER) patch(full, msg, query.questionEnd, Boolean(query.opt))
        else patchHeader(full, msg)
        return full.length > limit ? this.truncate(full, query, limit) : full
      }
    }
    if (klass !== CLASS_IN) return this.error(query, RCODE.REFUSED, question)
    const forwarder = this.options.forwarder
    if (!forwarder) return this.error(query, RCODE.REFUSED, question)
    const answer = await forwarder.resolve(query, msg)
    if (!answer) return this.error(query, RCODE.SERVFAIL, question)
    this.counters.queries[metricIndex(type, answer[3]! & 0x0f)]!++
    if (answer.length > limit) return this.truncate(answer, query, limit)
    return answer
  }

  /** What fits of an answer over UDP, TC set; over TCP answers are at most 64 KiB already. */
  private truncate(full: Buffer, query: Query, limit: number): Buffer {
    const out = truncateTo(full, questionEnd(full), limit, Boolean(query.opt), this.maxUdp)
    if (query.opt?.dnssecOk) out[out.length - 4] = 0x80
    return out
  }

  private error(query: Query, rcode: number, question: Buffer): Buffer {
    this.counters.queries[metricIndex(query.type, rcode)]!++
    const out = errorResponse(query.id, query.flags, rcode, question, this.ra)
    return query.opt ? withOpt(out, this.maxUdp) : out
  }

  private encode(data: ZoneData, name: string, type: number, klass: number): Entry | undefined {
    const answer = authoritative(data, name, type)
    if (!answer) return undefined
    try {
      const encoded = encodeAnswer({name, type, klass}, answer, {ra: this.ra, maxUdpSize: this.maxUdp})
      return {...encoded, metric: metricIndex(type, encoded.rcode)}
    } catch (error) {
      this.options.logger.warn('cannot encode dns answer', {name, type, error: errorMessage(error)})
      return undefined
    }
  }

  /**
   * One TCP connection, bounded: per-source connection count, a deadline for each message (the
   * first one from connecting: a client trickling bytes cannot hold a slot), an idle timeout between
   * messages, and at most `tcpOutputBytes` of answers queued (and 16 queries in flight) before the
   * connection stops being read (a client that pipelines and never reads cannot grow our memory).
   */
  private onTcp(socket: net.Socket): void {
    const source = socket.remoteAddress ?? '?'
    const perSource = this.tcpPerSource.get(source) ?? 0
    if (perSource >= (this.options.maxTcpPerSource ?? 16)) {
      this.counters.tcpClosed.perSource++
      socket.destroy()
      return
    }
    this.tcpPerSource.set(source, perSource + 1)
    this.tcpSockets.add(socket)
    const idleMs = this.options.tcpIdleMs ?? 10_000
    const messageMs = this.options.tcpMessageMs ?? 3000
    const outputCap = this.options.tcpOutputBytes ?? 128 * 1024
    let deadline: NodeJS.Timeout | undefined
    const close = (reason: keyof DnsStats['tcpClosed']) => {
      if (socket.destroyed) return
      this.counters.tcpClosed[reason]++
      socket.destroy()
    }
    const startDeadline = () => {
      deadline ??= setTimeout(() => close('messageTimeout'), messageMs)
    }
    const stopDeadline = () => {
      if (deadline) clearTimeout(deadline)
      deadline = undefined
    }
    startDeadline()
    socket.setTimeout(idleMs, () => close('idle'))
    socket.on('error', () => socket.destroy())
    socket.on('close', () => {
      stopDeadline()
      this.tcpSockets.delete(socket)
      const left = (this.tcpPerSource.get(source) ?? 1) - 1
      if (left > 0) this.tcpPerSource.set(source, left)
      else this.tcpPerSource.delete(source)
    })
    let buffered: Buffer = Buffer.alloc(0)
    let inFlight = 0
    let chain = Promise.resolve()
    const throttle = () => {
      const full = socket.writableLength >= outputCap || inFlight >= 16
      if (full && !socket.isPaused()) socket.pause()
      else if (!full && socket.isPaused()) socket.resume()
    }
    socket.on('drain', throttle)
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
      let completed = false
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0)
        if (length < HEADER) {
          // Not even a header: nothing to answer, and no reason to keep the connection.
          this.counters.dropped.malformed++
          socket.destroy()
          return
        }
        if (buffered.length < length + 2) break
        const message = Buffer.from(buffered.subarray(2, 2 + length))
        buffered = buffered.subarray(2 + length)
        completed = true
        inFlight++
        // Answers go back in order, one query at a time per connection.
        chain = chain.then(async () => {
          const started = performance.now()
          let out: Buffer | undefined
          try {
            out = socket.destroyed ? undefined : await this.answer(message, 'tcp')
          } catch (error) {
            this.counters.dropped.malformed++
            this.options.logger.debug('dns tcp query failed', {error: errorMessage(error)})
          }
          inFlight--
          this.counters.observe((performance.now() - started) / 1000)
          if (out && !socket.destroyed) {
            const framed = Buffer.alloc(out.length + 2)
            framed.writeUInt16BE(out.length, 0)
            out.copy(framed, 2)
            socket.write(framed)
            if (socket.writableLength > outputCap * 4) return close('outputLimit')
          }
          throttle()
        })
      }
      if (completed) stopDeadline()
      if (buffered.length > 0) startDeadline()
      throttle()
    })
  }
}

/** The table key: the wire-format name, type and class, as a latin1 string. */
export function tableKey(name: string, type: number, klass: number): string {
  const wire = encodeWireName(name)
  return wire.toString('latin1') + String.fromCharCode(type >> 8, type & 0xff, klass >> 8, klass & 0xff)
}

function patchHeader(out: Buffer, msg: Buffer): void {
  out[0] = msg[0]!
  out[1] = msg[1]!
  out[2] = (out[2]! & 0xfe) | (msg[2]! & 0x01)
  out[3] = (out[3]! & 0xef) | (msg[3]! & 0x10)
}

interface ListenHost {
  address: string
  family: 4 | 6
  /** IPv6 next to IPv4: a host without IPv6 only gets a warning. */
  optional: boolean
}

function listenHosts(bind: string, ipv6: boolean): ListenHost[] {
  const family = net.isIP(bind)
  if (family === 6) return [{address: bind, family: 6, optional: false}]
  if (family !== 4) throw new UserError(`dns.bind "${bind}" is not an IP address`, {hint: 'e.g. 0.0.0.0 or 127.0.0.1'})
  const hosts: ListenHost[] = [{address: bind, family: 4, optional: false}]
  if (ipv6 && bind === '0.0.0.0') hosts.push({address: '::', family: 6, optional: true})
  if (ipv6 && bind === '127.0.0.1') hosts.push({address: '::1', family: 6, optional: true})
  return hosts
}

function listenError(error: unknown, where: string, port: number): Error {
  const code = errnoCode(error)
  if (code === 'EADDRINUSE')
    return new UserError(`cannot listen for DNS on ${where} port ${port}: the port is in use`, {
      hint: 'stop the other DNS server (systemd-resolved, dnsmasq) or set DNS_PORT',
      cause: error,
    })
  if (code === 'EACCES')
    return new UserError(`cannot listen for DNS on ${where} port ${port}: permission denied`, {
      hint: 'port 53 needs root or CAP_NET_BIND_SERVICE; or set DNS_PORT=5353',
      cause: error,
    })
  return new UserError(`cannot listen for DNS on ${where} port ${port}: ${errorMessage(error)}`, {cause: error})
}
