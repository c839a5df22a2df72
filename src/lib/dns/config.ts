import {bool, list, map, num, obj, str} from '../config/schema.js'

export const dnsSchema = obj({
  enabled: bool({default: false, description: 'run the DNS server in `homeops serve`'}),
  port: num({min: 1, max: 65535, integer: true, env: ['DNS_PORT'], description: 'default 53 as root, 5353 otherwise'}),
  bind: str({default: '0.0.0.0', env: ['DNS_BIND_ADDRESS']}),
  hostIp: str({env: ['HOSTIP'], description: 'address for names without one; default: the default-route address'}),
  hostsDirectory: str({env: ['HOSTS_DIRECTORY']}),
  upstreams: list(str(), {env: ['DNS_UPSTREAMS']}),
  ttl: num({default: 60, min: 0, max: 86400, integer: true}),
  zones: list(str()),
  records: map(str()),
  httpListen: str({default: '127.0.0.1:8053', description: 'status page of `homeops dns serve`'}),
})

/** DNS port: configured, else 53 as root (the real thing) and 5353 otherwise (unprivileged). */
export function effectiveDnsPort(port: number | undefined, root = process.getuid?.() === 0): number {
  return port ?? (root ? 53 : 5353)
}
