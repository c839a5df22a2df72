import {randomInt} from 'node:crypto'
import {isIPv6} from 'node:net'

export type DnsType = 'A' | 'AAAA' | 'TXT'
export type DnsClass = 'IN' | 'CH'

export interface DnsQuery {
  /** Resolver address (an IP literal: its family is the family of the query). */
  server: string
  port: number
  name: string
  type: DnsType
  /** `CH` for `whoami.cloudflare`, which 1.1.1.1 answers only in the CHAOS class. */
  class: DnsClass
  timeoutMs: number
  signal?: AbortSignal
}

const TYPE_CODE: Record<DnsType, number> = {A: 1, AAAA: 28, TXT: 16}
const CLASS_CODE: Record<DnsClass, number> = {IN: 1, CH: 3}
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED']

/**
 * One DNS question over UDP to one resolver, answers of the asked type as text.
 * Hand-written rather than `node:dns`'s Resolver because that one cannot ask
 * in the CHAOS class, and a DNS-based IP source is exactly one packet each way.
 */
export async function queryDns(query: DnsQuery): Promise<string[]> {
  const {createSocket} = await import('node:dgram')
  const id = randomInt(0, 0x10000)
  const packet = encodeQuery(id, query.name, TYPE_CODE[query.type], CLASS_CODE[query.class])
  const socket = createSocket(isIPv6(query.server) ? 'udp6' : 'udp4')
  return new Promise<string[]>((resolve, reject) => {
    let done = false
    const finish = (error: Error | undefined, answers?: string[]) => {
      if (done) return
      done = true
      clearTimeout(timer)
      query.signal?.removeEventListener('abort', onAbort)
      socket.close()
      if (error) reject(error)
      else resolve(answers!)
    }
    const onAbort = () => finish(new Error('stopped'))
    const timer = setTimeout(() => finish(new Error(`no answer within ${query.timeoutMs / 1000}s`)), query.timeoutMs)
    query.signal?.addEventListener('abort', onAbort, {once: true})
    socket.on('error', (error) => finish(error))
    socket.on('message', (message) => {
      try {
        const answers = decodeAnswers(message, id, TYPE_CODE[query.type])
        if (answers === undefined) return // not our reply (wrong id): keep waiting
        finish(undefined, answers)
      } catch (error) {
        finish(error as Error)
      }
    })
    socket.send(packet, query.port, query.server, (error) => {
      if (error) finish(error)
    })
  })
}

export function encodeQuery(id: number, name: string, type: number, klass: number): Buffer {
  const labels = name.replace(/\.$/, '').split('.')
  const parts: Buffer[] = [Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])]
  for (const label of labels) {
    const bytes = Buffer.from(label, 'ascii')
    if (bytes.length === 0 || bytes.length > 63) throw new Error(`invalid DNS name ${name}`)
    parts.push(Buffer.from([bytes.length]), bytes)
  }
  parts.push(Buffer.from([0, type >> 8, type & 0xff, klass >> 8, klass & 0xff]))
  return Buffer.concat(parts)
}

/** The answers of `type` in a reply; undefined when the reply is for another query id. */
export function decodeAnswers(message: Buffer, id: number, type: number): string[] | undefined {
  if (message.length < 12) throw new Error('malformed DNS reply (too short)')
  if (message.readUInt16BE(0) !== id) return undefined
  const flags = message.readUInt16BE(2)
  if ((flags & 0x8000) === 0) throw new Error('malformed DNS reply (not a response)')
  if (flags & 0x0200) throw new Error('DNS reply truncated')
  const rcode = flags & 0x000f
  if (rcode !== 0) throw new Error(`DNS answer ${RCODES[rcode] ?? `rcode ${rcode}`}`)
  const questions = message.readUInt16BE(4)
  const answers = message.readUInt16BE(6)
  let offset = 12
  for (let i = 0; i < questions; i++) offset = skipName(message, offset) + 4
  const out: string[] = []
  for (let i = 0; i < answers; i++) {
    offset = skipName(message, offset)
    if (offset + 10 > message.length) throw new Error('malformed DNS reply (truncated record)')
    const rrType = message.readUInt16BE(offset)
    const length = message.readUInt16BE(offset + 8)
    const start = offset + 10
    const end = start + length
    if (end > message.length) throw new Error('malformed DNS reply (record past the end)')
    if (rrType === type) out.push(decodeRdata(message.subarray(start, end), type))
    offset = end
  }
  return out
}

function skipName(message: Buffer, offset: number): number {
  for (let guard = 0; guard < 128; guard++) {
    if (offset >= message.length) throw new Error('malformed DNS reply (name past the end)')
    const length = message[offset]!
    if ((length & 0xc0) === 0xc0) return offset + 2
    if (length === 0) return offset + 1
    offset += 1 + length
  }
  throw new Error('malformed DNS reply (name too long)')
}

function decodeRdata(data: Buffer, type: number): string {
  if (type === TYPE_CODE.A) return data.length === 4 ? [...data].join('.') : ''
  if (type === TYPE_CODE.AAAA) {
    if (data.length !== 16) return ''
    const groups: string[] = []
    for (let i = 0; i < 16; i += 2) groups.push(data.readUInt16BE(i).toString(16))
    return groups.join(':')
  }
  // TXT: one or more length-prefixed character strings, concatenated.
  let text = ''
  for (let i = 0; i < data.length;) {
    const length = data[i]!
    text += data.subarray(i + 1, i + 1 + length).toString('utf8')
    i += 1 + length
  }
  return text
}
