import {connect} from 'node:net'

/**
 * A request-line and header fuzzer for homeops's HTTP servers: raw bytes over
 * node:net (fetch/undici would refuse to send most of these). Deterministic per
 * seed, so a failure can be replayed.
 */
export interface FuzzRequest {
  bytes: Buffer
  /** The framing ends: the server must answer or close, never wait. */
  complete: boolean
  /** A short description, for failure messages. */
  label: string
}

export interface FuzzOutcome {
  sent: number
  /** Complete requests that got neither an answer nor a close within the deadline. */
  hangs: string[]
  statuses: Map<string, number>
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const METHODS = ['GET', 'GET', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND']
const ODD_METHODS = ['get', 'Post', '', 'G ET', 'X'.repeat(300), '\u0000', 'GET\t', 'ÄÖ', '1', 'BREW', 'CONNECT']
const ODD_TARGETS = [
  '//[',
  '/%',
  '/%zz',
  '/%00',
  '/%ff%fe',
  '/..%2f..%2fetc%2fpasswd',
  '/web/../../etc/passwd',
  '/web/%2e%2e/%2e%2e/etc/passwd',
  'http://x/health',
  'http://[/',
  'https://[::1]:99999/',
  '*',
  '',
  'x',
  '\\',
  '/#frag',
  '/?a=%',
  '/?' + '&'.repeat(3000),
  '/status/%E2%82',
  '/status/' + encodeURIComponent('ö☃💥'),
  '/\u00e9\u00ff',
  '/a\tb',
  '/?key=\u0000no-key-configured',
  '/settings?key=',
  '/../..',
  '//',
  '///x',
  '/' + '%41'.repeat(2000),
]
const ODD_VERSIONS = ['HTTP/2.0', 'HTTP/1.2', 'HTTP/9.9', 'http/1.1', '', 'HTTP/1.1 x', 'HTTP/1.1\u0000']
const ORIGINS = ['http://evil.example', 'null', 'file://', '::', 'http://127.0.0.1:1', 'http://[::1', 'x'.repeat(500)]
const TYPES = [
  'application/json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  '',
  ';;;',
  'application/json; charset=\u00ff',
]

export interface FuzzTarget {
  /** `127.0.0.1:PORT`, the Host a client would send. */
  host: string
  /** Paths the server routes (GET and POST ones). */
  paths: string[]
}

export function generateRequest(random: () => number, target: FuzzTarget): FuzzRequest {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
  const chance = (p: number) => random() < p
  const bytes = (n: number) => Buffer.from(Array.from({length: n}, () => Math.floor(random() * 256)))
  let complete = true
  const parts: string[] = []

  const method = chance(0.9) ? pick(METHODS) : pick(ODD_METHODS)
  let path: string
  if (chance(0.45)) path = pick(target.paths)
  else if (chance(0.6)) path = pick(ODD_TARGETS)
  else if (chance(0.5)) path = '/' + 'a'.repeat(Math.floor(random() * 20_000))
  else
    path =
      '/' +
      bytes(1 + Math.floor(random() * 40))
        .toString('latin1')
        .replace(/[\r\n]/g, '')
  if (chance(0.3))
    path += `?${pick(['key=', 'force=1', 'limit=', 'name='])}${encodeURIComponent(bytes(8).toString('latin1'))}`
  const version = chance(0.85) ? 'HTTP/1.1' : chance(0.4) ? 'HTTP/1.0' : pick(ODD_VERSIONS)
  const eol = chance(0.95) ? '\r\n' : chance(0.5) ? '\n' : '\r'
  if (eol === '\r') complete = false
  parts.push(`${method} ${path}${version ? ' ' + version : ''}`)

  const hostChoice = random()
  if (hostChoice < 0.6) parts.push(`Host: ${target.host}`)
  else if (hostChoice < 0.7) parts.push('Host: localhost')
  else if (hostChoice < 0.78) parts.push('Host: rebind.attacker.example')
  else if (hostChoice < 0.82)
    parts.push(`Host: ${pick(['', '[::1', 'a b', '[::1]', 'x'.repeat(400), '\u00ff', 'h:99999'])}`)
  else if (hostChoice < 0.86) parts.push(`Host: ${target.host}`, 'Host: evil.example')
  // else: no Host at all
  if (chance(0.2)) parts.push(`Origin: ${chance(0.5) ? `http://${target.host}` : pick(ORIGINS)}`)
  if (chance(0.1)) parts.push(`Sec-Fetch-Site: ${pick(['cross-site', 'same-site', 'same-origin', 'none', '\u00ff'])}`)
  if (chance(0.15)) parts.push(`X-API-Key: ${bytes(12).toString('hex')}`)
  if (chance(0.05)) parts.push(`Authorization: Bearer ${bytes(6).toString('base64')}`)
  if (chance(0.1)) parts.push(`X-Big: ${'b'.repeat(Math.floor(random() * 24_000))}`)
  if (chance(0.05)) for (let i = 0; i < 60 + Math.floor(random() * 100); i++) parts.push(`X-H${i}: ${i}`)
  if (chance(0.05))
    parts.push(
      pick(['NoColonHere', ' folded continuation', 'Bad Name: x', 'X-Nul: a\u0000b', ': empty', 'X-Ctl: \u0001']),
    )
  if (chance(0.05)) parts.push('Expect: 100-continue')
  if (chance(0.03)) parts.push('Upgrade: websocket', 'Connection: Upgrade')
  if (chance(0.85)) parts.push('Connection: close')

  let body = Buffer.alloc(0)
  const framing = random()
  if (framing < 0.45) {
    // no body
  } else if (framing < 0.7) {
    body = chance(0.5)
      ? Buffer.from(JSON.stringify({name: bytes(4).toString('hex'), a: [1, {b: null}]}))
      : bytes(Math.floor(random() * 2000))
    if (chance(0.05)) body = Buffer.alloc(70_000, 0x7b)
    if (chance(0.7)) parts.push(`Content-Type: ${pick(TYPES)}`)
    parts.push(`Content-Length: ${body.length}`)
  } else if (framing < 0.78) {
    body = bytes(50)
    parts.push(`Content-Length: ${pick(['-1', 'abc', '1e3', '0x10', '99999999999999999999', ' 5', '5, 6'])}`)
  } else if (framing < 0.82) {
    body = bytes(10)
    parts.push('Content-Length: 10', 'Content-Length: 11')
  } else if (framing < 0.88) {
    const chunk = bytes(1 + Math.floor(random() * 100))
    parts.push('Transfer-Encoding: chunked', `Content-Type: ${pick(TYPES)}`)
    body = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n0\r\n\r\n')])
  } else if (framing < 0.92) {
    parts.push('Transfer-Encoding: chunked')
    body = Buffer.from(
      pick([
        'zz\r\nabc\r\n0\r\n\r\n',
        '-1\r\n\r\n',
        'ffffffffffffffffff\r\nx\r\n',
        '5;' + 'e'.repeat(20_000) + '\r\nabcde\r\n0\r\n\r\n',
      ]),
    )
  } else if (framing < 0.95) {
    parts.push('Transfer-Encoding: chunked', 'Content-Length: 5')
    body = Buffer.from('5\r\nabcde\r\n0\r\n\r\n')
  } else {
    // Declared longer than sent: the server waits for the rest (its requestTimeout bounds it).
    parts.push('Content-Length: 100')
    body = bytes(10)
    complete = false
  }
  const head = parts.join(eol) + eol + eol
  // Sometimes a second, pipelined request on the same connection: valid, or garbage after a good one.
  const pipelined = chance(0.05)
    ? Buffer.from(
        chance(0.5) ? `GET /health HTTP/1.1\r\nHost: ${target.host}\r\n\r\n` : 'GARBAGE /\u0000 HTTP/7\r\n\r\n',
        'latin1',
      )
    : Buffer.alloc(0)
  return {
    bytes: Buffer.concat([Buffer.from(head, 'latin1'), body, pipelined]),
    complete,
    label: JSON.stringify(head.length > 400 ? `${head.slice(0, 120)}…${head.slice(-280)}` : head),
  }
}

/** Sends one request on its own connection; resolves with the status line's code, 'closed' or 'hang'. */
function sendOne(port: number, request: FuzzRequest, deadlineMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let settled = false
    const finish = (result: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => finish(request.complete ? 'hang' : 'cut'), request.complete ? deadlineMs : 150)
    let answer = ''
    socket.on('data', (data) => {
      answer += data.toString('latin1')
      // A 100 Continue is not the answer yet.
      const final = answer.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '')
      const status = /^HTTP\/1\.[01] (\d{3}) /.exec(final)
      if (status && status[1] !== '100') finish(status[1]!)
      else if (final.length > 64 && !status) finish('garbage')
    })
    socket.on('error', () => finish('closed'))
    socket.on('close', () => finish('closed'))
    socket.write(request.bytes, () => {})
  })
}

/** Sends `count` generated requests, `concurrency` at a time. */
export async function fuzzBatch(
  port: number,
  target: FuzzTarget,
  options: {seed: number; count: number; concurrency?: number; deadlineMs?: number},
): Promise<FuzzOutcome> {
  const random = mulberry32(options.seed)
  const outcome: FuzzOutcome = {sent: 0, hangs: [], statuses: new Map()}
  let next = 0
  const worker = async () => {
    while (next < options.count) {
      next++
      const request = generateRequest(random, target)
      const result = await sendOne(port, request, options.deadlineMs ?? 5000)
      outcome.sent++
      outcome.statuses.set(result, (outcome.statuses.get(result) ?? 0) + 1)
      if (result === 'hang') outcome.hangs.push(request.label)
    }
  }
  await Promise.all(Array.from({length: options.concurrency ?? 32}, worker))
  return outcome
}
