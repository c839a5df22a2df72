import {readFileSync} from 'node:fs'

const CAP_NET_BIND_SERVICE = 10n

/**
 * Whether this process may listen below port 1024: as root, with
 * CAP_NET_BIND_SERVICE in its effective set (what homeops.service grants with
 * `AmbientCapabilities=` when DNS serves port 53), or on a host or container
 * whose `net.ipv4.ip_unprivileged_port_start` lets everyone (Docker sets 0).
 */
export function canBindPrivilegedPorts(
  uid = process.getuid?.(),
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): boolean {
  if (uid === 0) return true
  try {
    const effective = /^CapEff:\s*([0-9a-f]+)$/m.exec(read('/proc/self/status'))?.[1]
    if (effective && (BigInt(`0x${effective}`) >> CAP_NET_BIND_SERVICE) & 1n) return true
  } catch {
    // Not Linux, or /proc hidden: fall through.
  }
  try {
    return Number.parseInt(read('/proc/sys/net/ipv4/ip_unprivileged_port_start').trim(), 10) <= 53
  } catch {
    return false
  }
}
