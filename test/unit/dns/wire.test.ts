import {Packet} from 'dns2'
import {describe, expect, it} from 'vitest'

import {RCODE, readName, scanQuery, skipName} from '../../../src/lib/dns/wire.js'

function query(name: string, type = 1, options: {opt?: boolean; id?: number} = {}): Buffer {
  const packet = new Packet()
  packet.header = new Packet.Header({id: options.id ?? 0x1234, rd: 1})
  packet.questions = [new Packet.Question(name, type, 1)]
  if (options.opt) packet.additionals = [Packet.Resource.EDNS([])]
  return packet.toBuffer()
}

describe('scanQuery', () => {
  it('reads the question, lower-casing the name, and the OPT record', () => {
    const scan = scanQuery(query('App.Home.LAN', 28, {opt: true}))
    expect(scan.kind).toBe('query')
    if (scan.kind !== 'query') return
    expect(scan.query).toMatchObject({id: 0x1234, name: 'app.home.lan', type: 28, klass: 1, rd: true})
    expect(scan.query.opt).toMatchObject({udpSize: 4096, version: 0, dnssecOk: false})
  })

  it('drops what is too short to answer and responses (no reflection)', () => {
    expect(scanQuery(Buffer.alloc(5)).kind).toBe('drop')
    const response = query('a.lan')
    response[2] = response[2]! | 0x80
    expect(scanQuery(response)).toMatchObject({kind: 'drop'})
  })

  it('answers FORMERR for truncated questions, trailing bytes and two questions', () => {
    const q = query('app.home.lan')
    expect(scanQuery(q.subarray(0, q.length - 3))).toMatchObject({kind: 'error', rcode: RCODE.FORMERR, id: 0x1234})
    expect(scanQuery(Buffer.concat([q, Buffer.from([1, 2, 3])]))).toMatchObject({kind: 'error', rcode: RCODE.FORMERR})
    const two = Buffer.from(q)
    two.writeUInt16BE(2, 4)
    expect(scanQuery(two)).toMatchObject({kind: 'error', rcode: RCODE.FORMERR})
  })

  it('rejects compression pointers that loop or point forward', () => {
    const header = Buffer.from('abcd0100000100000000000', 'hex').subarray(0, 12)
    // The question name is a pointer to itself.
    const loop = Buffer.concat([header, Buffer.from([0xc0, 12, 0, 1, 0, 1])])
    expect(scanQuery(loop)).toMatchObject({kind: 'error', rcode: RCODE.FORMERR})
    // Two labels pointing at each other.
    const pair = Buffer.concat([header, Buffer.from([1, 0x61, 0xc0, 17, 1, 0x62, 0xc0, 12, 0, 1, 0, 1])])
    expect(skipName(pair, 12)).toBe(-1)
    expect(scanQuery(pair)).toMatchObject({kind: 'error', rcode: RCODE.FORMERR})
  })

  it('rejects names over 255 octets and labels over 63', () => {
    const long = Buffer.concat([
      Buffer.from('abcd01000001000000000000', 'hex'),
      ...Array.from({length: 5}, () => Buffer.concat([Buffer.from([60]), Buffer.alloc(60, 0x61)])),
      Buffer.from([0, 0, 1, 0, 1]),
    ])
    expect(scanQuery(long)).toMatchObject({kind: 'error', rcode: RCODE.FORMERR})
    const label = Buffer.concat([
      Buffer.from('abcd01000001000000000000', 'hex'),
      Buffer.from([64]),
      Buffer.alloc(64, 0x61),
      Buffer.from([0, 0, 1, 0, 1]),
    ])
    expect(scanQuery(label)).toMatchObject({kind: 'error', rcode: RCODE.FORMERR})
  })

  it('answers NOTIMP for other opcodes and flags a broken OPT', () => {
    const update = query('a.lan')
    update[2] = (update[2]! & 0x87) | (5 << 3)
    expect(scanQuery(update)).toMatchObject({kind: 'error', rcode: RCODE.NOTIMP})
    const q = query('a.lan', 1, {opt: true})
    const badOpt = Buffer.concat([q.subarray(0, q.length - 2), Buffer.from([0, 3, 0, 1])])
    const scan = scanQuery(badOpt)
    // rdlength 3 holding a 4-byte option header: out of bounds.
    expect(scan.kind).toBe('error')
  })

  it('reads compressed names with readName', () => {
    const buf = Buffer.concat([
      Buffer.alloc(12),
      Buffer.from([3, 0x41, 0x70, 0x70, 3, 0x6c, 0x61, 0x6e, 0, 1, 0x78, 0xc0, 16]),
    ])
    expect(readName(buf, 12)).toEqual({name: 'app.lan', end: 21})
    expect(readName(buf, 21)?.name).toBe('x.lan')
  })
})
