import {readFileSync} from 'node:fs'

const CAP_NET_BIND_SERVICE = 10n

/**
 * Whether this process holds the privilege to listen below port 1024: root,
 * or CAP_NET_BIND_SERVICE in its effective set (what homeops.service grants
 * with `AmbientCapabilities=` when DNS serves port 53).
 *
 * A container's `net.ipv4.ip_unprivileged_port_start=0` (Docker's default)
 * is deliberately not counted: the image's documented default stays 5353
 * there, and the compose file and Swarm stack set the port they publish.
 */
export function canBindPrivilegedPorts(
  uid = process.getuid?.(),
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): boolean {
  if (uid === 0) return true
  try {
    const effective = /^CapEff:\s*([0-9a-f]+)$/m.exec(read('/proc/self/status'))?.[1]
    return effective !== undefined && ((BigInt(`0x${effective}`) >> CAP_NET_BIND_SERVICE) & 1n) === 1n
  } catch {
    // Not Linux, or /proc hidden.
    return false
  }
}
