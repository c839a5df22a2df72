import type {DoctorChecks} from '../area.js'
import type {Infer} from '../config/schema.js'
import {type Check, probeTcp, probeUdp} from '../doctor/check.js'
import {errnoCode, errorMessage} from '../errors.js'
import {type dnsSchema, effectiveDnsPort} from './config.js'
import {chooseUpstreams} from './system-resolvers.js'

type DnsConfig = Infer<typeof dnsSchema>

/** The port `dns serve` listens on is free (UDP and TCP) and may be bound by this user. */
export async function dnsPortCheck(dns: DnsConfig): Promise<Check> {
  const port = effectiveDnsPort(dns.port)
  const host = dns.bind
  const title = 'DNS port'
  try {
    await probeUdp(host, port)
    await probeTcp(host, port)
    return {id: 'dns-port', title, ok: true, detail: `${host}:${port} (udp+tcp) is free`}
  } catch (error) {
    const code = errnoCode(error)
    const detail =
      code === 'EADDRINUSE'
        ? `${host}:${port} is in use by another process`
        : code === 'EACCES'
          ? `${host}:${port} needs root (ports below 1024)`
          : `${host}:${port}: ${errorMessage(error)}`
    const hint =
      code === 'EADDRINUSE'
        ? 'stop the other DNS server (systemd-resolved stub?) or set DNS_PORT'
        : 'run as root or set DNS_PORT above 1023'
    return {id: 'dns-port', title, ok: false, detail, hint}
  }
}

/** What `dns serve` forwards other names to; none usable means every other name is REFUSED. */
export function dnsUpstreamsCheck(dns: DnsConfig): Check {
  const title = 'DNS upstreams'
  const choice = chooseUpstreams(dns)
  const skipped = (choice.skipped ?? []).map((s) => `${s.address} left out (${s.reason})`)
  if (choice.upstreams.length === 0) {
    return {
      id: 'dns-upstreams',
      title,
      ok: false,
      advisory: true,
      detail: [`none usable (${choice.origin}): names this server does not own are REFUSED`, ...skipped].join('\n'),
      hint: 'set dns.upstreams (DNS_UPSTREAMS), e.g. 192.168.1.1,1.1.1.1',
    }
  }
  return {
    id: 'dns-upstreams',
    title,
    ok: true,
    detail: [`${choice.upstreams.join(', ')} (from ${choice.origin})`, ...skipped].join('\n'),
  }
}

/** The Swarm managers a server on a worker reads service labels from: one must answer. */
export async function dnsSwarmManagersCheck(dns: DnsConfig, timeoutMs: number): Promise<Check> {
  const title = 'DNS Swarm managers'
  const {connectSwarmManager} = await import('./swarm-managers.js')
  try {
    const {address} = await connectSwarmManager(dns.swarmManagers, timeoutMs)
    return {id: 'dns-swarm-managers', title, ok: true, detail: `reads service labels from ${address}`}
  } catch (error) {
    return {
      id: 'dns-swarm-managers',
      title,
      ok: false,
      detail: `${errorMessage(error)}: names of Swarm services are not answered`,
      hint: (error as {hint?: string}).hint,
    }
  }
}

/** The native answerer of `dns serve`: without it the server works, on its full path only (slower). */
export async function dnsNativeCheck(): Promise<Check> {
  const {nativeAddon} = await import('./native.js')
  const {addon, error} = nativeAddon()
  const title = 'DNS answerer' // not longer than the other titles: the table keeps its width
  if (addon)
    return {id: 'dns-native', title, ok: true, detail: 'built: owned, cached and blocklist names answered natively'}
  return {
    id: 'dns-native',
    title,
    ok: false,
    detail: `${error ?? 'not available'}; dns serve answers everything on its full path (JavaScript, slower)`,
    hint: 'install a C compiler and the Node headers (build-essential, nodejs-dev), then npm run build',
  }
}

/**
 * For `homeops doctor` (`dnsArea.doctor.module`). What the host offers `dns serve`: the port (with a
 * config), the upstreams (when enabled), the Swarm managers (when listed), the native answerer.
 */
export const doctorChecks: DoctorChecks<DnsConfig> = {
  async host({section, enabled, dockerTimeoutMs}) {
    const checks: Check[] = []
    if (section) checks.push(await dnsPortCheck(section))
    if (section && enabled) checks.push(dnsUpstreamsCheck(section))
    if (section && section.swarmManagers.length > 0) checks.push(await dnsSwarmManagersCheck(section, dockerTimeoutMs))
    checks.push(await dnsNativeCheck())
    return checks
  },
}
