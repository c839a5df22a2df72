import {createSocket} from 'node:dgram'
import {createServer} from 'node:net'

/**
 * A port on 127.0.0.1 that was free a moment ago, for a server a test is about to start. With `udp`, free for both
 * TCP and UDP (a DNS server listens on both): a port free for one protocol may be taken for the other.
 */
export async function freePort(udp = false): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer()
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const {port: taken} = server.address() as {port: number}
        server.close(() => resolve(taken))
      })
    })
    if (!udp) return port
    const free = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4')
      socket.once('error', () => resolve(false))
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)))
    })
    if (free) return port
  }
}
