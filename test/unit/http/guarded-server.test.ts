import {connect} from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {enforceAccess} from '../../../src/lib/http/access.js'
import {parseListen} from '../../../src/lib/http/address.js'
import {crossOriginReason, hostAllowed} from '../../../src/lib/http/request-guard.js'
import {HttpError, type HttpRequest, Router, json} from '../../../src/lib/http/router.js'
import {type RunningHttpServer, startHttpServer, warnWithoutKey} from '../../../src/lib/http/server.js'
import {Logger} from '../../../src/lib/log/logger.js'

const lines: string[] = []
const logger = new Logger({format: 'text', level: 'debug', sink: {write: (l: string) => lines.push(l)}})
let server: RunningHttpServer
let port: number
let changes = 0
let key: string | undefined

beforeAll(async () => {
  const router = new Router()
    .get('/health', () => json({ok: true}))
    .get('/boom', () => {
      throw new TypeError('handler bug')
    })
    .post(
      '/change',
      async (req) => {
        await req.json()
        changes++
        return json({ok: true})
      },
      {access: {apiKey: () => key}},
    )
    .post('/form', async (req) => json({got: await req.text()}), {bodyTypes: ['form']})
    .post('/bad-header', () => ({status: 200, headers: {'x-bad': 'a\nb'}, body: 'x'}))
  server = await startHttpServer({
    listen: parseListen('127.0.0.1:0'),
    router,
    logger,
    allowedHosts: () => ['homelab.example', '*.home.arpa', 'proxy.example:8443'],
  })
  port = server.address.port
})

afterAll(() => server.close())

/** Sends raw bytes and returns what came back before the server closed or 2 s passed. */
function raw(bytes: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    socket.on('data', (d) => (answer += d.toString('latin1')))
    socket.on('error', () => {})
    socket.on('close', () => resolve(answer))
    socket.write(bytes)
    setTimeout(() => {
      socket.destroy()
      resolve(answer)
    }, 2000).unref()
  })
}

const status = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)

async function call(path: string, init: RequestInit = {}) {
  const res = await fetch(server.url + path, init)
  const text = await res.text()
  return {status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}}
}

describe('the guarded HTTP layer', () => {
  it('answers 400 to a request target that is not a URL, and keeps serving', async () => {
    for (const target of ['//[', '/%', 'http://[/', '*', 'x', '/\u00ff']) {
      const answer = await raw(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)
      expect([400, 404], `${target}: ${answer.slice(0, 40)}`).toContain(status(answer))
    }
    // The request line that ended `monitor serve` (new URL('//[', base) threw before the handler's try).
    expect(status(await raw('GET //[ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'))).toBe(404)
    expect((await call('/health')).status).toBe(200)
  })

  it('refuses malformed requests and oversized headers at the parser and closes the socket', async () => {
    expect(status(await raw('GARBAGE\r\n\r\n'))).toBe(400)
    expect(status(await raw(`GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`))).toBe(431)
    expect(status(await raw(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX: ${'b'.repeat(20_000)}\r\n\r\n`))).toBe(431)
    expect(status(await raw('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n'))).toBe(400)
    expect((await call('/health')).status).toBe(200)
  })

  it('answers 500 with a log line when a handler throws or returns an invalid header', async () => {
    lines.length = 0
    expect(await call('/boom')).toEqual({status: 500, body: {error: 'handler bug'}})
    expect(lines.join('\n')).toMatch(/request failed .*path=\/boom.*handler bug/)
    expect((await call('/bad-header', {method: 'POST'})).status).toBe(500)
  })

  it('answers 421 to a Host that is not a name of this server (DNS rebinding), before any handler', async () => {
    const answer = await raw(
      'POST /change HTTP/1.1\r\nHost: rebind.attacker.example\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}',
    )
    expect(status(answer)).toBe(421)
    expect(answer).toContain('serve.allowedHosts')
    expect(changes).toBe(0)
    for (const host of [
      '127.0.0.1:1',
      '[::1]:8080',
      'localhost',
      'app.localhost',
      'HomeLab.Example.',
      'x.home.arpa',
      'proxy.example',
    ])
      expect(status(await raw(`GET /health HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)), host).toBe(200)
  })

  it('refuses a state change from another origin or site (403) and a body that is not JSON (415); curl without Origin works', async () => {
    const body = JSON.stringify({a: 1})
    const post = (headers: Record<string, string>, data = body) =>
      call('/change', {method: 'POST', headers, body: data})
    expect((await post({'content-type': 'application/json', origin: 'http://evil.example'})).status).toBe(403)
    expect((await post({'content-type': 'application/json', origin: 'null'})).status).toBe(403)
    expect((await post({'content-type': 'application/json', 'sec-fetch-site': 'cross-site'})).status).toBe(403)
    expect((await post({'content-type': 'application/json', 'sec-fetch-site': 'same-site'})).status).toBe(403)
    expect((await post({'content-type': 'text/plain'})).status).toBe(415)
    expect((await post({'content-type': 'application/x-www-form-urlencoded'}, 'a=1')).status).toBe(415)
    expect(changes).toBe(0)
    expect((await post({'content-type': 'application/json'})).status).toBe(200)
    expect((await post({'content-type': 'application/json; charset=utf-8', origin: server.url})).status).toBe(200)
    expect((await call('/change', {method: 'POST'})).status).toBe(200) // no body, no type: curl -X POST
    expect(changes).toBe(3)
    expect(
      (
        await call('/form', {
          method: 'POST',
          headers: {'content-type': 'application/x-www-form-urlencoded'},
          body: 'a=1',
        })
      ).body,
    ).toEqual({got: 'a=1'})
  })
})

describe('request guard rules', () => {
  const policy = {listenHost: '0.0.0.0', allowedHosts: () => ['homelab.example', 'proxy.example:8443']}
  it('accepts IP literals, localhost and listed names in Host, nothing else', () => {
    expect(hostAllowed(undefined, policy)).toBe(true)
    expect(hostAllowed('192.168.1.10:8080', policy)).toBe(true)
    expect(hostAllowed('homelab.example:9999', policy)).toBe(true)
    expect(hostAllowed('evil.example', policy)).toBe(false)
    expect(hostAllowed('homelab.example.evil.example', policy)).toBe(false)
    expect(hostAllowed('evil.example@127.0.0.1', policy)).toBe(false)
    expect(hostAllowed('', policy)).toBe(false)
    expect(hostAllowed('[::1', policy)).toBe(false)
  })

  it('treats Origin equal to Host, or a listed name with its exact port, as same-origin', () => {
    expect(crossOriginReason({host: '10.0.0.2:8080', origin: 'http://10.0.0.2:8080'}, policy)).toBeUndefined()
    expect(crossOriginReason({host: '127.0.0.1:8080', origin: 'https://homelab.example'}, policy)).toBeUndefined()
    expect(crossOriginReason({host: '127.0.0.1:8080', origin: 'https://proxy.example:8443'}, policy)).toBeUndefined()
    expect(crossOriginReason({host: '127.0.0.1:8080', origin: 'https://proxy.example'}, policy)).toMatch(
      /another origin/,
    )
    expect(crossOriginReason({host: '10.0.0.2:8080', origin: 'http://10.0.0.2:8081'}, policy)).toMatch(/another origin/)
    expect(crossOriginReason({host: '10.0.0.2:8080', origin: 'file://'}, policy)).toMatch(/another origin/)
    expect(crossOriginReason({host: '10.0.0.2:8080', origin: '::'}, policy)).toMatch(/malformed/)
    expect(crossOriginReason({host: '10.0.0.2:8080', 'sec-fetch-site': 'same-origin'}, policy)).toBeUndefined()
  })
})

describe('the "no key" policy', () => {
  const request = (method: string, remoteAddress: string): HttpRequest =>
    ({method, remoteAddress, query: new URLSearchParams(), headers: {}}) as unknown as HttpRequest
  const policy = {apiKey: () => undefined, keySetting: 'serve.apiKey'}

  it('without a key: reads from anywhere, changes from loopback only, with a message naming the setting', () => {
    expect(() => enforceAccess(policy, request('GET', '192.168.1.20'))).not.toThrow()
    expect(() => enforceAccess(policy, request('POST', '127.0.0.1'))).not.toThrow()
    expect(() => enforceAccess(policy, request('POST', '::ffff:127.0.0.1'))).not.toThrow()
    expect(() => enforceAccess(policy, request('POST', '::1'))).not.toThrow()
    expect(() => enforceAccess(policy, request('DELETE', '::ffff:10.0.0.3'))).toThrow(/no_api_key/)
    try {
      enforceAccess(policy, request('POST', '192.168.1.20'))
      expect.unreachable()
    } catch (error) {
      expect((error as HttpError).status).toBe(403)
      expect((error as HttpError).body).toMatchObject({
        message: expect.stringMatching(/no API key is configured/),
        hint: expect.stringContaining('serve.apiKey'),
      })
    }
  })

  it('without a key: a loopback request relayed by a reverse proxy is not local', () => {
    for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
      const relayed = {...request('POST', '127.0.0.1'), headers: {[header]: '203.0.113.9'}} as unknown as HttpRequest
      expect(() => enforceAccess(policy, relayed), header).toThrow(/no_api_key/)
    }
  })

  it('with a key: the key is required from everywhere, loopback included; no sentinel passes', () => {
    const keyed = {apiKey: () => '0123456789abcdef'}
    expect(() => enforceAccess(keyed, request('POST', '127.0.0.1'))).toThrow(/unauthorized/)
    const withKey = request('POST', '192.168.1.20')
    withKey.query.set('key', '\u0000no-key-configured')
    expect(() => enforceAccess(keyed, withKey)).toThrow(/unauthorized/)
    withKey.query.set('key', '0123456789abcdef')
    expect(() => enforceAccess(keyed, withKey)).not.toThrow()
  })
})

describe('start-up warning without a key', () => {
  const keyed = new Router().post('/act', () => json({}), {
    access: {apiKey: () => undefined, keySetting: 'serve.apiKey'},
  })
  const warnings = () => lines.filter((l) => l.includes('without an API key'))

  it('warns when listening beyond loopback with key-governed write routes and no key', () => {
    lines.length = 0
    warnWithoutKey({listen: {host: '0.0.0.0', port: 8080}, router: keyed, logger})
    expect(warnings()).toHaveLength(1)
    expect(warnings()[0]).toContain('POST /act')
    expect(warnings()[0]).toContain('serve.apiKey')
  })

  it('stays quiet on loopback, or with the server key set', () => {
    lines.length = 0
    warnWithoutKey({listen: {host: '127.0.0.1', port: 8080}, router: keyed, logger})
    warnWithoutKey({listen: {host: '::1', port: 8080}, router: keyed, logger})
    warnWithoutKey({listen: {host: '0.0.0.0', port: 8080}, router: keyed, logger, serverKey: () => '0123456789abcdef'})
    expect(warnings()).toEqual([])
  })
})

describe('time limits', () => {
  it('answers 408 and closes a connection whose headers or body never finish (slowloris)', async () => {
    const slow = await startHttpServer({
      listen: parseListen('127.0.0.1:0'),
      router: new Router().post('/in', async (req) => json({got: (await req.text()).length})),
      logger,
      timeouts: {headers: 400, request: 800},
    })
    const drip = (head: string) =>
      new Promise<{answer: string; ms: number}>((resolve) => {
        const started = Date.now()
        const socket = connect(slow.address.port, '127.0.0.1')
        let answer = ''
        socket.on('data', (d) => (answer += d.toString()))
        socket.on('error', () => {})
        socket.on('close', () => resolve({answer, ms: Date.now() - started}))
        socket.write(head)
        const timer = setInterval(() => socket.writable && socket.write('a'), 100)
        socket.on('close', () => clearInterval(timer))
      })
    try {
      const headers = await drip('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ')
      expect(headers.answer).toMatch(/^HTTP\/1\.1 408/)
      expect(headers.ms).toBeLessThan(3000)
      const body = await drip(
        'POST /in HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n',
      )
      expect(body.answer).toMatch(/^HTTP\/1\.1 408/)
      expect(body.ms).toBeLessThan(3000)
    } finally {
      await slow.close(100)
    }
  })
})
