/**
 * The DNS server's counters (kept in plain arrays; the native threads add
 * theirs), the shape of a pre-encoded answer, and the per-query patch of the
 * full path (the native answerer's `patch()` in native/dns_core.h does the same).
 */
import {HEADER, RCODE} from './wire.js'

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
  /** Forwarded answers the native threads sent from the cache. */
  nativeCacheHits = 0
  /** TCP connections closed by a bound: per-source limit, message deadline, idle, output cap. */
  tcpClosed = {perSource: 0, messageTimeout: 0, idle: 0, outputLimit: 0}

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

  /** Adds a native thread's counters. */
  merge(other: DnsStatsJson & {cacheHits?: number}): void {
    this.nativeCacheHits += other.cacheHits ?? 0
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
