import {mkdtempSync, rmSync} from 'node:fs'
import {type Server, createServer} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DockerTimeoutError, connectDocker, createDocker} from '../../../src/lib/docker/client.js'
import {requestLimit} from '../../../src/lib/docker/idle-timeout.js'
import {TransientError} from '../../../src/lib/errors.js'
import {stackServices} from '../../../src/lib/swarm/docker.js'
import {type DockerStandIn, frozenDocker} from '../../support/frozen-docker.js'

let frozen: DockerStandIn
/** A daemon that answers /_ping and opens /events, then says nothing more. */
const dir = mkdtempSync(join(tmpdir(), 'hotest-runtime-quiet-'))
const quietSocket = join(dir, 'docker.sock')
let quiet: Server

beforeAll(async () => {
  frozen = await frozenDocker()
  quiet = createServer((req, res) => {
    if (req.url === '/_ping') return void res.end('OK')
    if (req.url?.startsWith('/events')) {
      res.writeHead(200, {'content-type': 'application/json'})
      res.flushHeaders()
      return
    }
    if (req.url?.startsWith('/containers/json')) return // never answers
    res.writeHead(404).end('{}')
  })
  await new Promise<void>((resolve) => quiet.listen(quietSocket, resolve))
})

afterAll(async () => {
  await frozen.close()
  quiet.closeAllConnections()
  await new Promise((resolve) => quiet.close(resolve))
  rmSync(dir, {recursive: true, force: true})
})

async function timed<T>(work: Promise<T>): Promise<{ms: number; error: unknown}> {
  const started = Date.now()
  try {
    await work
    return {ms: Date.now() - started, error: undefined}
  } catch (error) {
    return {ms: Date.now() - started, error}
  }
}

describe('Engine calls against a daemon that accepts and never answers', () => {
  it('dockerode: the ping fails within the limit as a temporary error naming the socket', async () => {
    const {ms, error} = await timed(connectDocker(frozen.host, {timeoutMs: 400}))
    expect(error).toBeInstanceOf(TransientError)
    expect((error as TransientError).exitCode).toBe(3)
    expect((error as Error).message).toBe(`the Docker daemon at ${frozen.host} did not answer within 0.4 s`)
    expect(ms).toBeLessThan(3000)
    expect(frozen.connections).toBeGreaterThan(0)
  })

  it('a swarm read on a client made before the daemon froze fails within the limit as a temporary error', async () => {
    const {docker} = await createDocker(frozen.host, {timeoutMs: 400})
    const {ms, error} = await timed(stackServices(docker))
    expect(error).toBeInstanceOf(TransientError)
    expect((error as Error).message).toContain('did not answer within 0.4 s')
    expect(ms).toBeLessThan(3000)
  })

  it('a call that gets no answer fails, while an event stream that opened may stay quiet past the limit', async () => {
    const {docker} = await createDocker(`unix://${quietSocket}`, {timeoutMs: 300})
    const list = await timed(docker.listContainers())
    expect(list.error).toBeInstanceOf(DockerTimeoutError)

    const events = (await docker.getEvents()) as NodeJS.ReadableStream & {destroy(): void}
    const outcome = await new Promise<string>((resolve) => {
      events.on('error', (error) => resolve(`error: ${String(error)}`))
      events.on('close', () => resolve('closed'))
      setTimeout(() => resolve('still open'), 1000)
    })
    events.destroy()
    expect(outcome).toBe('still open')
  })

  it('gives quiet calls their own limit from the request path', () => {
    expect(requestLimit('/v1.43/events?filters=%7B%7D', 30_000)).toEqual({ms: 30_000, quietAfterHeaders: true})
    expect(requestLimit('/containers/abc/wait?condition=not-running', 30_000).quietAfterHeaders).toBe(true)
    expect(requestLimit('/containers/abc/logs?follow=1&stdout=1', 30_000).quietAfterHeaders).toBe(true)
    expect(requestLimit('/containers/abc/logs?tail=5', 30_000).quietAfterHeaders).toBe(false)
    expect(requestLimit('/containers/abc/stop?t=120', 30_000)).toEqual({ms: 130_000, quietAfterHeaders: false})
    expect(requestLimit('/containers/abc/stop?t=5', 30_000).ms).toBe(30_000)
    expect(requestLimit('/containers/abc/stop?t=-1', 5_000).ms).toBe(20_000)
    expect(requestLimit('/containers/json?all=1', 30_000)).toEqual({ms: 30_000, quietAfterHeaders: false})
  })
})
