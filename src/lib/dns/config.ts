import {bool, hostname, ip, ipList, list, listen, map, num, obj, str, upstream} from '../config/schema.js'
import {staticRecordProblems} from './static-records.js'

export const dnsSchema = obj({
  enabled: bool({default: false, description: 'run the DNS server in `homeops serve`'}),
  port: num({
    min: 0,
    max: 65535,
    integer: true,
    env: ['DNS_PORT'],
    description: 'default 53 as root, 5353 otherwise; 0: any free port',
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
  upstreams: list(upstream(), {env: ['DNS_UPSTREAMS']}),
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
      'answer UDP on a native thread in batches (recvmmsg/sendmmsg) when the addon is built; false: JavaScript only',
  }),
  workers: num({
    default: 0,
    min: 0,
    max: 16,
    integer: true,
    env: ['DNS_WORKERS'],
    description: 'extra processes answering UDP from the pre-encoded answers, for more than one core (0: none)',
  }),
  httpListen: listen({default: '127.0.0.1:8053', description: 'status page of `homeops dns serve`'}),
})

/** DNS port: configured, else 53 as root (the real thing) and 5353 otherwise (unprivileged). */
export function effectiveDnsPort(port: number | undefined, root = process.getuid?.() === 0): number {
  return port ?? (root ? 53 : 5353)
}
