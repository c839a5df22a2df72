import type {Agent, ClientRequest} from 'node:http'
import type {Socket} from 'node:net'

import {DockerTimeoutError} from './client.js'

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
 * No keep-alive: a pooled idle socket would time out between calls.
 */
export async function idleTimeoutAgent(tls: boolean, timeoutMs: number): Promise<Agent> {
  const BaseAgent: typeof Agent = tls ? (await import('node:https')).Agent : (await import('node:http')).Agent
  const agent = new BaseAgent({keepAlive: false}) as Agent & {
    addRequest(request: ClientRequest, options: unknown): void
  }
  const add = agent.addRequest.bind(agent)
  agent.addRequest = (request, options) => {
    const limit = requestLimit(request.path, timeoutMs)
    request.once('socket', (socket: Socket) => {
      // `socket.timeout` is the limit in force when it fires (it changes once a quiet stream answers).
      socket.setTimeout(limit.ms, () => socket.destroy(new DockerTimeoutError(socket.timeout || limit.ms)))
    })
    if (limit.quietAfterHeaders) request.once('response', () => request.socket?.setTimeout(0))
    add(request, options)
  }
  return agent
}

/** The idle limit of one Engine API request (exported for tests). */
export function requestLimit(path: string, timeoutMs: number): {ms: number; quietAfterHeaders: boolean} {
  const [pathname = '', query = ''] = path.split('?', 2)
  const endpoint = pathname.replace(/^\/v\d+(\.\d+)?(?=\/)/, '')
  const params = new URLSearchParams(query)
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
