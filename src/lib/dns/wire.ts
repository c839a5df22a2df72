/**
 * Reading DNS messages straight from the buffer: cheap structural checks
 * (every name, pointer and length inside the message, no pointer loops, the
 * counts matching the content) done before anything else touches a packet,
 * and the few fields the server needs. dns2 parses only what passed here.
 */

export const HEADER = 12
export const MAX_NAME = 255
export const TYPE = {A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, ANY: 255}
export const CLASS_IN = 1
export const RCODE = {NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16}

export interface Opt {
  udpSize: number
  version: number
  dnssecOk: boolean
}

export interface Query {
  id: number
  /** Header bytes 2–3. */
  flags: number
  opcode: number
  rd: boolean
  cd: boolean
  /** Lower case, no trailing dot; `''` is the root. */
  name: string
  type: number
  klass: number
  /** Offset just after the question. */
  questionEnd: number
  opt?: Opt
  /** More than one OPT, or an OPT that is not well-formed. */
  badOpt?: boolean
}

export type Scan =
  | {kind: 'query'; query: Query}
  /** Not worth an answer: too short to carry an ID, or a response (no reflection). */
  | {kind: 'drop'; reason: string}
  /** A header we can answer, with an error rcode. */
  | {kind: 'error'; rcode: number; id: number; flags: number; question?: Buffer; reason: string}

/** End offset of the name at `offset` (following no pointers), or -1 when malformed. */
export function skipName(buf: Uint8Array, offset: number, end = buf.length): number {
  let p = offset
  let total = 1
  for (;;) {
    if (p >= end) return -1
    const len = buf[p]!
    if (len === 0) return p + 1
    if ((len & 0xc0) === 0xc0) {
      if (p + 2 > end) return -1
      const target = ((len & 0x3f) << 8) | buf[p + 1]!
      if (target >= p || !validPointerTarget(buf, target, p, end)) return -1
      return p + 2
    }
    if (len & 0xc0) return -1
    total += len + 1
    if (total > MAX_NAME) return -1
    p += len + 1
  }
}

/** Follows a pointer chain from `target`; every hop must go backwards, so loops are impossible. */
function validPointerTarget(buf: Uint8Array, target: number, limit: number, end: number): boolean {
  let p = target
  let total = 1
  let hops = 0
  if (p < HEADER) return false
  for (;;) {
    if (p >= end || p >= limit) return false
    const len = buf[p]!
    if (len === 0) return true
    if ((len & 0xc0) === 0xc0) {
      if (p + 2 > end || ++hops > 64) return false
      const next = ((len & 0x3f) << 8) | buf[p + 1]!
      if (next >= p || next < HEADER) return false
      limit = p
      p = next
      continue
    }
    if (len & 0xc0) return false
    total += len + 1
    if (total > MAX_NAME) return false
    p += len + 1
  }
}

/** Reads a (possibly compressed) name, lower-cased; undefined when malformed. */
export function readName(buf: Uint8Array, offset: number): {name: string; end: number} | undefined {
  const end = skipName(buf, offset)
  if (end < 0) return undefined
  const labels: string[] = []
  let p = offset
  let hops = 0
  for (;;) {
    const len = buf[p]!
    if (len === 0) break
    if ((len & 0xc0) === 0xc0) {
      if (++hops > 64) return undefined
      p = ((len & 0x3f) << 8) | buf[p + 1]!
      continue
    }
    let label = ''
    for (let i = p + 1; i <= p + len; i++) {
      const c = buf[i]!
      label += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c)
    }
    labels.push(label)
    p += len + 1
  }
  return {name: labels.join('.'), end}
}

export interface ResourceRef {
  /** Offset of the owner name. */
  start: number
  type: number
  klass: number
  ttlOffset: number
  rdataOffset: number
  rdlength: number
  end: number
  section: 'answer' | 'authority' | 'additional'
}

/** Walks every resource record after the question; undefined when anything is out of bounds. */
export function walkRecords(buf: Uint8Array, questionEnd: number, end = buf.length): ResourceRef[] | undefined {
  const an = (buf[6]! << 8) | buf[7]!
  const ns = (buf[8]! << 8) | buf[9]!
  const ar = (buf[10]! << 8) | buf[11]!
  const out: ResourceRef[] = []
  let p = questionEnd
  const total = an + ns + ar
  for (let i = 0; i < total; i++) {
    const nameEnd = skipName(buf, p, end)
    if (nameEnd < 0 || nameEnd + 10 > end) return undefined
    const type = (buf[nameEnd]! << 8) | buf[nameEnd + 1]!
    const klass = (buf[nameEnd + 2]! << 8) | buf[nameEnd + 3]!
    const rdlength = (buf[nameEnd + 8]! << 8) | buf[nameEnd + 9]!
    const rdataOffset = nameEnd + 10
    if (rdataOffset + rdlength > end) return undefined
    out.push({
      start: p,
      type,
      klass,
      ttlOffset: nameEnd + 4,
      rdataOffset,
      rdlength,
      end: rdataOffset + rdlength,
      section: i < an ? 'answer' : i < an + ns ? 'authority' : 'additional',
    })
    p = rdataOffset + rdlength
  }
  return out
}

/** Full structural check of a query and the fields the server needs. */
export function scanQuery(buf: Uint8Array, length = buf.length): Scan {
  if (length < HEADER) return {kind: 'drop', reason: 'shorter than a header'}
  const id = (buf[0]! << 8) | buf[1]!
  const flags = (buf[2]! << 8) | buf[3]!
  if (flags & 0x8000) return {kind: 'drop', reason: 'a response, not a query'}
  const opcode = (flags >> 11) & 0xf
  const qd = (buf[4]! << 8) | buf[5]!
  const an = (buf[6]! << 8) | buf[7]!
  const ns = (buf[8]! << 8) | buf[9]!
  if (opcode !== 0) return {kind: 'error', rcode: RCODE.NOTIMP, id, flags, reason: `opcode ${opcode}`}
  if (qd !== 1) return {kind: 'error', rcode: RCODE.FORMERR, id, flags, reason: `${qd} questions`}
  const nameEnd = skipName(buf, HEADER, length)
  if (nameEnd < 0 || nameEnd + 4 > length)
    return {kind: 'error', rcode: RCODE.FORMERR, id, flags, reason: 'malformed question'}
  const questionEnd = nameEnd + 4
  const question = Buffer.from(buf.subarray(HEADER, questionEnd))
  if (an !== 0 || ns !== 0)
    return {kind: 'error', rcode: RCODE.FORMERR, id, flags, question, reason: 'records in a query'}
  const view = buf.subarray(0, length)
  const records = walkRecords(view, questionEnd, length)
  if (!records) return {kind: 'error', rcode: RCODE.FORMERR, id, flags, question, reason: 'malformed records'}
  const last = records.length > 0 ? records[records.length - 1]!.end : questionEnd
  if (last !== length) return {kind: 'error', rcode: RCODE.FORMERR, id, flags, question, reason: 'trailing bytes'}
  const read = readName(view, HEADER)
  if (!read) return {kind: 'error', rcode: RCODE.FORMERR, id, flags, question, reason: 'malformed question'}
  // `\x08nas.home\x03lan` is not nas.home.lan: a dot inside a label has no text form we could match.
  if (labelHoldsDot(view, HEADER, nameEnd))
    return {kind: 'error', rcode: RCODE.FORMERR, id, flags, question, reason: 'a label holds a dot'}
  let opt: Opt | undefined
  let badOpt = false
  for (const record of records) {
    if (record.type !== TYPE.OPT) continue
    if (opt || buf[record.start] !== 0) badOpt = true
    opt = {
      udpSize: Math.max(512, record.klass),
      version: buf[record.ttlOffset + 1]!,
      dnssecOk: (buf[record.ttlOffset + 2]! & 0x80) !== 0,
    }
    // Options must tile the rdata exactly.
    let p = record.rdataOffset
    while (p < record.end) {
      if (p + 4 > record.end) {
        badOpt = true
        break
      }
      p += 4 + ((buf[p + 2]! << 8) | buf[p + 3]!)
    }
    if (p !== record.end) badOpt = true
  }
  return {
    kind: 'query',
    query: {
      id,
      flags,
      opcode,
      rd: (flags & 0x0100) !== 0,
      cd: (flags & 0x0010) !== 0,
      name: read.name,
      type: (buf[nameEnd]! << 8) | buf[nameEnd + 1]!,
      klass: (buf[nameEnd + 2]! << 8) | buf[nameEnd + 3]!,
      questionEnd,
      opt,
      badOpt: badOpt || undefined,
    },
  }
}

function labelHoldsDot(buf: Uint8Array, offset: number, end: number): boolean {
  for (let p = offset; p < end && buf[p] !== 0; p += buf[p]! + 1) {
    for (let i = p + 1; i <= p + buf[p]! && i < end; i++) if (buf[i] === 0x2e) return true
  }
  return false
}

/** A bare error answer: the header (ID, opcode, RD, CD kept), the question when it was readable. */
export function errorResponse(id: number, flags: number, rcode: number, question?: Buffer, ra = false): Buffer {
  const out = Buffer.alloc(HEADER + (question?.length ?? 0))
  out.writeUInt16BE(id, 0)
  out[2] = 0x80 | ((flags >> 8) & 0x79) // QR, opcode, RD
  out[3] = (ra ? 0x80 : 0) | (flags & 0x10) | (rcode & 0xf)
  if (question) {
    out.writeUInt16BE(1, 4)
    question.copy(out, HEADER)
  }
  return out
}

export const TYPE_NAMES: Record<number, string> = {
  1: 'A',
  2: 'NS',
  5: 'CNAME',
  6: 'SOA',
  12: 'PTR',
  15: 'MX',
  16: 'TXT',
  28: 'AAAA',
  33: 'SRV',
  65: 'HTTPS',
  255: 'ANY',
}
