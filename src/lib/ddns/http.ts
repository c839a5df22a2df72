import {errorMessage} from '../errors.js'
import {type HttpHeaders, HttpPool, httpRequest} from '../http/client.js'
import {NetworkError} from '../http/network-error.js'
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
  headers: HttpHeaders
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

/**
 * The HTTP side of ddns on the one outgoing HTTP module (http/client.ts): a keep-alive pool per scheme
 * and address family, a hard per-request timeout (connect to last body byte), a body size cap and our
 * User-Agent. Never follows redirects and never logs URLs (DuckDNS puts the token in the query string).
 *
 * Its pool uses the module's node:http transport rather than undici: a ddns run makes one or two small
 * requests, and undici's module graph plus its llhttp WebAssembly cost ~200 ms of CPU and ~55 MiB on a
 * timer that runs every few minutes (scripts/bench/ddns.mjs).
 */
export class DdnsHttpClient {
  private readonly pool: HttpPool

  constructor(private readonly options: HttpClientOptions) {
    this.pool = new HttpPool({transport: 'node', connectTimeoutMs: options.timeoutMs, maxSockets: 4})
  }

  async request(url: string, request: HttpRequestOptions = {}): Promise<HttpAnswer> {
    try {
      const answer = await httpRequest(url, {
        method: request.method ?? 'GET',
        pool: this.pool,
        family: request.family,
        headers: {'user-agent': this.options.userAgent, ...request.headers},
        body: request.body,
        signal: this.options.signal,
        timeoutMs: this.options.timeoutMs,
        maxBytes: request.maxBytes ?? 256 * 1024,
        overflow: 'cut',
        redirects: {max: 0},
      })
      // Whatever a remote answers is masked here, before anything reads it: a provider echoing the password
      // (`badauth <password>`) must not carry it into the database, history, --json, routes or logs.
      return {status: answer.status, headers: answer.headers, body: redact(answer.body.toString('utf8'))}
    } catch (error) {
      if (this.options.signal?.aborted) throw new HttpFailure('aborted', 'stopped')
      if (!(error instanceof NetworkError)) throw new HttpFailure('network', errorMessage(error))
      if (error.timedOut) throw new HttpFailure('timeout', `no answer within ${this.options.timeoutMs / 1000}s`)
      throw new HttpFailure(error.unreachable ? 'unreachable' : 'network', error.reason)
    }
  }

  async close(): Promise<void> {
    await this.pool.close()
  }
}
