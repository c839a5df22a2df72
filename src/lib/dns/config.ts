import {bool, hostname, ip, ipList, list, listen, map, num, obj, str, upstream} from '../config/schema.js'
import {parseDockerHost} from '../docker/client.js'
import {errorMessage} from '../errors.js'
import {canBindPrivilegedPorts} from '../net/privileged-ports.js'
import {staticRecordProblems} from './static-records.js'

export const dnsSchema = obj({
  enabled: bool({default: false, description: 'run the DNS server in `homeops serve`'}),
  port: num({
    min: 0,
    max: 65535,
    integer: true,
    env: ['DNS_PORT'],
    description: 'default 53 when it may be bound (root, CAP_NET_BIND_SERVICE), else 5353; 0: any free port',
  }),
  bind: ip({default: '0.0.0.0', env: ['DNS_BIND_ADDRESS']}),
  ipv6: bool({
    default: true,
    env: ['DNS_IPV6'],
    description: 'also listen on IPv6 ([::] when bind is 0.0.0.0, ::1 when it is 127.0.0.1)',
  }),
  tcp: bool({default: true, description: 'serve DNS over TCP as well as UDP'}),
  hostIp: ipList({env: ['HOSTIP'], description: 'address for names without one; default: the default-route address'}),
  hostsDirectory: str({env: ['HOSTS_DIRECTORY']}),
  docker: bool({default: true, env: ['DNS_DOCKER'], description: 'read container and Swarm service labels'}),
  swarmManagers: list(str({validate: dockerAddressProblem}), {
    env: ['DNS_SWARM_MANAGERS'],
    description:
      'Docker addresses of Swarm managers (unix:///…, tcp://host:2375, https://host:2376) to read service labels from, ' +
      'tried in order; for a server on a worker node, whose own Docker cannot list services',
  }),
  upstreams: list(upstream(), {
    env: ['DNS_UPSTREAMS'],
    description: 'resolvers for names this server does not own (IP[:PORT]); default: the nameservers of `resolvConf`',
  }),
  resolvConf: str({
    default: '/etc/resolv.conf',
    description: 'where the system resolvers are read when `upstreams` is empty (this server itself is left out)',
  }),
  upstreamTimeoutMs: num({default: 2000, min: 100, max: 30000, integer: true}),
  cacheSize: num({default: 10000, min: 0, max: 1_000_000, integer: true, description: 'forwarded answers cached'}),
  ttl: num({default: 60, min: 0, max: 86400, integer: true}),
  zones: list(hostname(), {
    env: ['DNS_ZONES'],
    description: 'zones answered authoritatively (NXDOMAIN/SOA); default: the parent domain of every record name',
  }),
  records: map(str(), {
    description: 'static records: name: address(es) or name (CNAME)',
    validate: staticRecordProblems,
  }),
  maxUdpSize: num({default: 1232, min: 512, max: 4096, integer: true, description: 'largest EDNS UDP answer'}),
  rateLimit: num({
    default: 0,
    min: 0,
    max: 1_000_000,
    integer: true,
    env: ['DNS_RATE_LIMIT'],
    description: 'queries per second per source address (0: only fair sharing when the server is saturated)',
  }),
  native: bool({
    default: true,
    description:
      'answer UDP on a native thread in batches (recvmmsg/sendmmsg) when the addon is built; false: the full path (JavaScript) only',
  }),
  workers: num({
    default: 0,
    min: 0,
    max: 16,
    integer: true,
    env: ['DNS_WORKERS'],
    description: 'ignored (the worker processes were replaced by the native answerer); kept so old configs load',
  }),
  httpListen: listen({default: '127.0.0.1:8053', description: 'status page of `homeops dns serve`'}),
  // ---- bounds (issue 13) ----
  forwardMax: num({
    default: 150,
    min: 1,
    max: 10_000,
    integer: true,
    env: ['DNS_FORWARD_MAX'],
    description: "questions forwarded upstream at the same time at most (dnsmasq's dns-forward-max); beyond: SERVFAIL",
  }),
  cacheBytes: num({
    default: 16 * 1024 * 1024,
    min: 0,
    max: 1024 * 1024 * 1024,
    integer: true,
    description: 'bytes of forwarded answers cached at most',
  }),
  tcpMaxConnections: num({
    default: 256,
    min: 1,
    max: 65_536,
    integer: true,
    description: 'open TCP connections at most',
  }),
  tcpMaxPerSource: num({
    default: 16,
    min: 1,
    max: 65_536,
    integer: true,
    description: 'open TCP connections per client address at most',
  }),
  tcpMessageTimeoutMs: num({
    default: 3000,
    min: 100,
    max: 60_000,
    integer: true,
    description: 'a TCP query (the first one from connecting) must arrive whole within this',
  }),
  tcpIdleMs: num({
    default: 10_000,
    min: 100,
    max: 300_000,
    integer: true,
    description: 'a TCP connection with nothing in flight is closed after this',
  }),
  tcpOutputBytes: num({
    default: 128 * 1024,
    min: 65_537,
    max: 16 * 1024 * 1024,
    integer: true,
    description: 'answer bytes queued for a TCP client before its connection stops being read',
  }),
})

function dockerAddressProblem(value: string): string | undefined {
  try {
    parseDockerHost(value)
    return undefined
  } catch (error) {
    return errorMessage(error)
  }
}

/** DNS port: configured, else 53 when this process may bind it (the real thing) and 5353 otherwise. */
export function effectiveDnsPort(port: number | undefined, privileged = canBindPrivilegedPorts()): number {
  return port ?? (privileged ? 53 : 5353)
}
