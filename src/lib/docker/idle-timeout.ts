import type {Agent, ClientRequest} from 'node:http'
import type {Socket} from 'node:net'

import {DockerAnswerTooLargeError, DockerTimeoutError} from './client.js'

/** Largest answer of a call that is not a stream (a listing, an inspect): far above any real daemon's. */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024

/**
 * An http(s) agent for dockerode whose connections fail with
 * `DockerTimeoutError` after `timeoutMs` without a byte in either direction,
 * so a daemon that accepts and never answers (SIGSTOP, a stuck proxy) fails
 * the call instead of hanging it. A streaming answer (stats, pull progress)
 * resets the clock with each chunk. Calls that are quiet by nature get their
 * own limit, decided here from the request path so no caller can forget it:
 * - `/events`, `/wait`, `/attach` and followed logs: the limit covers the
 *   answer's headers only; whoever follows them watches the daemon another way
 *   (the monitor pings it);
 * - `stop`/`restart` with `?t=N`: the daemon answers after up to N s.
 * The answer of a call that is not a stream is capped at `maxAnswerBytes` (docker-modem would
 * buffer any length); streams (events, stats, pull progress, logs, exports) are read as they come.
 * No keep-alive: a pooled idle socket would time out between calls, and one socket is one answer.
 */
export async function idleTimeoutAgent(
  tls: boolean,
  timeoutMs: number,
  maxAnswerBytes = MAX_ANSWER_BYTES,
): Promise<Agent> {
  const BaseAgent: typeof Agent = tls ? (await import('node:https')).Agent : (await import('node:http')).Agent
  const agent = new BaseAgent({keepAlive: false}) as Agent & {
    addRequest(request: ClientRequest, options: unknown): void
  }
  const add = agent.addRequest.bind(agent)
  agent.addRequest = (request, options) => {
    const limit = limitOf(request.path, timeoutMs)
    request.once('socket', (socket: Socket) => {
      // `socket.timeout` is the limit in force when it fires (it changes once a quiet stream answers).
      socket.setTimeout(limit.ms, () => socket.destroy(new DockerTimeoutError(socket.timeout || limit.ms)))
      if (limit.stream) return
      let received = 0
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length
        if (received > maxAnswerBytes) socket.destroy(new DockerAnswerTooLargeError(maxAnswerBytes))
      })
    })
    if (limit.quietAfterHeaders) request.once('response', () => request.socket?.setTimeout(0))
    add(request, options)
  }
  return agent
}

/** The idle limit of one Engine API request (exported for tests). */
export function requestLimit(path: string, timeoutMs: number): {ms: number; quietAfterHeaders: boolean} {
  const {endpoint, params} = parsePath(path)
  return idleLimit(endpoint, params, timeoutMs)
}

/** Answers read as they come, never buffered whole: no size cap (the idle limit still applies). */
const STREAMS = [
  /^\/events$/,
  /^\/(containers|services|tasks)\/[^/]+\/logs$/,
  /^\/containers\/[^/]+\/(attach|export|archive|wait)$/,
  /^\/images\/(create|load|get|.+\/get|.+\/push)$/,
  /^\/(build|session)$/,
  /^\/exec\/[^/]+\/start$/,
]

/** Whether a request's answer is a stream, exempt from the size cap (exported for tests). */
export function isStreamAnswer(path: string): boolean {
  const {endpoint, params} = parsePath(path)
  return (
    STREAMS.some((pattern) => pattern.test(endpoint)) ||
    (/^\/containers\/[^/]+\/stats$/.test(endpoint) && !/^(0|false)$/.test(params.get('stream') ?? ''))
  )
}

function parsePath(path: string): {endpoint: string; params: URLSearchParams} {
  const [pathname = '', query = ''] = path.split('?', 2)
  return {endpoint: pathname.replace(/^\/v\d+(\.\d+)?(?=\/)/, ''), params: new URLSearchParams(query)}
}

function limitOf(path: string, timeoutMs: number): {ms: number; quietAfterHeaders: boolean; stream: boolean} {
  return {...requestLimit(path, timeoutMs), stream: isStreamAnswer(path)}
}

function idleLimit(
  endpoint: string,
  params: URLSearchParams,
  timeoutMs: number,
): {ms: number; quietAfterHeaders: boolean} {
  if (
    endpoint === '/events' ||
    /^\/containers\/[^/]+\/(wait|attach)$/.test(endpoint) ||
    (/^\/(containers|services)\/[^/]+\/logs$/.test(endpoint) && /^(1|true)$/.test(params.get('follow') ?? ''))
  ) {
    return {ms: timeoutMs, quietAfterHeaders: true}
  }
  if (/^\/containers\/[^/]+\/(stop|restart)$/.test(endpoint)) {
    const seconds = Number(params.get('t'))
    // Docker's default grace period is 10 s; -1 means "wait for ever", which we do not.
    const grace = Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 3600) : 10
    return {ms: Math.max(timeoutMs, (grace + 10) * 1000), quietAfterHeaders: false}
  }
  return {ms: timeoutMs, quietAfterHeaders: false}
}
