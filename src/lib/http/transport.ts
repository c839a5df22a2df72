/**
 * The seam under the outgoing HTTP module (client.ts): one request/answer exchange, no redirects, no
 * deadline of its own beyond connect and idle, no body limit. Everything users rely on (redirect rules,
 * credentials, proxies chosen, total deadline, size caps, error wording) lives once, in client.ts.
 * Two implementations, chosen per measurement (scripts/bench/ddns.mjs, docs in client.ts): undici for
 * every long-running or bulk caller, node's own http for the short-lived timer run.
 */

/** Header values as received (a repeated header is a list). */
export type HttpHeaders = Record<string, string | string[] | undefined>

export interface Hop {
  url: URL
  method: string
  headers: Record<string, string>
  body?: Buffer
  signal: AbortSignal
  /** Connect over this address family only. */
  family?: 4 | 6
  /** Send through this forward proxy (http: targets as absolute-form requests, https: through CONNECT). */
  proxy?: URL
  /** Longest silence while waiting for the status line or for the next body bytes. */
  idleTimeoutMs: number
}

export interface Exchange {
  status: number
  headers: HttpHeaders
  body: AsyncIterable<Buffer>
  /** Stop reading and drop the connection (the rest of the body is never read). */
  destroy(): void
}

export interface TransportOptions {
  /** TCP (and TLS) connect deadline. */
  connectTimeoutMs: number
  /** How long an idle keep-alive connection is kept. */
  keepAliveMs: number
  /** Connections per origin (default: no limit for undici, 16 for node). */
  maxSockets?: number
}

export interface Transport {
  send(hop: Hop): Promise<Exchange>
  close(): Promise<void>
}

/** A connect or idle deadline a transport enforced itself (`timeoutMs` is the bound that passed). */
export class TransportTimeoutError extends Error {
  readonly code = 'ETIMEDOUT'

  constructor(
    readonly timeoutMs: number,
    readonly during: 'connect' | 'idle',
  ) {
    super(during === 'connect' ? `no connection within ${timeoutMs} ms` : `no data for ${timeoutMs} ms`)
    this.name = 'TransportTimeoutError'
  }
}

/** The proxy answered CONNECT with something else than 2xx. */
export class ProxyRefusedError extends Error {
  constructor(readonly status: number) {
    super(`the proxy refused the tunnel (HTTP ${status})`)
    this.name = 'ProxyRefusedError'
  }
}

/** `Basic …` for a proxy URL carrying `user:password@`, else undefined. */
export function proxyAuthorization(proxy: URL): string | undefined {
  if (!proxy.username && !proxy.password) return undefined
  const user = decodeURIComponent(proxy.username)
  const password = decodeURIComponent(proxy.password)
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
}
