import type {Dispatcher} from 'undici'

import {type Exchange, type Hop, ProxyRefusedError, type Transport, type TransportOptions} from './transport.js'

/**
 * undici, imported on first use (~100 ms and ~20 MiB to load, ~100 ms more to compile its llhttp
 * WebAssembly on the first request): pooled keep-alive connections and pipelining for the callers
 * that make many requests or live long (registries, notifiers, GitHub, cloud token services).
 * One dispatcher per address family and per proxy.
 */
export class UndiciTransport implements Transport {
  private readonly dispatchers = new Map<string, Dispatcher>()
  private undici?: Promise<typeof import('undici')>

  constructor(private readonly options: TransportOptions) {}

  async send(hop: Hop): Promise<Exchange> {
    const undici = await (this.undici ??= import('undici'))
    const response = await undici
      .request(hop.url, {
        method: hop.method,
        headers: hop.headers,
        body: hop.body,
        signal: hop.signal,
        dispatcher: this.dispatcher(undici, hop),
        headersTimeout: hop.idleTimeoutMs,
        bodyTimeout: hop.idleTimeoutMs,
      })
      .catch((error: unknown) => {
        // undici words a refused CONNECT as an aborted request: "Proxy response (407) !== 200 when HTTP Tunneling".
        const refused = /^Proxy response \((\d+)\)/.exec((error as Error | undefined)?.message ?? '')
        throw refused ? new ProxyRefusedError(Number(refused[1])) : error
      })
    const body = response.body
    return {
      status: response.statusCode,
      headers: response.headers,
      body,
      destroy() {
        // A late abort of the request must not surface as an unhandled stream error.
        body.on('error', () => undefined)
        body.destroy()
      },
    }
  }

  async close(): Promise<void> {
    const all = [...this.dispatchers.values()]
    this.dispatchers.clear()
    await Promise.all(all.map((d) => d.close()))
  }

  private dispatcher(undici: typeof import('undici'), hop: Hop): Dispatcher {
    const key = `${hop.family ?? 0}|${hop.proxy?.href ?? ''}|${hop.url.protocol}`
    let dispatcher = this.dispatchers.get(key)
    if (!dispatcher) {
      const connect = {timeout: this.options.connectTimeoutMs, ...(hop.family ? {family: hop.family} : {})}
      const common = {
        connect,
        keepAliveTimeout: this.options.keepAliveMs,
        ...(this.options.maxSockets ? {connections: this.options.maxSockets} : {}),
      }
      dispatcher = hop.proxy
        ? new undici.ProxyAgent({
            ...common,
            uri: hop.proxy.href,
            // Plain http: targets go as absolute-form requests, as forward proxies (squid) expect; CONNECT
            // to port 80 is refused by most of them.
            proxyTunnel: hop.url.protocol === 'https:',
          })
        : new undici.Agent(common)
      this.dispatchers.set(key, dispatcher)
    }
    return dispatcher
  }
}
