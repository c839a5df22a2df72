import {describe, expect, it} from 'vitest'

import {truncateTo} from '../../../src/lib/dns/answer.js'
import {sanitizeAnswer} from '../../../src/lib/dns/forwarder.js'
import {walkRecords} from '../../../src/lib/dns/wire.js'

const wire = (name: string) =>
  Buffer.concat([
    ...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0]),
  ])
const question = (name: string, type = 1) => {
  const tail = Buffer.alloc(4)
  tail.writeUInt16BE(type, 0)
  tail.writeUInt16BE(1, 2)
  return Buffer.concat([wire(name), tail])
}
const rr = (owner: Buffer | number[], type: number, ttl: number, rdata: Buffer) => {
  const fixed = Buffer.alloc(10)
  fixed.writeUInt16BE(type, 0)
  fixed.writeUInt16BE(1, 2)
  fixed.writeUInt32BE(ttl, 4)
  fixed.writeUInt16BE(rdata.length, 8)
  return Buffer.concat([Buffer.from(owner), fixed, rdata])
}
const message = (q: Buffer, an: Buffer[], ns: Buffer[] = [], ar: Buffer[] = [], rcode = 0, tail = Buffer.alloc(0)) => {
  const h = Buffer.alloc(12)
  h[2] = 0x81
  h[3] = 0x80 | rcode
  h.writeUInt16BE(1, 4)
  h.writeUInt16BE(an.length, 6)
  h.writeUInt16BE(ns.length, 8)
  h.writeUInt16BE(ar.length, 10)
  return Buffer.concat([h, q, ...an, ...ns, ...ar, tail])
}
const options = {dnssecOk: false, maxTtl: 86400, maxNegativeTtl: 10800}

describe('sanitizeAnswer (upstream answers before the cache)', () => {
  it('keeps the question’s chain only, takes a top-bit TTL as 0, caps TTLs, and drops extras and trailing bytes', () => {
    const q = question('www.example.com')
    const raw = message(
      q,
      [
        rr([0xc0, 12], 5, 0xffffffff, Buffer.from([3, 0x63, 0x64, 0x6e, 0xc0, 16])), // CNAME cdn.example.com, compressed
        rr(wire('cdn.example.com'), 1, 999_999, Buffer.from([1, 2, 3, 4])),
        rr(wire('evil.example.org'), 1, 60, Buffer.from([6, 6, 6, 6])),
      ],
      [],
      [rr(wire('glue.example.org'), 1, 60, Buffer.from([7, 7, 7, 7]))],
      0,
      Buffer.from('junk'),
    )
    const clean = sanitizeAnswer(raw, q, options)!
    const out = clean.answer.message
    expect(out.readUInt16BE(6)).toBe(2)
    expect(out.readUInt16BE(10)).toBe(0)
    const records = walkRecords(out, 12 + q.length)!
    expect(records.map((r) => r.type)).toEqual([5, 1])
    expect(records[records.length - 1]!.end).toBe(out.length) // nothing after the records
    expect(records.map((r) => out.readUInt32BE(r.ttlOffset))).toEqual([0, 86400])
    expect(clean.answer.ttlOffsets).toEqual(records.map((r) => r.ttlOffset))
    expect(out.includes(Buffer.from('evil'))).toBe(false)
    expect(clean.ttl).toBe(0) // the smallest TTL: not cached
  })

  it('caches a negative answer for min(SOA TTL, MINIMUM), and refuses a message whose records overrun it', () => {
    const q = question('nope.example.com')
    const soa = Buffer.concat([wire('ns.example.com'), wire('admin.example.com'), Buffer.alloc(20)])
    soa.writeUInt32BE(30, soa.length - 4)
    const clean = sanitizeAnswer(message(q, [], [rr(wire('example.com'), 6, 3600, soa)], [], 3), q, options)!
    expect(clean.ttl).toBe(30)
    expect(clean.answer.rcode).toBe(3)
    const overrun = message(q, [rr([0xc0, 12], 1, 60, Buffer.from([1, 2, 3, 4]))])
    overrun.writeUInt16BE(3, 6) // claims three answers
    expect(sanitizeAnswer(overrun, q, options)).toBeUndefined()
  })
})

describe('truncateTo (UDP answers that do not fit)', () => {
  it('keeps the whole records that fit, sets TC, and adds our OPT when asked', () => {
    const q = question('big.home.lan')
    const records = Array.from({length: 100}, (_, i) => rr([0xc0, 12], 1, 60, Buffer.from([10, 0, 0, i])))
    const full = message(q, records)
    const cut = truncateTo(full, 12 + q.length, 512, false, 1232)
    expect(cut.length).toBeLessThanOrEqual(512)
    expect(cut[2]! & 0x02).toBe(0x02)
    expect(cut.readUInt16BE(6)).toBe(Math.floor((512 - 12 - q.length) / 16))
    const withOpt = truncateTo(full, 12 + q.length, 1232, true, 1232)
    expect(withOpt.length).toBeLessThanOrEqual(1232)
    expect(withOpt.readUInt16BE(10)).toBe(1)
  })
})
