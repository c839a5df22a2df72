/**
 * The UDP hot path, shared by the server and its worker processes: read the
 * question straight from the packet, look the answer up in the table of
 * pre-encoded responses, patch the query's ID, flags and name bytes in, and
 * send it through the socket handle. No objects are built per query.
 */
import type dgram from 'node:dgram'
import {performance} from 'node:perf_hooks'

import {HEADER, RCODE, TYPE} from './wire.js'

/** Query types counted separately in metrics; everything else is `other`. */
export const METRIC_TYPES = ['A', 'AAAA', 'PTR', 'CNAME', 'SOA', 'ANY', 'MX', 'TXT', 'SRV', 'NS', 'HTTPS', 'other']
const TYPE_INDEX = new Map<number, number>([
  [1, 0],
  [28, 1],
  [12, 2],
  [5, 3],
  [6, 4],
  [255, 5],
  [15, 6],
  [16, 7],
  [33, 8],
  [2, 9],
  [65, 10],
])
export const METRIC_RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'BADVERS', 'other']
export const ANSWER_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
]

export function metricIndex(type: number, rcode: number): number {
  const t = TYPE_INDEX.get(type) ?? 11
  const r = rcode <= 5 ? rcode : rcode === RCODE.BADVERS ? 6 : 7
  return t * METRIC_RCODES.length + r
}

/** Counters kept in plain arrays on the hot path; the metrics registry reads them when scraped. */
export class DnsStats {
  readonly queries = new Float64Array(METRIC_TYPES.length * METRIC_RCODES.length)
  answerSum = 0
  answerCount = 0
  /** `overloaded`: queries the native threads could not hand to JavaScript (its queue was full). */
  dropped = {malformed: 0, rateLimited: 0, tcpRejected: 0, overloaded: 0}
  sendErrors = 0

  /** Per-bucket (not cumulative) counts: one increment per answer on the hot path. */
  private readonly perBucket = new Float64Array(ANSWER_BUCKETS.length)

  observe(seconds: number): void {
    this.answerSum += seconds
    this.answerCount++
    let i = 0
    while (i < ANSWER_BUCKETS.length && seconds > ANSWER_BUCKETS[i]!) i++
    if (i < ANSWER_BUCKETS.length) this.perBucket[i]!++
  }

  toJSON(): DnsStatsJson {
    return {
      queries: [...this.queries],
      perBucket: [...this.perBucket],
      answerSum: this.answerSum,
      answerCount: this.answerCount,
      dropped: {...this.dropped},
      sendErrors: this.sendErrors,
    }
  }

  /** Adds a worker's counters. */
  merge(other: DnsStatsJson): void {
    other.queries.forEach((v, i) => (this.queries[i]! += v))
    other.perBucket.forEach((v, i) => (this.perBucket[i]! += v))
    this.answerSum += other.answerSum
    this.answerCount += other.answerCount
    this.dropped.malformed += other.dropped.malformed
    this.dropped.rateLimited += other.dropped.rateLimited
    this.dropped.tcpRejected += other.dropped.tcpRejected
    this.dropped.overloaded += other.dropped.overloaded
    this.sendErrors += other.sendErrors
  }

  /** Cumulative bucket counts, as Prometheus wants them. */
  cumulative(): number[] {
    const out: number[] = []
    let sum = 0
    for (const n of this.perBucket) out.push((sum += n))
    return out
  }

  total(): number {
    let n = 0
    for (const v of this.queries) n += v
    return n
  }
}

export interface DnsStatsJson {
  queries: number[]
  perBucket: number[]
  answerSum: number
  answerCount: number
  dropped: {malformed: number; rateLimited: number; tcpRejected: number; overloaded: number}
  sendErrors: number
}

/** A pre-encoded answer. */
export interface HotEntry {
  /** Without OPT; ID 0: patched per query. */
  plain: Buffer
  /** With our OPT record. */
  edns: Buffer
  rcode: number
  /** Byte length of the question as encoded. */
  questionLength: number
  /** Index into `DnsStats.queries`. */
  metric: number
}

/** Sends `out`; false when the socket kept the buffer (queued), so it must not be patched again. */
export type SendFn = (out: Buffer, port: number, address: string) => boolean

/** Details of the last `lookupFast` hit (module scratch: no allocation per query). */
export const hit = {edns: false, qend: 0}

/**
 * The entry answering `msg` when it is a plain query (one question, class IN,
 * no records but an OPT that ends the message) for a name in the tables and
 * the answer fits the client's UDP size; undefined sends it down the full path.
 */
export function lookupFast(
  msg: Buffer,
  table: Map<string, HotEntry>,
  dynamic: Map<string, HotEntry> | undefined,
  maxUdp: number,
): HotEntry | undefined {
  const len = msg.length
  if (len < 17 || len > 512 || (msg[2]! & 0xfe) !== 0 || (msg[3]! & 0x0f) !== 0) return undefined
  if (msg[4] !== 0 || msg[5] !== 1 || msg[6] !== 0 || msg[7] !== 0 || msg[8] !== 0 || msg[9] !== 0) return undefined
  if (msg[10] !== 0 || msg[11]! > 1) return undefined
  let p = HEADER
  let upper = false
  for (;;) {
    // A name cut off by the end of the packet (no root label): without this, `msg[p]` is undefined and p NaN.
    if (p >= len) return undefined
    const l = msg[p]!
    if (l === 0) break
    if (l > 63) return undefined
    const e = p + l
    if (e >= len) return undefined
    for (let i = p + 1; i <= e; i++) {
      const c = msg[i]!
      if (c >= 0x41 && c <= 0x5a) upper = true
    }
    p = e + 1
  }
  const qend = p + 5
  if (qend > len) return undefined
  let edns = false
  let limit = 512
  if (msg[11] === 1) {
    // The OPT record must follow the question and end the message.
    if (qend + 11 > len || msg[qend] !== 0 || msg[qend + 1] !== 0 || msg[qend + 2] !== TYPE.OPT) return undefined
    if (msg[qend + 5] !== 0 || msg[qend + 6] !== 0) return undefined // extended rcode / version 0 only
    const rdlen = (msg[qend + 9]! << 8) | msg[qend + 10]!
    if (qend + 11 + rdlen !== len) return undefined
    for (let o = qend + 11; o < len;) {
      if (o + 4 > len) return undefined
      o += 4 + ((msg[o + 2]! << 8) | msg[o + 3]!)
      if (o > len) return undefined
    }
    edns = true
    const size = (msg[qend + 3]! << 8) | msg[qend + 4]!
    limit = size < 512 ? 512 : size > maxUdp ? maxUdp : size
  } else if (qend !== len) return undefined
  const key = upper ? lowerKey(msg, qend) : (msg as unknown as Latin1).latin1Slice(HEADER, qend)
  const entry = table.get(key) ?? dynamic?.get(key)
  if (entry === undefined) return undefined
  const out = edns ? entry.edns : entry.plain
  if (out.length > limit || entry.questionLength !== qend - HEADER) return undefined
  hit.edns = edns
  hit.qend = qend
  return entry
}

/** The whole hot path with the direct sender; false: not answered here. */
export function answerFast(
  msg: Buffer,
  address: string,
  port: number,
  send: SendFn | undefined,
  table: Map<string, HotEntry>,
  dynamic: Map<string, HotEntry> | undefined,
  maxUdp: number,
  stats: DnsStats,
  started: number,
): boolean {
  if (!send) return false
  const entry = lookupFast(msg, table, dynamic, maxUdp)
  if (entry === undefined) return false
  const edns = hit.edns
  const out = edns ? entry.edns : entry.plain
  patch(out, msg, hit.qend, edns)
  if (!send(out, port, address)) {
    // The queued buffer belongs to the socket now; later queries get a fresh copy.
    if (edns) entry.edns = Buffer.from(out)
    else entry.plain = Buffer.from(out)
  }
  stats.queries[entry.metric]!++
  stats.observe((performance.now() - started) / 1000)
  return true
}

interface RawHandle {
  send(req: object, list: Buffer[], count: number, port: number, address: string, hasCallback: boolean): number
  onmessage: (nread: number, handle: unknown, buf: Buffer, rinfo: {address: string; port: number}) => void
}

/**
 * Takes over the socket's receive callback and sends through the handle
 * directly (no per-packet event emitter, DNS lookup of the peer address or
 * callback allocation). Returns false, changing nothing, when Node's
 * internals are not what we expect (the caller then uses the public API).
 */
export function attachRaw(
  socket: dgram.Socket,
  onPacket: (msg: Buffer, address: string, port: number, send: SendFn) => void,
  onSendError: () => void,
  onFailure: (error: unknown) => void,
): boolean {
  let handle: RawHandle | undefined
  let SendWrap: (new () => object) | undefined
  try {
    const candidate = socketHandle(socket) as Partial<RawHandle> | undefined
    const binding = (process as unknown as {binding(name: string): {SendWrap?: new () => object}}).binding('udp_wrap')
    if (candidate && typeof candidate.send === 'function' && 'onmessage' in candidate && binding.SendWrap) {
      handle = candidate as RawHandle
      SendWrap = binding.SendWrap
    }
  } catch {
    handle = undefined
  }
  if (!handle || !SendWrap) return false
  const Wrap = SendWrap
  let req = new Wrap()
  const list: Buffer[] = [Buffer.alloc(0)]
  const raw = handle
  const send: SendFn = (out, port, address) => {
    list[0] = out
    const result = raw.send(req, list, 1, port, address, false)
    if (result === 0) {
      // Queued: the handle holds `out` until sent; keep it alive through the request.
      ;(req as {list?: Buffer[]}).list = [out]
      req = new Wrap()
      return false
    }
    if (result < 0) onSendError()
    return true
  }
  raw.onmessage = (nread, _handle, msg, rinfo) => {
    if (nread < 0 || !msg) return
    try {
      onPacket(msg, rinfo.address, rinfo.port, send)
    } catch (error) {
      onFailure(error)
    }
  }
  return true
}

/**
 * The libuv handle (Node's internal UDPWrap) behind a bound dgram socket, kept under the socket's
 * `state symbol`; undefined when Node keeps it elsewhere. Its methods are checked by each caller.
 */
export function socketHandle(socket: dgram.Socket): unknown {
  const symbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol')
  const state = symbol ? (socket as unknown as Record<symbol, {handle?: unknown} | undefined>)[symbol] : undefined
  return state?.handle
}

function lowerKey(msg: Buffer, qend: number): string {
  const copy = Buffer.from(msg.subarray(HEADER, qend))
  const nameEnd = copy.length - 4
  for (let i = 0; i < nameEnd; i++) {
    const c = copy[i]!
    if (c >= 0x41 && c <= 0x5a) copy[i] = c | 0x20
  }
  return copy.toString('latin1')
}

/** `Buffer#latin1Slice`: what `toString('latin1', …)` calls, without its argument checks. */
interface Latin1 {
  latin1Slice(start: number, end: number): string
}

/** ID, RD and CD from the query; its name bytes (so 0x20 case randomisation survives); its DO bit. */
export function patch(out: Buffer, msg: Buffer, qend: number, edns: boolean): void {
  out[0] = msg[0]!
  out[1] = msg[1]!
  out[2] = (out[2]! & 0xfe) | (msg[2]! & 0x01)
  out[3] = (out[3]! & 0xef) | (msg[3]! & 0x10)
  const nameEnd = qend - 4
  for (let i = HEADER; i < nameEnd; i++) out[i] = msg[i]!
  if (edns) out[out.length - 4] = msg[qend + 7]! & 0x80
}
