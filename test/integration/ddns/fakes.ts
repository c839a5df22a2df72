/**
 * Protocol-faithful stand-ins for the remote services ddns talks to, on
 * loopback port 0: a dyndns2 server (both the classic and Infomaniak wording),
 * IP echo services, a DNS resolver answering myip.opendns.com / whoami.cloudflare,
 * a DuckDNS and a Cloudflare API. Each records every request it gets.
 */
import {createSocket} from 'node:dgram'
import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

export interface SeenRequest {
  method: string
  path: string
  query: Record<string, string>
  user?: string
  password?: string
  userAgent?: string
  authorization?: string
  body?: string
  headers: Record<string, string>
}

async function listen(server: Server, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, () => resolve())
  })
  return (server.address() as AddressInfo).port
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

function seen(req: IncomingMessage, body?: string): SeenRequest {
  const url = new URL(req.url ?? '/', 'http://x')
  const authorization = req.headers.authorization
  let user: string | undefined
  let password: string | undefined
  if (authorization?.startsWith('Basic ')) {
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8')
    const i = decoded.indexOf(':')
    user = decoded.slice(0, i)
    password = decoded.slice(i + 1)
  }
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    user,
    password,
    authorization,
    userAgent: req.headers['user-agent'],
    body,
    headers: Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
    ),
  }
}

/**
 * A scripted answer: a dyndns2 body (HTTP 200), a special (`http-503`, `hang`, `400:badauth`, `401:`), or a
 * full answer with headers (`{status: 503, body: '', headers: {'retry-after': '120'}}`).
 */
export type Scripted = string | {status: number; body: string; headers?: Record<string, string>}

export interface Dyndns2Fake {
  url: string
  requests: SeenRequest[]
  /** Answers used, in order, before the normal behaviour applies. */
  script: Scripted[]
  /** Current address per `host/family`, as the provider holds it. */
  records: Map<string, string>
  close(): Promise<void>
}

export interface Dyndns2FakeOptions {
  username?: string
  password?: string
  hosts?: string[]
  /** `infomaniak`: `successfully_changed`/`no_change`, errors as HTTP 400 bodies. */
  flavour?: 'dyndns2' | 'infomaniak'
}

export async function startDyndns2(options: Dyndns2FakeOptions = {}): Promise<Dyndns2Fake> {
  const username = options.username ?? 'user'
  const password = options.password ?? 'pass-word-1'
  const hosts = new Set((options.hosts ?? ['home.example.org']).map((h) => h.toLowerCase()))
  const infomaniak = options.flavour === 'infomaniak'
  const requests: SeenRequest[] = []
  const script: Scripted[] = []
  const records = new Map<string, string>()
  const pending = new Set<ServerResponse>()
  const server = createServer((req, res) => {
    const request = seen(req)
    requests.push(request)
    const send = (status: number, body: string) => {
      res.writeHead(status, {'content-type': 'text/plain'})
      res.end(body)
    }
    const next = script.shift()
    if (next === 'hang') {
      pending.add(res)
      return
    }
    if (typeof next === 'object') {
      res.writeHead(next.status, {'content-type': 'text/plain', ...next.headers})
      res.end(next.body)
      return
    }
    if (next !== undefined) {
      const special = /^(\d{3}):(.*)$/s.exec(next)
      if (special) return send(Number(special[1]), special[2]!)
      if (/^http-(\d{3})$/.test(next)) return send(Number(next.slice(5)), 'Service Unavailable')
      return send(200, next)
    }
    if (request.path !== '/nic/update') return send(404, 'not found')
    if (request.user !== username || request.password !== password) {
      return infomaniak ? send(400, 'badauth') : send(401, 'badauth')
    }
    const host = (request.query.hostname ?? '').toLowerCase()
    if (!host.includes('.')) return send(infomaniak ? 400 : 200, 'notfqdn')
    if (!hosts.has(host)) return send(infomaniak ? 400 : 200, 'nohost')
    const ip = request.query.myip ?? ''
    const key = `${host}/${ip.includes(':') ? 6 : 4}`
    if (records.get(key) === ip) return send(200, `${infomaniak ? 'no_change' : 'nochg'} ${ip}`)
    records.set(key, ip)
    return send(200, `${infomaniak ? 'successfully_changed' : 'good'} ${ip}`)
  })
  const port = await listen(server, '127.0.0.1')
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script,
    records,
    async close() {
      for (const res of pending) res.destroy()
      await closeServer(server)
    },
  }
}

export interface EchoFake {
  url: string
  hits: number
  /** What to answer: an address, garbage, `fail` (HTTP 500), `hang` (never answers), `json:IP`. */
  answer: string
  families: number[]
  userAgents: string[]
  close(): Promise<void>
}

/** An IP echo service ("what is my IP") on 127.0.0.1 or ::1. */
export async function startEcho(answer: string, host: '127.0.0.1' | '::1' = '127.0.0.1'): Promise<EchoFake> {
  const pending = new Set<ServerResponse>()
  const fake: EchoFake = {
    url: '',
    hits: 0,
    answer,
    families: [],
    userAgents: [],
    close: async () => {
      for (const res of pending) res.destroy()
      await closeServer(server)
    },
  }
  const server = createServer((req, res) => {
    fake.hits++
    fake.families.push(req.socket.remoteFamily === 'IPv6' ? 6 : 4)
    fake.userAgents.push(req.headers['user-agent'] ?? '')
    if (fake.answer === 'hang') {
      pending.add(res)
      return
    }
    if (fake.answer === 'fail') {
      res.writeHead(500)
      res.end('internal error')
      return
    }
    if (fake.answer.startsWith('json:')) {
      res.writeHead(200, {'content-type': 'application/json'})
      res.end(JSON.stringify({ip: fake.answer.slice(5)}))
      return
    }
    res.writeHead(200, {'content-type': 'text/plain'})
    res.end(`${fake.answer}\n`)
  })
  const port = await listen(server, host)
  fake.url = host === '::1' ? `http://[::1]:${port}/` : `http://127.0.0.1:${port}/`
  return fake
}

export interface DnsFake {
  port: number
  hits: number
  /** name → answer text (A/AAAA address or TXT string); missing → NXDOMAIN. */
  answers: Map<string, string>
  close(): Promise<void>
}

/** A UDP resolver on 127.0.0.1 answering A, AAAA and TXT (any class) from `answers`. */
export async function startDns(answers: Record<string, string>): Promise<DnsFake> {
  const socket = createSocket('udp4')
  const fake: DnsFake = {
    port: 0,
    hits: 0,
    answers: new Map(Object.entries(answers)),
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  }
  socket.on('message', (msg, rinfo) => {
    fake.hits++
    let offset = 12
    const labels: string[] = []
    while (msg[offset]! > 0) {
      const len = msg[offset]!
      labels.push(msg.subarray(offset + 1, offset + 1 + len).toString('ascii'))
      offset += 1 + len
    }
    offset++
    const type = msg.readUInt16BE(offset)
    const klass = msg.readUInt16BE(offset + 2)
    const question = msg.subarray(12, offset + 4)
    const name = labels.join('.').toLowerCase()
    const value = fake.answers.get(name)
    const header = Buffer.alloc(12)
    msg.copy(header, 0, 0, 2)
    header.writeUInt16BE(value === undefined ? 0x8183 : 0x8180, 2)
    header.writeUInt16BE(1, 4)
    header.writeUInt16BE(value === undefined ? 0 : 1, 6)
    let answer = Buffer.alloc(0)
    if (value !== undefined) {
      let rdata: Buffer
      if (type === 1) rdata = Buffer.from(value.split('.').map(Number))
      else if (type === 28) {
        rdata = Buffer.alloc(16)
        const full = expand(value)
        full.forEach((g, i) => rdata.writeUInt16BE(g, i * 2))
      } else {
        const text = Buffer.from(value)
        rdata = Buffer.concat([Buffer.from([text.length]), text])
      }
      const fixed = Buffer.alloc(10)
      fixed.writeUInt16BE(type, 0)
      fixed.writeUInt16BE(klass, 2)
      fixed.writeUInt32BE(0, 4)
      fixed.writeUInt16BE(rdata.length, 8)
      answer = Buffer.concat([Buffer.from([0xc0, 0x0c]), fixed, rdata])
    }
    socket.send(Buffer.concat([header, question, answer]), rinfo.port, rinfo.address)
  })
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()))
  fake.port = socket.address().port
  return fake
}

function expand(ip: string): number[] {
  const [head = '', tail] = ip.split('::')
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const fill = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0')
  return [...left, ...fill, ...right].map((g) => parseInt(g, 16))
}

export interface JsonApiFake {
  url: string
  requests: SeenRequest[]
  close(): Promise<void>
}

/** A small HTTP API whose handler answers each request (DuckDNS, Cloudflare). */
export async function startApi(
  handler: (req: SeenRequest) => {status?: number; body: unknown; headers?: Record<string, string>},
): Promise<JsonApiFake> {
  const requests: SeenRequest[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const request = seen(req, Buffer.concat(chunks).toString('utf8'))
      requests.push(request)
      const {status = 200, body, headers} = handler(request)
      const text = typeof body === 'string' ? body : JSON.stringify(body)
      res.writeHead(status, {'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', ...headers})
      res.end(text)
    })
  })
  const port = await listen(server, '127.0.0.1')
  return {url: `http://127.0.0.1:${port}`, requests, close: () => closeServer(server)}
}
