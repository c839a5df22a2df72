import type {Agent as HttpAgent, IncomingHttpHeaders} from 'node:http'

import {errnoCode} from '../errors.js'
import {describeNetworkError} from '../http/network-error.js'
import {RequestTimeoutError, nodeRequest} from '../http/node-request.js'
import {redact} from '../log/redact.js'
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
  headers: IncomingHttpHeaders
  body: string
}

/**
 * Why a request got no answer:
 * - `unreachable`: the request never reached the server (connection refused, name not resolved, no route):
 *   the only failure worth retrying within a run;
 * - `timeout`: the request may have reached the server: the outcome is unknown, never resent in the run;
 * - `network`: the connection broke or TLS failed after connecting;
 * - `aborted`: we are stopping.
 */
export class HttpFailure extends Error {
  constructor(
    readonly kind: 'unreachable' | 'timeout' | 'network' | 'aborted',
    message: string,
  ) {
    super(message)
    this.name = 'HttpFailure'
  }
}

type Transport = Pick<typeof import('node:http'), 'request' | 'Agent'>

/**
 * The HTTP side of ddns: a keep-alive pool per scheme and address family, a
 * hard per-request timeout (connect to last body byte), a body size cap and
 * our User-Agent. Never follows redirects and never logs URLs (DuckDNS puts
 * the token in the query string).
 *
 * Built on `nodeRequest` (node:http/https) rather than undici: a ddns run makes
 * one or two small requests, and undici's module graph plus its llhttp
 * WebAssembly cost ~250 ms of start-up on a timer that runs every few minutes
 * (scripts/bench/ddns.mjs).
 */
export class DdnsHttpClient {
  private readonly agents = new Map<string, HttpAgent>()

  constructor(private readonly options: HttpClientOptions) {}

  async request(url: string, request: HttpRequestOptions = {}): Promise<HttpAnswer> {
    const secure = new URL(url).protocol === 'https:'
    const transport = (secure ? await import('node:https') : await import('node:http')) as Transport
    const body = request.body === undefined ? undefined : Buffer.from(request.body)
    try {
      const answer = await nodeRequest({
        url,
        method: request.method ?? 'GET',
        agent: this.agent(transport, secure, request.family),
        headers: {
          'user-agent': this.options.userAgent,
          ...(body ? {'content-length': String(body.length)} : {}),
          ...request.headers,
        },
        body,
        signal: this.options.signal,
        timeoutMs: this.options.timeoutMs,
        maxBytes: request.maxBytes ?? 256 * 1024,
        overflow: 'cut',
      })
      // Whatever a remote answers is masked here, before anything reads it: a provider echoing the password
      // (`badauth <password>`) must not carry it into the database, history, --json, routes or logs.
      return {status: answer.status, headers: answer.headers, body: redact(answer.body.toString('utf8'))}
    } catch (error) {
      if (this.options.signal?.aborted) throw new HttpFailure('aborted', 'stopped')
      if (error instanceof RequestTimeoutError) {
        throw new HttpFailure('timeout', `no answer within ${this.options.timeoutMs / 1000}s`)
      }
      const code = errnoCode(error) ?? errnoCode((error as {cause?: unknown}).cause)
      throw new HttpFailure(UNREACHABLE.has(code ?? '') ? 'unreachable' : 'network', describeNetworkError(error).reason)
    }
  }

  async close(): Promise<void> {
    for (const agent of this.agents.values()) agent.destroy()
    this.agents.clear()
  }

  private agent(transport: Transport, secure: boolean, family: Family | undefined): HttpAgent {
    const key = `${secure ? 's' : ''}${family ?? 0}`
    let agent = this.agents.get(key)
    if (!agent) {
      // `family` pins the connection to IPv4 or IPv6: each family is detected over its own family.
      agent = new transport.Agent({
        keepAlive: true,
        maxSockets: 4,
        timeout: this.options.timeoutMs,
        ...(family ? {family} : {}),
      })
      this.agents.set(key, agent)
    }
    return agent
  }
}

/** Errors raised before a request could reach the server: nothing was sent, resending is harmless. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL'])
