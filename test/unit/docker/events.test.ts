import {mkdtempSync, rmSync} from 'node:fs'
import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {createDocker} from '../../../src/lib/docker/client.js'
import {type DockerEvent, DockerEventFollower, MAX_LINE_BYTES} from '../../../src/lib/docker/events.js'
import {Logger} from '../../../src/lib/log/logger.js'

/**
 * The one event follower against a fake daemon on a unix socket: `/_ping` answers (or not, when
 * frozen), `/events` stays open and sends what the test pushes.
 */
const dir = mkdtempSync(join(tmpdir(), 'hotest-events-'))
const socket = join(dir, 'docker.sock')
let server: Server
const streams: ServerResponse[] = []
let eventRequests: string[] = []
let frozen = false

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/_ping') {
      if (!frozen) res.end('OK')
      return
    }
    if (req.url?.startsWith('/events')) {
      eventRequests.push(req.url)
      res.writeHead(200, {'content-type': 'application/json'})
      res.flushHeaders()
      streams.push(res)
      return
    }
    res.writeHead(404).end('{}')
  })
  await new Promise<void>((resolve) => server.listen(socket, resolve))
})

const followers: DockerEventFollower[] = []
afterEach(async () => {
  for (const f of followers.splice(0)) await f.stop()
  for (const s of streams.splice(0)) s.destroy()
  eventRequests = []
  frozen = false
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  rmSync(dir, {recursive: true, force: true})
})

async function until<T>(what: string, check: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

function follower(extra: Partial<ConstructorParameters<typeof DockerEventFollower>[0]> = {}) {
  const seen: DockerEvent[] = []
  const log: string[] = []
  const opens: number[] = []
  const lost: string[] = []
  const f = new DockerEventFollower({
    connect: async () => (await createDocker(`unix://${socket}`, {timeoutMs: 2000})).docker,
    filters: {type: ['container']},
    logger: new Logger({level: 'debug', format: 'text', sink: {write: (l: string) => void log.push(l)}}),
    onOpen: async () => void opens.push(Date.now()),
    onEvent: (event) => void seen.push(event),
    onLost: (reason, how) => void lost.push(`${how}: ${reason}`),
    minBackoffMs: 50,
    maxBackoffMs: 200,
    heartbeatMs: 100,
    pingTimeoutMs: 200,
    ...extra,
  })
  followers.push(f)
  return {f, seen, opens, lost}
}

describe('the Docker event follower', () => {
  it('catches up once the stream is open, then hands over each event, with the filters asked for', async () => {
    const {f, seen, opens} = follower()
    await f.start()
    expect(f.connected).toBe(true)
    expect(opens).toHaveLength(1)
    expect(new URL(eventRequests[0]!, 'http://x').searchParams.get('filters')).toBe('{"type":["container"]}')
    streams[0]!.write('{"Type":"container","Action":"start","Actor":{"ID":"abc"}}\n{"Type":"contai')
    streams[0]!.write('ner","Action":"die","Actor":{"ID":"abc"}}\nnot json\n')
    await until('two events', () => seen.length === 2)
    expect(seen.map((e) => e.Action)).toEqual(['start', 'die'])
  })

  it('reconnects with backoff when the daemon closes the stream, and catches up again', async () => {
    const {f, opens, lost} = follower()
    await f.start()
    streams[0]!.end()
    await until('reconnected', () => f.reconnects === 1)
    expect(f.connected).toBe(true)
    expect(opens).toHaveLength(2)
    expect(lost).toEqual(['ended: event stream ended'])
    expect(eventRequests).toHaveLength(2)
  })

  it('drops an event line longer than the bound, counts it, and reads the next one', async () => {
    const {f, seen} = follower({maxLineBytes: 1024})
    await f.start()
    streams[0]!.write(`{"Type":"container","Action":"${'x'.repeat(4096)}`)
    streams[0]!.write(`${'y'.repeat(4096)}"}\n{"Type":"container","Action":"start"}\n`)
    await until('the next event', () => seen.length === 1)
    expect(seen[0]!.Action).toBe('start')
    expect(f.oversized).toBe(1)
    expect(MAX_LINE_BYTES).toBeGreaterThan(64 * 1024)
  })

  it('treats a daemon that stops answering pings as gone, and reconnects once it answers again', async () => {
    const {f, lost} = follower()
    await f.start()
    frozen = true
    await until('lost', () => !f.connected)
    expect(lost[0]).toMatch(/^failed: the Docker daemon did not answer a ping within 0.2 s/)
    expect(f.lostAt).toBeGreaterThan(0)
    frozen = false
    await until('reconnected', () => f.connected)
    expect(f.reconnects).toBe(1)
    expect(f.lostAt).toBeUndefined()
  })

  it('without retry a failed start stays stopped; with retry it keeps trying until Docker is there', async () => {
    frozen = true
    const once = follower()
    await expect(once.f.start()).rejects.toThrow(/did not answer a ping/)
    const retrying = follower()
    await expect(retrying.f.start({retry: true})).rejects.toThrow(/did not answer a ping/)
    frozen = false
    await until('connected after retries', () => retrying.f.connected)
    await new Promise((r) => setTimeout(r, 300))
    expect(once.f.connected).toBe(false)
    expect(retrying.opens).toHaveLength(1)
  })
})
