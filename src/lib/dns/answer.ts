import {Packet} from 'dns2'

import {ancestorIn, parentName} from './names.js'
import type {NameEntry, ZoneData} from './record-store.js'
import {CLASS_IN, HEADER, RCODE, TYPE, walkRecords} from './wire.js'

/** A resource record in the shape dns2's encoder takes. */
export interface Rr {
  name: string
  type: number
  class: number
  ttl: number
  address?: string
  domain?: string
  primary?: string
  admin?: string
  serial?: number
  refresh?: number
  retry?: number
  expiration?: number
  minimum?: number
}

export interface AuthAnswer {
  rcode: number
  answers: Rr[]
  authority: Rr[]
}

const MAX_CNAME_CHAIN = 8

/**
 * The authoritative answer for a question, or undefined when the name is not
 * ours (forward it, or refuse). Rules: exact names, then PTR for addresses we
 * hold, then, inside a served zone, empty non-terminals (NODATA), the closest
 * encloser's wildcard (RFC 4592), else NXDOMAIN with the zone's SOA.
 */
export function authoritative(data: ZoneData, name: string, type: number): AuthAnswer | undefined {
  const found = lookup(data, name)
  if (!found) {
    const ptrNames = data.ptr.get(name)
    if (!ptrNames) return undefined
    if (type === TYPE.PTR || type === TYPE.ANY) {
      return {
        rcode: RCODE.NOERROR,
        answers: ptrNames.map((target) => ({name, type: TYPE.PTR, class: CLASS_IN, ttl: data.ttl, domain: target})),
        authority: [],
      }
    }
    return {rcode: RCODE.NOERROR, answers: [], authority: [soa(data, name)]}
  }
  if (found === 'nxdomain') return {rcode: RCODE.NXDOMAIN, answers: [], authority: [soa(data, name)]}
  if (found === 'nodata') {
    if (type === TYPE.SOA && data.zoneSet.has(name))
      return {rcode: RCODE.NOERROR, answers: [soa(data, name)], authority: []}
    return {rcode: RCODE.NOERROR, answers: [], authority: [soa(data, name)]}
  }
  return answerEntry(data, name, found, type, new Set([name]))
}

function answerEntry(data: ZoneData, owner: string, entry: NameEntry, type: number, seen: Set<string>): AuthAnswer {
  if (entry.cname) {
    const cname: Rr = {name: owner, type: TYPE.CNAME, class: CLASS_IN, ttl: entry.ttl, domain: entry.cname}
    if (type === TYPE.CNAME || type === TYPE.ANY) return {rcode: RCODE.NOERROR, answers: [cname], authority: []}
    // A loop (or a chain longer than any sane one) has no answer: SERVFAIL, as a resolver would give.
    if (seen.has(entry.cname) || seen.size > MAX_CNAME_CHAIN) return {rcode: RCODE.SERVFAIL, answers: [], authority: []}
    seen.add(entry.cname)
    const target = lookup(data, entry.cname)
    if (!target) return {rcode: RCODE.NOERROR, answers: [cname], authority: []}
    if (target === 'nxdomain') return {rcode: RCODE.NXDOMAIN, answers: [cname], authority: [soa(data, entry.cname)]}
    if (target === 'nodata') return {rcode: RCODE.NOERROR, answers: [cname], authority: [soa(data, entry.cname)]}
    const rest = answerEntry(data, entry.cname, target, type, seen)
    if (rest.rcode === RCODE.SERVFAIL) return rest
    return {rcode: rest.rcode, answers: [cname, ...rest.answers], authority: rest.authority}
  }
  const a = entry.a.map((address) => ({name: owner, type: TYPE.A, class: CLASS_IN, ttl: entry.ttl, address}))
  const aaaa = entry.aaaa.map((address) => ({name: owner, type: TYPE.AAAA, class: CLASS_IN, ttl: entry.ttl, address}))
  let answers: Rr[] = []
  if (type === TYPE.A) answers = a
  else if (type === TYPE.AAAA) answers = aaaa
  else if (type === TYPE.ANY)
    answers = a.length > 0 ? a : aaaa // RFC 8482: one RRset is enough
  else if (type === TYPE.SOA && data.zoneSet.has(owner)) answers = [soa(data, owner)]
  if (answers.length > 0) return {rcode: RCODE.NOERROR, answers, authority: []}
  return {rcode: RCODE.NOERROR, answers: [], authority: [soa(data, owner)]}
}

/** An entry, or whether the name is in a served zone without one. Undefined: not ours. */
function lookup(data: ZoneData, name: string): NameEntry | 'nxdomain' | 'nodata' | undefined {
  const exact = data.names.get(name)
  if (exact) return exact
  const zone = ancestorIn(name, data.zoneSet)
  if (data.nodes.has(name)) return 'nodata'
  // Closest encloser: the nearest ancestor that exists; only its wildcard may match.
  let ancestor = parentName(name)
  while (ancestor !== undefined) {
    if (data.nodes.has(ancestor) || data.names.has(ancestor) || data.names.has(`*.${ancestor}`)) {
      const wildcard = data.names.get(`*.${ancestor}`)
      if (wildcard) return wildcard
      break
    }
    ancestor = parentName(ancestor)
  }
  return zone === undefined ? undefined : 'nxdomain'
}

/** The SOA of the zone holding `name` (the name itself when it is in no zone). */
export function soa(data: ZoneData, name: string): Rr {
  const zone = ancestorIn(name, data.zoneSet) ?? name
  return {
    name: zone,
    type: TYPE.SOA,
    class: CLASS_IN,
    ttl: data.ttl,
    primary: zone === '' ? 'localhost' : `ns.${zone}`,
    admin: zone === '' ? 'hostmaster.localhost' : `hostmaster.${zone}`,
    serial: data.serial,
    refresh: 3600,
    retry: 600,
    expiration: 86400,
    minimum: data.ttl,
  }
}

export interface EncodedAnswer {
  /** The whole answer without OPT; ID 0, RD 0: patched per query. */
  plain: Buffer
  /** The same with our OPT record appended. */
  edns: Buffer
  rcode: number
  /** Byte length of the question as encoded (for case patching). */
  questionLength: number
}

/** Encodes an authoritative answer with dns2's encoder, ready to be patched per query. */
export function encodeAnswer(
  question: {name: string; type: number; klass: number},
  answer: AuthAnswer,
  options: {ra: boolean; maxUdpSize: number},
): EncodedAnswer {
  let plain = encodePlain(question, answer, options)
  if (plain.length > MAX_MESSAGE - OPT_LENGTH) {
    // Too big even for TCP (an RRset of thousands): the most records that fit, with the OPT too.
    let low = 0
    let high = answer.answers.length
    while (low < high) {
      const middle = Math.ceil((low + high) / 2)
      const trial = encodePlain(question, {...answer, answers: answer.answers.slice(0, middle), authority: []}, options)
      if (trial.length <= MAX_MESSAGE - OPT_LENGTH) low = middle
      else high = middle - 1
    }
    plain = encodePlain(question, {...answer, answers: answer.answers.slice(0, low), authority: []}, options)
  }
  return {
    plain,
    edns: withOpt(plain, options.maxUdpSize),
    rcode: answer.rcode,
    questionLength: wireLength(question.name) + 4,
  }
}

/** The largest DNS message (TCP's two-byte length). */
export const MAX_MESSAGE = 65535
const OPT_LENGTH = 11

function encodePlain(
  question: {name: string; type: number; klass: number},
  answer: AuthAnswer,
  options: {ra: boolean},
): Buffer {
  const packet = new Packet()
  packet.header = new Packet.Header({
    id: 0,
    qr: 1,
    opcode: 0,
    aa: 1,
    rd: 0,
    ra: options.ra ? 1 : 0,
    rcode: answer.rcode,
  })
  packet.questions = [new Packet.Question(question.name, question.type, question.klass)]
  packet.answers = answer.answers.map((rr) => new Packet.Resource(rr))
  packet.authorities = answer.authority.map((rr) => new Packet.Resource(rr))
  // dns2's type has no writer parameter; the method takes one.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
  return (packet.toBuffer as (writer?: unknown) => Buffer)(new ByteWriter())
}

/**
 * An answer cut to `limit` bytes for UDP: the header and question, as many whole answer records as
 * fit (authority and additional records dropped), our OPT when the client sent one, and TC set so the
 * client asks again over TCP. Records are cut at their boundaries; compression pointers only point
 * backwards, so what is kept stays valid.
 */
export function truncateTo(full: Buffer, questionEnd: number, limit: number, edns: boolean, udpSize: number): Buffer {
  const records = walkRecords(full, questionEnd) ?? []
  const room = limit - (edns ? OPT_LENGTH : 0)
  let end = questionEnd
  let count = 0
  for (const record of records) {
    if (record.section !== 'answer' || record.end > room) break
    end = record.end
    count++
  }
  const out = Buffer.alloc(end)
  full.copy(out, 0, 0, end)
  out[2] = out[2]! | 0x02
  out.writeUInt16BE(count, 6)
  out.writeUInt16BE(0, 8)
  out.writeUInt16BE(0, 10)
  return edns ? withOpt(out, udpSize) : out
}

/** Offset just after the question of a well-formed message. */
export function questionEnd(message: Buffer): number {
  let p = HEADER
  while (p < message.length && message[p] !== 0) {
    if ((message[p]! & 0xc0) === 0xc0) return p + 2 + 4
    p += message[p]! + 1
  }
  return p + 1 + 4
}

/** Appends an OPT record (our UDP size, version 0, no options) and counts it. */
export function withOpt(message: Buffer, udpSize: number, extendedRcode = 0): Buffer {
  const out = Buffer.alloc(message.length + 11)
  message.copy(out)
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10)
  const p = message.length
  out[p] = 0
  out.writeUInt16BE(TYPE.OPT, p + 1)
  out.writeUInt16BE(udpSize, p + 3)
  out[p + 5] = extendedRcode
  return out
}

function wireLength(name: string): number {
  return name === '' ? 1 : name.length + 2
}

/**
 * A drop-in for dns2's bit-array `Packet.Writer` (same methods, so dns2's
 * encoders run unchanged) that writes whole bytes directly: dns2's own
 * writer keeps one array element per bit and costs milliseconds per packet.
 */
export class ByteWriter {
  /** Compression table dns2's name encoder fills (RFC 1035 §4.1.4). */
  names = new Map<string, number>()
  private buf = Buffer.alloc(512)
  private bits = 0

  write(value: number, size: number): void {
    if ((this.bits & 7) === 0 && (size & 7) === 0) {
      const bytes = size >> 3
      this.ensure(bytes)
      let offset = this.bits >> 3
      for (let i = bytes - 1; i >= 0; i--) this.buf[offset++] = Math.floor(value / 2 ** (8 * i)) & 0xff
      this.bits += size
      return
    }
    this.ensure(Math.ceil(size / 8) + 1)
    for (let i = size - 1; i >= 0; i--) {
      const bit = Math.floor(value / 2 ** i) & 1
      const byte = this.bits >> 3
      const shift = 7 - (this.bits & 7)
      this.buf[byte] = bit ? this.buf[byte]! | (1 << shift) : this.buf[byte]! & ~(1 << shift)
      this.bits++
    }
  }

  writeBuffer(other: {buffer: number[]} | ByteWriter): void {
    if (other instanceof ByteWriter) {
      const bytes = other.toBuffer()
      for (const b of bytes) this.write(b, 8)
      return
    }
    for (const bit of other.buffer) this.write(bit, 1)
  }

  bitLength(): number {
    return this.bits
  }

  byteLength(): number {
    return this.bits / 8
  }

  patch(bitOffset: number, value: number, size: number): void {
    const saved = this.bits
    this.bits = bitOffset
    this.write(value, size)
    this.bits = Math.max(saved, this.bits)
  }

  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, Math.ceil(this.bits / 8)))
  }

  private ensure(bytes: number): void {
    const need = (this.bits >> 3) + bytes + 1
    if (need <= this.buf.length) return
    const bigger = Buffer.alloc(Math.max(need, this.buf.length * 2))
    this.buf.copy(bigger)
    this.buf = bigger
  }
}
