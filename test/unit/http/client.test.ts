import {readFileSync} from 'node:fs'
import {type IncomingMessage, type Server, type ServerResponse, createServer, request as httpForward} from 'node:http'
import {createServer as createTlsServer} from 'node:https'
import {type AddressInfo, type Socket, connect} from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {AnswerTooLargeError, HttpPool, RedirectError, httpRequest} from '../../../src/lib/http/client.js'
import {NetworkError} from '../../../src/lib/http/network-error.js'
import {proxyFor} from '../../../src/lib/http/proxy.js'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

async function listen(server: Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  return (server.address() as AddressInfo).port
}

async function serve(handler: Handler): Promise<{url: string; port: number; close(): void}> {
  const server = createServer(handler)
  const port = await listen(server)
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close() {
      server.closeAllConnections()
      server.close()
    },
  }
}

const NO_PROXY_ENV = {}

describe.each(['undici', 'node'] as const)('the outgoing HTTP module over %s', (transport) => {
  const pool = new HttpPool({transport, connectTimeoutMs: 2000})
  afterAll(() => pool.close())
  const get = (url: string, options: Parameters<typeof httpRequest>[1] = {}) =>
    httpRequest(url, {pool, env: NO_PROXY_ENV, ...options})

  it('returns any status with headers and body, the final URL, and sends our User-Agent', async () => {
    const server = await serve((req, res) => res.writeHead(418, {'x-a': '1'}).end(`ua=${req.headers['user-agent']}`))
    try {
      const answer = await get(`${server.url}/x`)
      expect(answer.status).toBe(418)
      expect(answer.headers['x-a']).toBe('1')
      expect(answer.body.toString()).toBe('ua=homeops')
      expect(answer.url).toBe(`${server.url}/x`)
    } finally {
      server.close()
    }
  })

  it('says a refused connection never reached the server', async () => {
    const server = await serve(() => undefined)
    server.close()
    const error = await get(server.url).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(NetworkError)
    expect(error).toMatchObject({reason: 'connection refused', transient: true, unreachable: true, timedOut: false})
  })

  it('gives up at the total deadline, and at the idle deadline when the answer stalls', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/stall') {
        res.writeHead(200)
        res.write('first bytes')
      }
      // otherwise never answers
    })
    try {
      await expect(get(`${server.url}/`, {timeoutMs: 300})).rejects.toMatchObject({
        reason: 'no answer within 0.3 s',
        timedOut: true,
        unreachable: false,
      })
      await expect(get(`${server.url}/stall`, {timeoutMs: 5000, idleTimeoutMs: 200})).rejects.toMatchObject({
        reason: 'no answer within 0.2 s',
        timedOut: true,
        phase: 'body',
      })
    } finally {
      server.close()
    }
  })

  it('stops reading an endless answer at the cap: cut, or refused', async () => {
    let closed = 0
    const chunk = Buffer.alloc(64 * 1024, 'a')
    const server = await serve((_req, res) => {
      let sent = 0
      res.writeHead(200)
      res.on('close', () => closed++)
      const pump = () => {
        // Bounded: at most 64 MiB even if the client never stops reading.
        while (sent < 64 * 1024 * 1024 && res.write(chunk)) sent += chunk.length
        if (sent < 64 * 1024 * 1024 && !res.destroyed) res.once('drain', pump)
        else res.end()
      }
      pump()
    })
    try {
      const cut = await get(`${server.url}/a`, {maxBytes: 1000, overflow: 'cut'})
      expect(cut.body.toString()).toBe('a'.repeat(1000))
      await expect(get(`${server.url}/b`, {maxBytes: 1000})).rejects.toBeInstanceOf(AnswerTooLargeError)
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(closed).toBe(2)
    } finally {
      server.close()
    }
  })

  it('follows redirects on the same host (303 becomes a GET), reports loops and too many', async () => {
    const server = await serve((req, res) => {
      const hop = /^\/hop(\d+)$/.exec(req.url ?? '')
      if (req.url === '/see-other') res.writeHead(303, {location: '/here'}).end()
      else if (req.url === '/loop') res.writeHead(302, {location: '/loop2'}).end()
      else if (req.url === '/loop2') res.writeHead(302, {location: '/loop'}).end()
      else if (hop) res.writeHead(302, {location: `/hop${Number(hop[1]) + 1}`}).end()
      else res.end(`at ${req.url} ${req.method}`)
    })
    try {
      const answer = await get(`${server.url}/see-other`, {method: 'POST', body: 'x'})
      expect(answer.body.toString()).toBe('at /here GET')
      expect(answer.url).toBe(`${server.url}/here`)
      await expect(get(`${server.url}/loop`)).rejects.toThrow(RedirectError)
      await expect(get(`${server.url}/loop`)).rejects.toThrow(
        'redirect loop (HTTP 302 back to an address already visited)',
      )
      await expect(get(`${server.url}/hop0`, {redirects: {max: 2}})).rejects.toThrow(
        'too many redirects (more than 2), a redirect loop',
      )
      expect((await get(`${server.url}/hop0`, {redirects: {max: 0}})).status).toBe(302)
    } finally {
      server.close()
    }
  })

  it('refuses a redirect to another host unless asked, and never sends credentials there', async () => {
    const seen: Record<string, string | undefined>[] = []
    const other = createServer((req, res) => {
      seen.push({authorization: req.headers.authorization, cookie: req.headers.cookie, accept: req.headers.accept})
      res.end('elsewhere')
    })
    // Another host: the same loopback server under its IPv6 name.
    const otherPort = await listen(other, '::1')
    const server = await serve((_req, res) => res.writeHead(307, {location: `http://[::1]:${otherPort}/x`}).end())
    try {
      const headers = {authorization: 'Bearer s3cret', cookie: 'session=s3cret', accept: 'text/plain'}
      await expect(get(`${server.url}/`, {headers})).rejects.toThrow(
        `answered HTTP 307, a redirect to http://[::1]:${otherPort} (another host or plain http), not followed`,
      )
      expect(seen).toEqual([])
      const answer = await get(`${server.url}/`, {headers, redirects: {crossHost: true}})
      expect(answer.body.toString()).toBe('elsewhere')
      expect(seen).toEqual([{authorization: undefined, cookie: undefined, accept: 'text/plain'}])
    } finally {
      server.close()
      other.closeAllConnections()
      other.close()
    }
  })

  it('stops when the caller aborts', async () => {
    const server = await serve(() => undefined)
    try {
      const controller = new AbortController()
      setTimeout(() => controller.abort(), 100)
      await expect(get(`${server.url}/`, {signal: controller.signal})).rejects.toMatchObject({
        aborted: true,
        reason: 'aborted',
      })
    } finally {
      server.close()
    }
  })

  describe('through a forward proxy from the environment', () => {
    const log: string[] = []
    let proxyPort = 0
    let originPort = 0
    let tlsPort = 0
    const servers: Server[] = []
    const sockets = new Set<Socket>()

    beforeAll(async () => {
      const origin = createServer((req, res) => res.end(`origin saw ${req.headers.host} ${req.url}`))
      const tls = createTlsServer(
        {
          cert: readFileSync(new URL('../../fixtures/tls/secure.test.crt', import.meta.url)),
          key: readFileSync(new URL('../../fixtures/tls/secure.test.key', import.meta.url)),
        },
        (_req, res) => res.end('secure'),
      )
      tls.on('tlsClientError', () => log.push('tls handshake reached secure.test'))
      // A forward proxy as squid is one: absolute-form requests for http:, CONNECT tunnels for https:, and
      // a password (407 without it).
      const proxy = createServer((req, res) => {
        const auth = req.headers['proxy-authorization']
        log.push(`${req.method} ${req.url} auth=${auth ? Buffer.from(auth.slice(6), 'base64').toString() : '-'}`)
        if (!auth) return void res.writeHead(407, {'proxy-authenticate': 'Basic realm="p"'}).end()
        const target = new URL(req.url ?? '/')
        const upstream = httpForward(
          {host: '127.0.0.1', port: originPort, path: target.pathname, headers: {...req.headers, host: target.host}},
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers)
            answer.pipe(res)
          },
        )
        req.pipe(upstream)
      })
      proxy.on('connect', (req: IncomingMessage, client: Socket) => {
        const auth = req.headers['proxy-authorization']
        log.push(`CONNECT ${req.url} auth=${auth ? Buffer.from(auth.slice(6), 'base64').toString() : '-'}`)
        sockets.add(client)
        if (!auth) return void client.end('HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n')
        const upstream = connect(tlsPort, '127.0.0.1', () => {
          client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
          upstream.pipe(client)
          client.pipe(upstream)
        })
        sockets.add(upstream)
        upstream.on('error', () => client.destroy())
        client.on('error', () => upstream.destroy())
      })
      originPort = await listen(origin)
      tlsPort = await listen(tls)
      proxyPort = await listen(proxy)
      servers.push(origin, tls, proxy)
    })
    afterAll(() => {
      for (const socket of sockets) socket.destroy()
      for (const server of servers) {
        server.closeAllConnections()
        server.close()
      }
    })

    it('sends http: requests through HTTP_PROXY with its credentials, and https: through a CONNECT tunnel', async () => {
      log.length = 0
      const env = {
        HTTP_PROXY: `http://user:pa%3Ass@127.0.0.1:${proxyPort}`,
        HTTPS_PROXY: `http://user:pa%3Ass@127.0.0.1:${proxyPort}`,
      }
      const answer = await httpRequest('http://echo.test/path?q=1', {pool, env})
      expect(answer.body.toString()).toBe('origin saw echo.test /path')
      // The tunnel reaches the TLS server behind the proxy; its certificate (self-signed) is then refused.
      const tls = await httpRequest('https://secure.test/x', {pool, env}).catch((e: unknown) => e)
      expect(tls).toBeInstanceOf(NetworkError)
      expect((tls as NetworkError).reason).toMatch(/^TLS certificate rejected/)
      // The TLS server sees the handshake end once the client has refused its certificate.
      for (let i = 0; i < 40 && log.length < 3; i++) await new Promise((resolve) => setTimeout(resolve, 50))
      expect(log).toEqual([
        'GET http://echo.test/path?q=1 auth=user:pa:ss',
        'CONNECT secure.test:443 auth=user:pa:ss',
        'tls handshake reached secure.test',
      ])
    })

    it('goes direct for NO_PROXY destinations and loopback, and reports a refused tunnel', async () => {
      log.length = 0
      const origin = await serve((_req, res) => res.end('direct'))
      try {
        const env = {
          https_proxy: `127.0.0.1:${proxyPort}`,
          http_proxy: `127.0.0.1:${proxyPort}`,
          NO_PROXY: 'example.org',
        }
        expect((await httpRequest(origin.url, {pool, env})).body.toString()).toBe('direct')
        // Direct: the name is looked up here (and does not exist), the proxy never hears of it.
        const direct = await httpRequest('https://www.example.org/', {pool, env, timeoutMs: 5000}).catch(
          (e: unknown) => e,
        )
        expect(direct).toMatchObject({unreachable: true})
        const refused = await httpRequest('https://secure.test/', {pool, env}).catch((e: unknown) => e)
        expect(refused).toMatchObject({reason: 'the proxy refused the tunnel (HTTP 407)', unreachable: true})
        expect(log).toEqual(['CONNECT secure.test:443 auth=-'])
      } finally {
        origin.close()
      }
    })
  })
})

describe('proxy selection from the environment', () => {
  const at = (url: string, env: Record<string, string>) => proxyFor(new URL(url), env)?.href

  it('takes the variable of the scheme, lowercase first, then ALL_PROXY', () => {
    expect(at('https://a.example/', {HTTPS_PROXY: 'http://up:1', https_proxy: 'http://low:2'})).toBe('http://low:2/')
    expect(at('http://a.example/', {HTTPS_PROXY: 'http://s:1'})).toBeUndefined()
    expect(at('http://a.example/', {HTTP_PROXY: 'proxy.lan:3128'})).toBe('http://proxy.lan:3128/')
    expect(at('http://a.example/', {ALL_PROXY: 'http://all:1'})).toBe('http://all:1/')
  })

  it('honours NO_PROXY: *, names with their subdomains, host:port, addresses and CIDR ranges', () => {
    const env = (noProxy: string) => ({HTTPS_PROXY: 'http://p:1', HTTP_PROXY: 'http://p:1', NO_PROXY: noProxy})
    expect(at('https://a.example/', env('*'))).toBeUndefined()
    expect(at('https://reg.lan/', env('lan'))).toBeUndefined()
    expect(at('https://reg.lan/', env('.lan'))).toBeUndefined()
    expect(at('https://reg.lan/', env('*.lan'))).toBeUndefined()
    expect(at('https://lan.example/', env('lan'))).toBe('http://p:1/')
    expect(at('https://reg.lan:5000/', env('reg.lan:5000'))).toBeUndefined()
    expect(at('https://reg.lan/', env('reg.lan:5000'))).toBe('http://p:1/')
    expect(at('http://10.1.2.3/', env('10.0.0.0/8, other'))).toBeUndefined()
    expect(at('http://[fd00::1]/', env('fd00::/8'))).toBeUndefined()
    expect(at('http://11.1.2.3/', env('10.0.0.0/8'))).toBe('http://p:1/')
  })

  it('never proxies loopback, and names a bad proxy variable', () => {
    const env = {HTTP_PROXY: 'http://p:1'}
    expect(at('http://127.0.0.1:5000/', env)).toBeUndefined()
    expect(at('http://[::1]/', env)).toBeUndefined()
    expect(at('http://localhost/', env)).toBeUndefined()
    expect(() => at('http://a.example/', {HTTP_PROXY: 'http://bad host'})).toThrow(
      'HTTP_PROXY is not a valid proxy URL',
    )
    expect(() => at('http://a.example/', {HTTP_PROXY: 'socks5://p:1'})).toThrow(
      'HTTP_PROXY names a socks5 proxy; only http(s) proxies are supported',
    )
  })
})
