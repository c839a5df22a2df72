import {randomInt} from 'node:crypto'
import dgram from 'node:dgram'
import {isIPv6} from 'node:net'
import net from 'node:net'

import {UserError} from '../errors.js'
import {HEADER, type Query, RCODE, TYPE, walkRecords} from './wire.js'

export interface Upstream {
  host: string
  port: number
}

/** `1.1.1.1`, `1.1.1.1:53`, `[2606:4700::1111]:53`, `::1`. */
export function parseUpstream(text: string): Upstream {
  const value = text.trim()
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value)
  if (bracketed) return checked(bracketed[1]!, bracketed[2], text)
  if (isIPv6(value)) return {host: value, port: 53}
  const plain = /^([^:]+)(?::(\d+))?$/.exec(value)
  if (plain) return checked(plain[1]!, plain[2], text)
  throw new UserError(`upstream "${text}" is not an address`, {hint: 'use IP or IP:PORT, e.g. 1.1.1.1 or [::1]:5353'})
}

function checked(host: string, port: string | undefined, text: string): Upstream {
  const n = port === undefined ? 53 : Number(port)
  if (net.isIP(host) === 0 || !Number.isInteger(n) || n < 1 || n > 65535)
    throw new UserError(`upstream "${text}" is not an IP address with an optional port`, {
      hint: 'upstreams are resolvers by address (no names: they would need DNS to be found)',
    })
  return {host, port: n}
}

export interface ForwarderOptions {
  upstreams: Upstream[]
  timeoutMs: number
  cacheSize: number
  /** Our EDNS UDP size, offered upstream and to clients. */
  udpSize: number
  /** Longest time an answer stays cached, in seconds. */
  maxTtl?: number
  /** Longest time a negative answer stays cached (RFC 2308), in seconds. */
  maxNegativeTtl?: number
}

interface CacheEntry {
  /** The upstream answer with our question bytes (lower case) and an OPT record, ID 0. */
  message: Buffer
  storedAt: number
  expiresAt: number
  ttlOffsets: number[]
  /** Offset of the OPT record (last in the message), or -1. */
  optOffset: number
}

export interface ForwarderStats {
  forwarded: number
  cacheHits: number
  failures: number
  tcpFallbacks: number
  cached: number
}

/**
 * Forwards questions outside our zones: UDP to each upstream in turn (a fresh
 * socket and random ID per query), TCP when the answer comes back truncated;
 * answers are cached for their smallest TTL (negative ones for the SOA
 * minimum), in a bounded LRU; identical questions in flight share one upstream
 * query.
 */
export class Forwarder {
  readonly stats: ForwarderStats = {forwarded: 0, cacheHits: 0, failures: 0, tcpFallbacks: 0, cached: 0}
  private readonly cache = new Map<string, CacheEntry>()
  private readonly inflight = new Map<string, Promise<CacheEntry | undefined>>()
  private closed = false

  constructor(private readonly options: ForwarderOptions) {}

  close(): void {
    this.closed = true
    this.cache.clear()
  }

  /**
   * The full answer for the client's query (ID, flags and question bytes
   * patched; OPT kept only when the client sent one), or undefined when no
   * upstream answered (the caller answers SERVFAIL).
   */
  async resolve(query: Query, message: Buffer): Promise<Buffer | undefined> {
    const key = `${query.name}|${query.type}|${query.klass}|${query.opt?.dnssecOk ? 1 : 0}`
    const now = Date.now()
    let entry = this.cache.get(key)
    if (entry && entry.expiresAt > now) {
      this.cache.delete(key)
      this.cache.set(key, entry) // most recently used last
      this.stats.cacheHits++
    } else {
      if (entry) this.cache.delete(key)
      let pending = this.inflight.get(key)
      if (!pending) {
        pending = this.fetch(query, message).finally(() => this.inflight.delete(key))
        this.inflight.set(key, pending)
      }
      entry = await pending
      if (!entry) return undefined
    }
    return this.forClient(entry, query, message)
  }

  private async fetch(query: Query, message: Buffer): Promise<CacheEntry | undefined> {
    if (this.closed) return undefined
    const question = Buffer.from(message.subarray(HEADER, query.questionEnd))
    lowerName(question)
    let fallback: Buffer | undefined
    for (const upstream of this.options.upstreams) {
      const id = randomInt(0x10000)
      const request = buildQuery(id, question, query, this.options.udpSize)
      let answer: Buffer | undefined
      try {
        this.stats.forwarded++
        answer = await udpExchange(upstream, request, id, question, this.options.timeoutMs)
        if (answer[2]! & 0x02) {
          this.stats.tcpFallbacks++
          answer = await tcpExchange(upstream, request, id, question, this.options.timeoutMs)
        }
      } catch {
        this.stats.failures++
        continue
      }
      const rcode = answer[3]! & 0x0f
      if (rcode === RCODE.SERVFAIL || rcode === RCODE.REFUSED) {
        fallback = answer
        continue
      }
      return this.store(query, answer)
    }
    return fallback ? this.entryFor(fallback, 0) : undefined
  }

  private store(query: Query, answer: Buffer): CacheEntry | undefined {
    const records = walkRecords(answer, HEADER + (answer.readUInt16BE(4) === 1 ? questionLength(answer) : 0))
    if (!records) return undefined
    const rcode = answer[3]! & 0x0f
    let ttl = Infinity
    const answers = records.filter((r) => r.section === 'answer')
    if (rcode === RCODE.NOERROR && answers.length > 0) {
      for (const r of answers) ttl = Math.min(ttl, answer.readUInt32BE(r.ttlOffset))
      ttl = Math.min(ttl, this.options.maxTtl ?? 86400)
    } else if (rcode === RCODE.NOERROR || rcode === RCODE.NXDOMAIN) {
      const soa = records.find((r) => r.section === 'authority' && r.type === TYPE.SOA)
      ttl = soa
        ? Math.min(
            answer.readUInt32BE(soa.ttlOffset),
            answer.readUInt32BE(soa.end - 4),
            this.options.maxNegativeTtl ?? 10800,
          )
        : 0
    } else {
      ttl = 0
    }
    const entry = this.entryFor(answer, ttl)
    if (!entry || ttl <= 0 || this.options.cacheSize <= 0 || this.closed) return entry
    const key = `${query.name}|${query.type}|${query.klass}|${query.opt?.dnssecOk ? 1 : 0}`
    this.cache.set(key, entry)
    while (this.cache.size > this.options.cacheSize) this.cache.delete(this.cache.keys().next().value!)
    this.stats.cached = this.cache.size
    return entry
  }

  private entryFor(answer: Buffer, ttl: number): CacheEntry | undefined {
    const qEnd = HEADER + questionLength(answer)
    const records = walkRecords(answer, qEnd)
    if (!records) return undefined
    const ttlOffsets: number[] = []
    let optOffset = -1
    for (const r of records) {
      if (r.type === TYPE.OPT) {
        if (r === records[records.length - 1]) optOffset = r.start
        continue
      }
      ttlOffsets.push(r.ttlOffset)
    }
    const now = Date.now()
    return {message: answer, storedAt: now, expiresAt: now + ttl * 1000, ttlOffsets, optOffset}
  }

  private forClient(entry: CacheEntry, query: Query, message: Buffer): Buffer {
    const keepOpt = query.opt !== undefined && entry.optOffset >= 0
    const length = entry.optOffset >= 0 && !keepOpt ? entry.optOffset : entry.message.length
    const out = Buffer.alloc(length)
    entry.message.copy(out, 0, 0, length)
    if (entry.optOffset >= 0 && !keepOpt) out.writeUInt16BE(out.readUInt16BE(10) - 1, 10)
    if (keepOpt) out.writeUInt16BE(this.options.udpSize, entry.optOffset + 3)
    out.writeUInt16BE(query.id, 0)
    out[2] = 0x80 | (out[2]! & 0x02) | (query.rd ? 0x01 : 0) // QR, TC as received, RD from the client; AA off
    out[3] = 0x80 | (out[3]! & 0x2f) | (query.cd ? 0x10 : 0) // RA, AD + rcode from upstream, CD from the client
    message.copy(out, HEADER, HEADER, query.questionEnd)
    const elapsed = Math.floor((Date.now() - entry.storedAt) / 1000)
    if (elapsed > 0) {
      for (const offset of entry.ttlOffsets) out.writeUInt32BE(Math.max(0, out.readUInt32BE(offset) - elapsed), offset)
    }
    return out
  }
}

function questionLength(message: Buffer): number {
  let p = HEADER
  while (p < message.length && message[p] !== 0) p += message[p]! + 1
  return p + 1 + 4 - HEADER
}

function lowerName(question: Buffer): void {
  let p = 0
  while (p < question.length && question[p] !== 0) {
    const len = question[p]!
    for (let i = p + 1; i <= p + len; i++) {
      const c = question[i]!
      if (c >= 0x41 && c <= 0x5a) question[i] = c | 0x20
    }
    p += len + 1
  }
}

function buildQuery(id: number, question: Buffer, query: Query, udpSize: number): Buffer {
  const out = Buffer.alloc(HEADER + question.length + 11)
  out.writeUInt16BE(id, 0)
  out[2] = 0x01 // RD
  out[3] = query.cd ? 0x10 : 0
  out.writeUInt16BE(1, 4)
  out.writeUInt16BE(1, 10)
  question.copy(out, HEADER)
  const p = HEADER + question.length
  out[p] = 0
  out.writeUInt16BE(TYPE.OPT, p + 1)
  out.writeUInt16BE(udpSize, p + 3)
  out[p + 7] = query.opt?.dnssecOk ? 0x80 : 0
  return out
}

function matches(answer: Buffer, id: number, question: Buffer): boolean {
  if (answer.length < HEADER + question.length) return false
  if (answer.readUInt16BE(0) !== id || !(answer[2]! & 0x80) || answer.readUInt16BE(4) !== 1) return false
  for (let i = 0; i < question.length; i++) {
    let c = answer[HEADER + i]!
    if (c >= 0x41 && c <= 0x5a) c |= 0x20
    if (c !== question[i]) return false
  }
  return true
}

function udpExchange(
  upstream: Upstream,
  request: Buffer,
  id: number,
  question: Buffer,
  timeoutMs: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(isIPv6(upstream.host) ? 'udp6' : 'udp4')
    const done = (error: Error | undefined, answer?: Buffer) => {
      clearTimeout(timer)
      socket.removeAllListeners('message')
      try {
        socket.close()
      } catch {
        // already closed
      }
      if (error) reject(error)
      else resolve(answer!)
    }
    const timer = setTimeout(() => done(new Error(`no answer from ${upstream.host}:${upstream.port}`)), timeoutMs)
    socket.on('error', (error) => done(error))
    socket.on('message', (answer, rinfo) => {
      // Only the upstream we asked, with our ID and our question (anything else is ignored, not trusted).
      if (rinfo.port !== upstream.port || !sameHost(rinfo.address, upstream.host)) return
      if (!matches(answer, id, question)) return
      done(undefined, answer)
    })
    socket.send(request, upstream.port, upstream.host, (error) => {
      if (error) done(error)
    })
  })
}

function tcpExchange(
  upstream: Upstream,
  request: Buffer,
  id: number,
  question: Buffer,
  timeoutMs: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({host: upstream.host, port: upstream.port})
    let buffered = Buffer.alloc(0)
    const timer = setTimeout(() => finish(new Error(`no TCP answer from ${upstream.host}:${upstream.port}`)), timeoutMs)
    const finish = (error: Error | undefined, answer?: Buffer) => {
      clearTimeout(timer)
      socket.destroy()
      if (error) reject(error)
      else resolve(answer!)
    }
    socket.on('error', (error) => finish(error))
    socket.on('connect', () => {
      const framed = Buffer.alloc(request.length + 2)
      framed.writeUInt16BE(request.length, 0)
      request.copy(framed, 2)
      socket.write(framed)
    })
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk])
      if (buffered.length < 2) return
      const length = buffered.readUInt16BE(0)
      if (buffered.length < length + 2) return
      const answer = Buffer.from(buffered.subarray(2, 2 + length))
      if (!matches(answer, id, question)) finish(new Error('TCP answer does not match the question'))
      else finish(undefined, answer)
    })
    socket.on('end', () => finish(new Error('upstream closed the TCP connection')))
  })
}

function sameHost(a: string, b: string): boolean {
  return a === b || a.replace(/^::ffff:/, '') === b.replace(/^::ffff:/, '')
}
