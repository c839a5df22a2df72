import {mkdtempSync, rmSync} from 'node:fs'
import {type Server, type Socket, connect, createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/**
 * Stand-ins for a SIGSTOPped dockerd, which the shared test daemon cannot be
 * (other tests use it): the kernel still accepts connections on its socket,
 * and nothing ever answers.
 */
export interface DockerStandIn {
  /** `unix:///…/docker.sock`, for DOCKER_HOST / --docker-host. */
  host: string
  socketPath: string
  /** Connections accepted so far. */
  readonly connections: number
  close(): Promise<void>
}

/** A socket that accepts every connection and never answers. */
export async function frozenDocker(): Promise<DockerStandIn> {
  const dir = mkdtempSync(join(tmpdir(), 'hotest-runtime-frozen-'))
  const socketPath = join(dir, 'docker.sock')
  const sockets = new Set<Socket>()
  let connections = 0
  const server = createServer((socket) => {
    connections++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  await listen(server, socketPath)
  return {
    host: `unix://${socketPath}`,
    socketPath,
    get connections() {
      return connections
    },
    close: () => closeAll(server, sockets, dir),
  }
}

export interface FreezableDocker extends DockerStandIn {
  /** From now on nothing passes either way, on open and new connections (as SIGSTOP). */
  freeze(): void
  /** Everything held is delivered, as SIGCONT. */
  thaw(): void
}

/** A proxy in front of a real daemon's socket that can be frozen and thawed mid-test. */
export async function freezableDocker(upstreamSocket: string): Promise<FreezableDocker> {
  const dir = mkdtempSync(join(tmpdir(), 'hotest-runtime-proxy-'))
  const socketPath = join(dir, 'docker.sock')
  const sockets = new Set<Socket>()
  const pairs = new Set<{client: Socket; upstream?: Socket}>()
  let frozen = false
  let connections = 0
  const join_ = (pair: {client: Socket; upstream?: Socket}) => {
    const upstream = connect(upstreamSocket)
    pair.upstream = upstream
    sockets.add(upstream)
    upstream.on('error', () => pair.client.destroy())
    upstream.on('close', () => {
      sockets.delete(upstream)
      pair.client.destroy()
    })
    pair.client.pipe(upstream)
    upstream.pipe(pair.client)
  }
  const server = createServer((client) => {
    connections++
    sockets.add(client)
    const pair: {client: Socket; upstream?: Socket} = {client}
    pairs.add(pair)
    client.on('error', () => {})
    client.on('close', () => {
      sockets.delete(client)
      pairs.delete(pair)
      pair.upstream?.destroy()
    })
    if (frozen) client.pause()
    else join_(pair)
  })
  await listen(server, socketPath)
  return {
    host: `unix://${socketPath}`,
    socketPath,
    get connections() {
      return connections
    },
    freeze() {
      frozen = true
      for (const pair of pairs) {
        pair.client.pause()
        pair.upstream?.pause()
      }
    },
    thaw() {
      frozen = false
      for (const pair of pairs) {
        if (!pair.upstream) join_(pair)
        pair.client.resume()
        pair.upstream!.resume()
      }
    },
    close: () => closeAll(server, sockets, dir),
  }
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => resolve())
  })
}

async function closeAll(server: Server, sockets: Set<Socket>, dir: string): Promise<void> {
  for (const socket of sockets) socket.destroy()
  await new Promise((resolve) => server.close(resolve))
  rmSync(dir, {recursive: true, force: true})
}
