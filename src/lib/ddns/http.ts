import type {Agent, Dispatcher} from 'undici'

import {errnoCode, errorMessage} from '../errors.js'
import type {Family} from './address.js'

export interface HttpClientOptions {
  /** `homeops/<version>`: dyndns2 providers block clients without a unique agent (`badagent`). */
  userAgent: string
  /** Per request, connect to last body byte. */
  timeoutMs: number
  /** Aborts every request (SIGTERM in `serve`). */
  signal?: AbortSignal
}

export interface HttpRequestOptions {
  method?: string
  headers?: Record<string, string>
  body?: string
  /** Connect over this address family only (IP detection); both when absent. */
  family?: Family
  /** Bodies above this are cut (an echo service answering megabytes is broken). */
  maxBytes?: number
}

export interface HttpAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** Why a request got no answer: `timeout` and `network` are worth retrying, `aborted` means we are stopping. */
export class HttpFailure extends Error {
  constructor(
    readonly kind: 'timeout' | 'network' | 'aborted',
    message: string,
  ) {
    super(message)
    this.name = 'HttpFailure'
  }
}

/**
 * The HTTP side of ddns: undici (loaded on first use), one connection pool per
 * address family, a hard per-request timeout, a body size cap and our
 * User-Agent. It never follows redirects and never logs URLs (DuckDNS puts
 * the token in the query string).
 */
export class DdnsHttpClient {
  private readonly agents = new Map<Family | 0, Agent>()
  private undici?: Promise<typeof import('undici')>

  constructor(private readonly options: HttpClientOptions) {}

  async request(url: string, request: HttpRequestOptions = {}): Promise<HttpAnswer> {
    const undici = await (this.undici ??= import('undici'))
    const dispatcher = this.agent(undici, request.family ?? 0)
    const timeout = AbortSignal.timeout(this.options.timeoutMs)
    const signal = this.options.signal ? AbortSignal.any([this.options.signal, timeout]) : timeout
    const seconds = this.options.timeoutMs / 1000
    try {
      const response = await undici.request(url, {
        method: (request.method ?? 'GET') as Dispatcher.HttpMethod,
        headers: {'user-agent': this.options.userAgent, ...request.headers},
        body: request.body,
        dispatcher,
        signal,
      })
      const body = await readLimited(response.body, request.maxBytes ?? 256 * 1024)
      return {status: response.statusCode, headers: response.headers, body}
    } catch (error) {
      if (this.options.signal?.aborted) throw new HttpFailure('aborted', 'stopped')
      if (timeout.aborted || /TIMEOUT/.test(errnoCode(error) ?? ''))
        throw new HttpFailure('timeout', `no answer within ${seconds}s`)
      throw new HttpFailure('network', describeNetworkError(error))
    }
  }

  async close(): Promise<void> {
    const agents = [...this.agents.values()]
    this.agents.clear()
    await Promise.all(agents.map((agent) => agent.destroy().catch(() => undefined)))
  }

  private agent(undici: typeof import('undici'), family: Family | 0): Agent {
    let agent = this.agents.get(family)
    if (!agent) {
      agent = new undici.Agent({
        connect: {timeout: this.options.timeoutMs, ...(family ? {family} : {})},
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
        keepAliveTimeout: 4000,
      })
      this.agents.set(family, agent)
    }
    return agent
  }
}

async function readLimited(body: AsyncIterable<Buffer> & {destroy(): unknown}, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    const room = maxBytes - size
    if (chunk.length >= room) {
      chunks.push(chunk.subarray(0, room))
      body.destroy()
      break
    }
    chunks.push(chunk)
    size += chunk.length
  }
  return Buffer.concat(chunks).toString('utf8')
}

function describeNetworkError(error: unknown): string {
  const cause = (error as {cause?: unknown}).cause
  const code = errnoCode(cause) ?? errnoCode(error)
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'name not resolved'
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection reset'
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
    case 'EADDRNOTAVAIL':
      return 'network unreachable over this address family'
    default:
      return errorMessage(cause ?? error)
  }
}
