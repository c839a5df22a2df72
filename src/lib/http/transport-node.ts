import type {Agent, ClientRequest, IncomingMessage, RequestOptions} from 'node:http'
import type {Socket} from 'node:net'

import {
  type Exchange,
  type Hop,
  ProxyRefusedError,
  type Transport,
  type TransportOptions,
  TransportTimeoutError,
  proxyAuthorization,
} from './transport.js'

type HttpModule = typeof import('node:http')

/**
 * node's own http/https: nothing to load beyond what node already holds, for the short-lived timer run
 * (`ddns update` makes one or two small requests; undici would cost more CPU and memory than the whole
 * run, scripts/bench/ddns.mjs). Keep-alive pools per scheme, address family and proxy; proxied https
 * goes through a CONNECT tunnel per request (a timer run makes too few requests to pool tunnels).
 */
export class NodeTransport implements Transport {
  private readonly agents = new Map<string, Agent>()

  constructor(private readonly options: TransportOptions) {}

  async send(hop: Hop): Promise<Exchange> {
    const secure = hop.url.protocol === 'https:'
    const target = {
      hostname: hop.url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(hop.url.port) || (secure ? 443 : 80),
    }
    let options: RequestOptions & {servername?: string}
    let module: HttpModule
    if (hop.proxy && secure) {
      const socket = await this.tunnel(
        hop,
        `${target.hostname.includes(':') ? `[${target.hostname}]` : target.hostname}:${target.port}`,
      )
      const tls = await import('node:tls')
      module = (await import('node:https')) as unknown as HttpModule
      options = {
        ...target,
        protocol: 'https:',
        path: `${hop.url.pathname}${hop.url.search}`,
        createConnection: () => tls.connect({socket, servername: target.hostname}),
      }
    } else if (hop.proxy) {
      module = await this.module(hop.proxy)
      const auth = proxyAuthorization(hop.proxy)
      options = {
        ...this.endpoint(hop.proxy),
        protocol: hop.proxy.protocol,
        path: hop.url.href,
        headers: {host: hop.url.host, ...(auth ? {'proxy-authorization': auth} : {})},
        agent: this.agent(module, hop, hop.proxy),
      }
    } else {
      module = await this.module(hop.url)
      options = {
        ...target,
        protocol: hop.url.protocol,
        path: `${hop.url.pathname}${hop.url.search}`,
        agent: this.agent(module, hop),
      }
    }
    options = {
      ...options,
      method: hop.method,
      headers: {...hop.headers, ...options.headers},
      signal: hop.signal,
      ...(hop.family && !hop.proxy ? {family: hop.family} : {}),
    }
    return new Promise<Exchange>((resolve, reject) => {
      let response: IncomingMessage | undefined
      const req = module.request(options, (res: IncomingMessage) => {
        response = res
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: res,
          destroy() {
            res.on('error', () => undefined)
            res.destroy()
            req.destroy()
          },
        })
      })
      this.deadlines(req, hop, () => response)
      req.on('error', reject)
      req.end(hop.body)
    })
  }

  async close(): Promise<void> {
    for (const agent of this.agents.values()) agent.destroy()
    this.agents.clear()
  }

  /** Connect deadline until the socket is connected (and its TLS handshake done), then the idle deadline. */
  private deadlines(req: ClientRequest, hop: Hop, response: () => IncomingMessage | undefined = () => undefined): void {
    req.setTimeout(hop.idleTimeoutMs, () => {
      // Once the answer streams, its reader must see the timeout (not the "aborted" of a destroyed request).
      const error = new TransportTimeoutError(hop.idleTimeoutMs, 'idle')
      response()?.destroy(error)
      req.destroy(error)
    })
    req.once('socket', (socket: Socket & {encrypted?: boolean}) => {
      if (!socket.connecting) return
      const timer = setTimeout(
        () => req.destroy(new TransportTimeoutError(this.options.connectTimeoutMs, 'connect')),
        this.options.connectTimeoutMs,
      )
      socket.once(socket.encrypted ? 'secureConnect' : 'connect', () => clearTimeout(timer))
      socket.once('close', () => clearTimeout(timer))
    })
  }

  /** A raw socket to `authority` through the proxy's CONNECT (RFC 9110 §9.3.6). */
  private async tunnel(hop: Hop, authority: string): Promise<Socket> {
    const proxy = hop.proxy!
    const module = await this.module(proxy)
    const auth = proxyAuthorization(proxy)
    return new Promise<Socket>((resolve, reject) => {
      const req = module.request({
        ...this.endpoint(proxy),
        protocol: proxy.protocol,
        method: 'CONNECT',
        path: authority,
        headers: {host: authority, ...(auth ? {'proxy-authorization': auth} : {})},
        signal: hop.signal,
        agent: false,
      })
      this.deadlines(req, hop)
      req.once('connect', (res: IncomingMessage, socket: Socket) => {
        req.setTimeout(0)
        if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) {
          resolve(socket)
        } else {
          socket.destroy()
          reject(new ProxyRefusedError(res.statusCode ?? 0))
        }
      })
      req.on('error', reject)
      req.end()
    })
  }

  private endpoint(url: URL): {hostname: string; port: number} {
    return {
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
    }
  }

  private async module(url: URL): Promise<HttpModule> {
    return url.protocol === 'https:' ? ((await import('node:https')) as unknown as HttpModule) : import('node:http')
  }

  private agent(module: HttpModule, hop: Hop, proxy?: URL): Agent {
    const key = `${proxy ? proxy.href : hop.url.protocol}|${hop.family ?? 0}`
    let agent = this.agents.get(key)
    if (!agent) {
      // `family` pins the connection to IPv4 or IPv6 (ddns detects each family over its own family).
      agent = new module.Agent({
        keepAlive: true,
        // Idle keep-alive sockets are closed after this (the agent's socket timeout applies between requests).
        timeout: this.options.keepAliveMs,
        maxSockets: this.options.maxSockets ?? 16,
        ...(hop.family && !proxy ? {family: hop.family} : {}),
      })
      this.agents.set(key, agent)
    }
    return agent
  }
}
