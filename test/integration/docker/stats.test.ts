import {execFile} from 'node:child_process'
import {rmSync} from 'node:fs'
import {type Server, type Socket, connect, createServer} from 'node:net'
import {join} from 'node:path'
import {promisify} from 'node:util'

import Dockerode from 'dockerode'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ContainerWatcher, statsOnce} from '../../../src/lib/docker/stats.js'
import {dockerEnv, testEnv} from '../../support/testenv.js'
import {Cleanup, docker, runContainer, silent, uniqueName, waitFor} from '../monitor/harness.js'

const run = promisify(execFile)
const d = docker()
const cleanup = new Cleanup(d)

/** A unix-socket proxy in front of the test dockerd, so a "daemon restart" can be simulated without touching it. */
class DaemonProxy {
  private server?: Server
  private readonly sockets = new Set<Socket>()
  constructor(readonly path: string) {}

  start(): Promise<void> {
    rmSync(this.path, {force: true})
    const server = createServer((client) => {
      const upstream = connect(testEnv().dockerSocket)
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => {})
      }
      client.pipe(upstream).pipe(client)
    })
    this.server = server
    return new Promise((resolve) => server.listen(this.path, resolve))
  }

  /** Every connection cut, the socket gone: what clients see when dockerd stops. */
  stop(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }
}

let proxy: DaemonProxy
let watcher: ContainerWatcher

beforeAll(async () => {
  proxy = new DaemonProxy(join(cleanup.tempDir(), 'docker.sock'))
  await proxy.start()
  watcher = new ContainerWatcher(new Dockerode({socketPath: proxy.path}), {
    logger: silent,
    minBackoffMs: 100,
    maxBackoffMs: 500,
    refreshMs: 60_000,
  })
  await watcher.start()
})

afterAll(async () => {
  await watcher?.stop()
  await proxy?.stop()
  await cleanup.run()
}, 120_000)

describe('ContainerWatcher', () => {
  it('streams CPU like docker stats (scaled by CPUs), memory without cache and cumulative I/O', async () => {
    const name = uniqueName('busy')
    const container = await runContainer(d, cleanup, {
      name,
      Cmd: ['sh', '-c', 'while :; do :; done'],
      HostConfig: {NanoCpus: 500_000_000, Memory: 128 * 1024 * 1024},
    })
    const metrics = await waitFor('two samples', () => {
      const m = watcher.metrics(container.id)
      return m && m.cpu !== null && m.cpu > 5 ? m : undefined
    })
    // Limited to half a CPU: at most about 50 % whatever the host's CPU count (less on a busy host,
    // never the 100 %+ an unscaled or per-CPU figure would give).
    expect(metrics.cpu).toBeGreaterThan(5)
    expect(metrics.cpu).toBeLessThan(70)
    expect(metrics.memUsage).toBeGreaterThan(0)
    expect(metrics.memLimit).toBe(128 * 1024 * 1024)
    expect(metrics.memPerc).toBeCloseTo((metrics.memUsage! / metrics.memLimit!) * 100, 1)
    expect(Number.isInteger(metrics.netRx)).toBe(true)
    expect(Number.isInteger(metrics.blkRead)).toBe(true)
    // The same figure as the docker CLI within noise.
    const {stdout} = await run('docker', ['stats', '--no-stream', '--format', '{{.CPUPerc}}', name], {env: dockerEnv()})
    const cliCpu = Number.parseFloat(stdout)
    expect(Math.abs(cliCpu - watcher.metrics(container.id)!.cpu!)).toBeLessThan(25)
    // The one-shot form for the CLI agrees too.
    const once = await statsOnce(d, [container.id])
    expect(once.get(container.id)!.cpu).toBeGreaterThan(5)
    expect(once.get(container.id)!.cpu).toBeLessThan(70)
  })

  it('follows stop and start events: detaches, then re-attaches a fresh stream', async () => {
    const name = uniqueName('ev')
    const container = await runContainer(d, cleanup, {name})
    await waitFor('attached', () => watcher.metrics(container.id))
    expect(watcher.find(name)).toMatchObject({state: 'running', id: container.id})
    await container.stop({t: 0})
    await waitFor('exited', () => (watcher.find(name)?.state === 'exited' ? true : undefined), 5000)
    expect(watcher.metrics(container.id)).toBeUndefined()
    const restartedAt = Date.now()
    await container.start()
    const fresh = await waitFor('fresh metrics', () => {
      const m = watcher.metrics(container.id)
      return m && m.at > restartedAt ? m : undefined
    })
    expect(fresh.memUsage).toBeGreaterThan(0)
    expect(watcher.find(name)?.state).toBe('running')
    // Removal makes it disappear.
    await container.remove({force: true})
    await waitFor('gone', () => (watcher.find(name) ? undefined : true), 5000)
  })

  it('reconnects with backoff after the daemon went away and re-attaches every stream', async () => {
    const before = uniqueName('pre')
    const pre = await runContainer(d, cleanup, {name: before})
    await waitFor('attached', () => watcher.metrics(pre.id))
    const reconnects = watcher.info.reconnects

    await proxy.stop()
    await waitFor('disconnected', () => (watcher.connected ? undefined : true), 5000)
    // Started while we could not see the daemon.
    const during = uniqueName('during')
    const started = await runContainer(d, cleanup, {name: during})
    await new Promise((r) => setTimeout(r, 700))
    expect(watcher.find(during)).toBeUndefined()
    await proxy.start()

    await waitFor('reconnected', () => (watcher.connected ? true : undefined), 10_000)
    expect(watcher.info.reconnects).toBe(reconnects + 1)
    const mark = Date.now()
    await waitFor('new container seen with metrics', () => watcher.metrics(started.id), 10_000)
    await waitFor('old stream re-attached', () => {
      const m = watcher.metrics(pre.id)
      return m && m.at > mark ? true : undefined
    })
    expect(watcher.find(during)?.state).toBe('running')
  })
})
