import {randomInt} from 'node:crypto'
import dgram from 'node:dgram'
import {isIPv6} from 'node:net'
import net from 'node:net'

import {UserError} from '../errors.js'
import {MAX_MESSAGE, withOpt} from './answer.js'
import {HEADER, type Query, RCODE, TYPE, skipName, walkRecords} from './wire.js'

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
  /** Answers cached at most. */
  cacheSize: number
  /** Bytes of cached answers at most (`dns.cacheBytes`). */
  cacheBytes?: number
  /** Questions forwarded at the same time at most (dnsmasq's dns-forward-max); beyond: SERVFAIL. */
  forwardMax?: number
  /** Our EDNS UDP size, offered upstream and to clients. */
  udpSize: number
  /** Longest time an answer stays cached, in seconds (and the largest TTL passed on). */
  maxTtl?: number
  /** Longest time a negative answer stays cached (RFC 2308), in seconds. */
  maxNegativeTtl?: number
}

/** A cached answer, sanitised: header (ID 0, QR RA, rcode), the question, the records kept; no OPT. */
export interface CachedAnswer {
  message: Buffer
  storedAt: number
  expiresAt: number
  /** Offsets of every record's TTL in `message`. */
  ttlOffsets: number[]
  rcode: number
}

interface CacheEntry extends CachedAnswer {
  key: string
  /** The lower-case question bytes (the native table's key). */
  question: Buffer
  dnssecOk: boolean
  bytes: number
}

/** Where cache changes go besides the cache itself (the native answerer's table). */
export interface CacheListener {
  stored(question: Buffer, answer: CachedAnswer, ttlSeconds: number): void
  evicted(question: Buffer): void
}

export interface ForwarderStats {
  forwarded: number
  cacheHits: number
  failures: number
  tcpFallbacks: number
  cached: number
  cacheBytes: number
  inflight: number
  /** Misses answered SERVFAIL because forwardMax questions were already out. */
  overMax: number
  /** Upstream answers that could not be used (malformed, not answering the question). */
  rejected: number
}

const ENTRY_OVERHEAD = 160

/**
 * Forwards questions outside our zones: UDP to each upstream in turn (a fresh
 * socket and random ID per query), TCP when the answer comes back truncated.
 * Answers are sanitised before anything else sees them (only the records
 * answering the question and its CNAME chain, TTLs capped, trailing bytes and
 * unrelated records dropped), then cached for their smallest TTL (negative
 * ones per RFC 2308), bounded in entries and bytes (LRU). Identical questions
 * in flight share one upstream query; at most `forwardMax` are in flight
 * (each with one socket), so the sockets are bounded too.
 */
export class Forwarder {
  readonly stats: ForwarderStats = {
    forwarded: 0,
    cacheHits: 0,
    failures: 0,
    tcpFallbacks: 0,
    cached: 0,
    cacheBytes: 0,
    inflight: 0,
    overMax: 0,
    rejected: 0,
  }

  private readonly cache = new Map<string, CacheEntry>()
  private readonly inflight = new Map<string, Promise<CacheEntry | undefined>>()
  private closed = false
  listener: CacheListener | undefined

  constructor(private readonly options: ForwarderOptions) {}

  get forwardMax(): number {
    return this.options.forwardMax ?? 150
  }

  close(): void {
    this.closed = true
    this.cache.clear()
    this.stats.cached = 0
    this.stats.cacheBytes = 0
  }

  /**
   * The full answer for the client's query (ID, flags and question bytes
   * patched; OPT only when the client sent one), or undefined when no
   * upstream answered or too many questions are out (the caller answers SERVFAIL).
   */
  async resolve(query: Query, message: Buffer): Promise<Buffer | undefined> {
    const dnssecOk = query.opt?.dnssecOk ?? false
    const key = `${query.name}|${query.type}|${query.klass}|${dnssecOk ? 1 : 0}`
    const now = Date.now()
    let entry: CachedAnswer | undefined = this.cache.get(key)
    if (entry && entry.expiresAt > now) {
      this.cache.delete(key)
      this.cache.set(key, entry as CacheEntry) // most recently used last
      this.stats.cacheHits++
    } else {
      if (entry) this.evict(key)
      let pending = this.inflight.get(key)
      if (!pending) {
        if (this.inflight.size >= this.forwardMax) {
          this.stats.overMax++
          return undefined
        }
        pending = this.fetch(query, message, key).finally(() => {
          this.inflight.delete(key)
          this.stats.inflight = this.inflight.size
        })
        this.inflight.set(key, pending)
        this.stats.inflight = this.inflight.size
      }
      entry = await pending
      if (!entry) return undefined
    }
    return this.forClient(entry, query, message)
  }

  private async fetch(query: Query, message: Buffer, key: string): Promise<CacheEntry | undefined> {
    if (this.closed) return undefined
    const question = Buffer.from(message.subarray(HEADER, query.questionEnd))
    lowerName(question)
    const dnssecOk = query.opt?.dnssecOk ?? false
    let fallback: CacheEntry | undefined
    for (const upstream of this.options.upstreams) {
      const id = randomInt(0x10000)
      const request = buildQuery(id, question, query, this.options.udpSize)
      let raw: Buffer
      try {
        this.stats.forwarded++
        raw = await udpExchange(upstream, request, id, question, this.options.timeoutMs)
        if (raw[2]! & 0x02) {
          this.stats.tcpFallbacks++
          raw = await tcpExchange(upstream, request, id, question, this.options.timeoutMs)
        }
      } catch {
        this.stats.failures++
        continue
      }
      const clean = sanitizeAnswer(raw, question, {
        dnssecOk,
        maxTtl: this.options.maxTtl ?? 86400,
        maxNegativeTtl: this.options.maxNegativeTtl ?? 10800,
      })
      if (!clean) {
        this.stats.rejected++
        continue
      }
      const now = Date.now()
      const entry: CacheEntry = {
        ...clean.answer,
        storedAt: now,
        expiresAt: now + clean.ttl * 1000,
        key,
        question,
        dnssecOk,
        bytes: clean.answer.message.length + question.length + key.length + ENTRY_OVERHEAD,
      }
      if (clean.answer.rcode === RCODE.SERVFAIL || clean.answer.rcode === RCODE.REFUSED) {
        fallback = {...entry, expiresAt: now}
        continue
      }
      if (clean.ttl > 0) this.store(entry, clean.ttl)
      return entry
    }
    return fallback
  }

  private store(entry: CacheEntry, ttl: number): void {
    const maxBytes = this.options.cacheBytes ?? 16 << 20
    if (this.options.cacheSize <= 0 || this.closed || entry.bytes > maxBytes / 4) return
    if (this.cache.has(entry.key)) this.evict(entry.key)
    this.cache.set(entry.key, entry)
    this.stats.cacheBytes += entry.bytes
    while (this.cache.size > this.options.cacheSize || this.stats.cacheBytes > maxBytes)
      this.evict(this.cache.keys().next().value!)
    this.stats.cached = this.cache.size
    if (!entry.dnssecOk) this.listener?.stored(entry.question, entry, ttl)
  }

  private evict(key: string): void {
    const entry = this.cache.get(key)
    if (!entry) return
    this.cache.delete(key)
    this.stats.cacheBytes -= entry.bytes
    this.stats.cached = this.cache.size
    if (!entry.dnssecOk) this.listener?.evicted(entry.question)
  }

  private forClient(entry: CachedAnswer, query: Query, message: Buffer): Buffer {
    const body = Buffer.from(entry.message)
    body.writeUInt16BE(query.id, 0)
    body[2] = (body[2]! & 0xfe) | (query.rd ? 0x01 : 0) // RD from the client
    body[3] = (body[3]! & 0xef) | (query.cd ? 0x10 : 0) // CD from the client
    message.copy(body, HEADER, HEADER, query.questionEnd)
    const elapsed = Math.floor((Date.now() - entry.storedAt) / 1000)
    if (elapsed > 0) {
      for (const offset of entry.ttlOffsets)
        body.writeUInt32BE(Math.max(0, body.readUInt32BE(offset) - elapsed), offset)
    }
    if (!query.opt) return body
    const out = withOpt(body, this.options.udpSize)
    out[out.length - 4] = query.opt.dnssecOk ? 0x80 : 0
    return out
  }
}

const NAME_RDATA: Record<number, [number, number]> = {
  // type: [bytes before the first name, names]
  [TYPE.NS]: [0, 1],
  [TYPE.CNAME]: [0, 1],
  [TYPE.PTR]: [0, 1],
  [TYPE.MX]: [2, 1],
  [TYPE.SRV]: [6, 1],
  [TYPE.SOA]: [0, 2],
}
const TYPE_RRSIG = 46
const QUESTION_POINTER = String.fromCharCode(0xc0, HEADER)
const DNSSEC_TYPES = new Set([TYPE_RRSIG, 47, 50]) // RRSIG, NSEC, NSEC3

/**
 * An upstream answer made safe to cache and pass on: the header (ID 0, QR, RA, AD and rcode kept;
 * AA and TC off), our question, the answer records for the question name and its CNAME chain (the
 * asked type, CNAMEs, signatures when DO), SOA/NS authority for negative answers and referrals, no
 * additional records, names uncompressed, TTLs with the top bit set taken as 0 (RFC 2181 §8) and capped.
 * Undefined when the message is not well-formed. `ttl`: how long it may be cached (RFC 2308 for
 * negative answers; 0: not at all).
 */
export function sanitizeAnswer(
  raw: Buffer,
  question: Buffer,
  options: {dnssecOk: boolean; maxTtl: number; maxNegativeTtl: number},
): {answer: CachedAnswer; ttl: number} | undefined {
  if (raw.length < HEADER + question.length || raw.readUInt16BE(4) !== 1) return undefined
  const qEnd = HEADER + question.length
  const records = walkRecords(raw, qEnd)
  if (!records) return undefined
  const qtype = question.readUInt16BE(question.length - 4)
  const rcode = raw[3]! & 0x0f
  // The CNAME chain from the question name, in answer order (bounded by the records there are).
  const chain = [question.subarray(0, question.length - 4).toString('latin1')]
  for (let round = 0; round < 16; round++) {
    const tail = chain[chain.length - 1]!
    const next = records.find((r) => r.section === 'answer' && r.type === TYPE.CNAME && sameWire(raw, r.start, tail))
    const target = next && expandName(raw, next.rdataOffset, next.end)
    if (!target || chain.includes(target.wire)) break
    chain.push(target.wire)
  }
  const last = chain[chain.length - 1]!
  const parts: Buffer[] = []
  const ttlOffsets: number[] = []
  let length = qEnd
  let answerCount = 0
  let authorityCount = 0
  let minTtl = Infinity
  let soaTtl: number | undefined
  for (const r of records) {
    if (r.section === 'additional') continue
    const owner = expandName(raw, r.start, r.end)
    if (!owner) return undefined
    if (r.section === 'answer') {
      const wanted =
        r.type === qtype || qtype === TYPE.ANY || r.type === TYPE.CNAME || (options.dnssecOk && r.type === TYPE_RRSIG)
      if (!wanted || !chain.includes(owner.wire)) continue
    } else {
      // Authority: the zone's SOA or NS for the last name of the chain (and proofs when DO).
      const ofChain = last.endsWith(owner.wire) // the name itself or an ancestor (the root included)
      const wanted = r.type === TYPE.SOA || r.type === TYPE.NS || (options.dnssecOk && DNSSEC_TYPES.has(r.type))
      if (!wanted || !(ofChain || DNSSEC_TYPES.has(r.type))) continue
    }
    let rdata = raw.subarray(r.rdataOffset, r.end)
    const names = NAME_RDATA[r.type]
    if (names) {
      const [prefix, count] = names
      const pieces: Buffer[] = [raw.subarray(r.rdataOffset, r.rdataOffset + prefix)]
      let p = r.rdataOffset + prefix
      for (let i = 0; i < count; i++) {
        const name = expandName(raw, p, r.end)
        if (!name) return undefined
        pieces.push(Buffer.from(name.wire, 'latin1'))
        p = name.end
      }
      pieces.push(raw.subarray(p, r.end))
      rdata = Buffer.concat(pieces)
    }
    let ttl = raw.readUInt32BE(r.ttlOffset)
    ttl = ttl >= 0x80000000 ? 0 : Math.min(ttl, options.maxTtl)
    // The question's name as a pointer to the question (so the client's letter case shows there too).
    const ownerBytes = owner.wire === chain[0] ? QUESTION_POINTER : owner.wire
    const size = ownerBytes.length + 10 + rdata.length
    if (length + size > MAX_MESSAGE - 11) break // what fits in one message, with room for an OPT
    const record = Buffer.alloc(size)
    record.write(ownerBytes, 0, 'latin1')
    const o = ownerBytes.length
    record.writeUInt16BE(r.type, o)
    record.writeUInt16BE(r.klass, o + 2)
    ttlOffsets.push(length + o + 4)
    record.writeUInt32BE(ttl, o + 4)
    record.writeUInt16BE(rdata.length, o + 8)
    rdata.copy(record, o + 10)
    if (r.section === 'answer') {
      answerCount++
      minTtl = Math.min(minTtl, ttl)
    } else {
      authorityCount++
      if (r.type === TYPE.SOA) {
        // RFC 2308: a negative answer lives for the smaller of the SOA's TTL and its MINIMUM.
        const minimum = rdata.readUInt32BE(rdata.length - 4)
        soaTtl = Math.min(ttl, minimum >= 0x80000000 ? 0 : minimum, options.maxNegativeTtl)
        record.writeUInt32BE(soaTtl, o + 4)
      }
    }
    parts.push(record)
    length += size
  }
  const header = Buffer.alloc(HEADER)
  header[2] = 0x80 // QR; RD patched per client
  header[3] = 0x80 | (raw[3]! & 0x20) | rcode // RA, AD as received, rcode
  header.writeUInt16BE(1, 4)
  header.writeUInt16BE(answerCount, 6)
  header.writeUInt16BE(authorityCount, 8)
  const message = Buffer.concat([header, question, ...parts], length)
  let ttl = 0
  if (rcode === RCODE.NOERROR && answerCount > 0) ttl = minTtl
  else if (rcode === RCODE.NOERROR || rcode === RCODE.NXDOMAIN) ttl = soaTtl ?? 0
  return {answer: {message, storedAt: 0, expiresAt: 0, ttlOffsets, rcode}, ttl}
}

/** A name at `offset` (pointers followed, validated), as lower-case uncompressed wire bytes in a latin1 string. */
function expandName(buf: Buffer, offset: number, end: number): {wire: string; end: number} | undefined {
  const after = skipName(buf, offset, end)
  if (after < 0) return undefined
  let out = ''
  let p = offset
  for (let hops = 0; hops < 128;) {
    const len = buf[p]!
    if (len === 0) return {wire: out + '\0', end: after}
    if ((len & 0xc0) === 0xc0) {
      p = ((len & 0x3f) << 8) | buf[p + 1]!
      hops++
      continue
    }
    out += String.fromCharCode(len)
    for (let i = p + 1; i <= p + len; i++) {
      const c = buf[i]!
      out += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c)
    }
    p += len + 1
  }
  return undefined
}

function sameWire(buf: Buffer, offset: number, wire: string): boolean {
  return expandName(buf, offset, buf.length)?.wire === wire
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
