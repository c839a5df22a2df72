import dgram from 'node:dgram'

/**
 * A loopback upstream resolver that misbehaves on purpose, by question name:
 * - `ttl.hostile.test` A: TTL 0xFFFFFFFF, an unrelated answer record, an additional record, trailing junk;
 * - `chain.hostile.test` A: a CNAME to `target.hostile.test`, its A, and an unrelated A;
 * - `neg.hostile.test`: NXDOMAIN with a SOA (TTL 3600, MINIMUM 30);
 * - `silent*`: no answer at all;
 * - `txt*` TXT: about 1 000 bytes of text, TTL 300;
 * - anything else: A 9.9.9.9, TTL 300.
 * Counts the questions it got, by name.
 */
export class HostileUpstream {
  readonly asked = new Map<string, number>()
  private socket = dgram.createSocket('udp4')
  port = 0

  async start(): Promise<void> {
    this.socket.on('message', (msg, rinfo) => {
      const answer = this.answer(msg)
      if (answer) this.socket.send(answer, rinfo.port, rinfo.address)
    })
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve))
    this.port = this.socket.address().port
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()))
  }

  private answer(msg: Buffer): Buffer | undefined {
    let p = 12
    const labels: string[] = []
    while (msg[p]) {
      labels.push(msg.subarray(p + 1, p + 1 + msg[p]!).toString('latin1'))
      p += msg[p]! + 1
    }
    const qend = p + 5
    const name = labels.join('.').toLowerCase()
    const type = msg.readUInt16BE(p + 1)
    this.asked.set(name, (this.asked.get(name) ?? 0) + 1)
    if (name.startsWith('silent')) return undefined
    const question = msg.subarray(12, qend)
    const head = (an: number, ns: number, ar: number, rcode = 0) => {
      const h = Buffer.alloc(12)
      msg.copy(h, 0, 0, 2)
      h[2] = 0x81
      h[3] = 0x80 | rcode
      h.writeUInt16BE(1, 4)
      h.writeUInt16BE(an, 6)
      h.writeUInt16BE(ns, 8)
      h.writeUInt16BE(ar, 10)
      return h
    }
    if (name === 'ttl.hostile.test')
      return Buffer.concat([
        head(2, 0, 1),
        question,
        rr([0xc0, 12], 1, 0xffffffff, Buffer.from([1, 2, 3, 4])),
        rr(wire('evil.other.test'), 1, 60, Buffer.from([6, 6, 6, 6])),
        rr(wire('x.other.test'), 1, 60, Buffer.from([7, 7, 7, 7])),
        Buffer.from('JUNKJUNKJUNK'),
      ])
    if (name === 'chain.hostile.test')
      return Buffer.concat([
        head(3, 0, 0),
        question,
        rr([0xc0, 12], 5, 300, wire('target.hostile.test')),
        rr(wire('target.hostile.test'), 1, 300, Buffer.from([5, 5, 5, 5])),
        rr(wire('unrelated.hostile.test'), 1, 300, Buffer.from([6, 6, 6, 6])),
      ])
    if (name === 'neg.hostile.test') {
      const soa = Buffer.concat([wire('ns.hostile.test'), wire('admin.hostile.test'), Buffer.alloc(20)])
      soa.writeUInt32BE(30, soa.length - 4)
      return Buffer.concat([head(0, 1, 0, 3), question, rr(wire('hostile.test'), 6, 3600, soa)])
    }
    if (name.startsWith('txt') && type === 16) {
      const text = Buffer.alloc(1000, 0x61)
      return Buffer.concat([
        head(1, 0, 0),
        question,
        rr(
          [0xc0, 12],
          16,
          300,
          Buffer.concat([
            Buffer.from([250]),
            text.subarray(0, 250),
            Buffer.from([250]),
            text.subarray(0, 250),
            Buffer.from([250]),
            text.subarray(0, 250),
            Buffer.from([240]),
            text.subarray(0, 240),
          ]),
        ),
      ])
    }
    if (type !== 1) return Buffer.concat([head(0, 0, 0), question])
    return Buffer.concat([head(1, 0, 0), question, rr([0xc0, 12], 1, 300, Buffer.from([9, 9, 9, 9]))])
  }
}

function wire(name: string): Buffer {
  return Buffer.concat([
    ...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0]),
  ])
}

function rr(owner: number[] | Buffer, type: number, ttl: number, rdata: Buffer): Buffer {
  const fixed = Buffer.alloc(10)
  fixed.writeUInt16BE(type, 0)
  fixed.writeUInt16BE(1, 2)
  fixed.writeUInt32BE(ttl, 4)
  fixed.writeUInt16BE(rdata.length, 8)
  return Buffer.concat([Buffer.from(owner), fixed, rdata])
}
