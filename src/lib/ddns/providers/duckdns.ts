import {canonicalIPv6} from '../../net/ipv6.js'
import {
  type DdnsProvider,
  type ProviderAnswer,
  type ProviderDeps,
  type UpdateRequest,
  firstLine,
  statusAnswer,
} from './provider.js'

/**
 * DuckDNS: `GET /update?domains=SUB&token=T&ip=…&ipv6=…&verbose=true`, answer
 * `OK` or `KO`. DuckDNS fills a missing `ip` from the request's source address,
 * so an IPv6 update also carries the IPv4 detected in the same pass.
 */
export class DuckDnsProvider implements DdnsProvider {
  constructor(private readonly deps: ProviderDeps) {}

  async update(request: UpdateRequest): Promise<ProviderAnswer> {
    const {record, http} = this.deps
    const url = new URL(record.server)
    url.searchParams.set('domains', record.hostname.replace(/\.duckdns\.org$/i, ''))
    url.searchParams.set('token', record.token ?? '')
    if (request.family === 4) url.searchParams.set('ip', request.ip)
    else {
      if (request.detected[4] && record.families.includes(4)) url.searchParams.set('ip', request.detected[4])
      url.searchParams.set('ipv6', request.ip)
    }
    url.searchParams.set('verbose', 'true')
    const answer = await http.request(url.href, {maxBytes: 4096})
    const byStatus = statusAnswer(answer)
    if (byStatus) return byStatus
    const lines = answer.body.split(/\r?\n/).map((l) => l.trim())
    const text = firstLine(answer.body)
    if (lines[0] === 'KO') {
      return {kind: 'fatal', code: 'badauth', text: 'KO (token or domain refused)', httpStatus: answer.status}
    }
    if (lines[0] !== 'OK') {
      return {
        kind: 'error',
        code: 'unknown',
        text: `unexpected answer (HTTP ${answer.status}): ${text}`,
        httpStatus: answer.status,
      }
    }
    const echoed = request.family === 4 ? lines[1] : lines[2] ? canonicalIPv6(lines[2]) : undefined
    const changed = lines[3] === 'UPDATED'
    return {
      kind: changed || lines[3] === undefined ? 'good' : 'nochg',
      code: changed || lines[3] === undefined ? 'good' : 'nochg',
      text: lines.filter(Boolean).join(' '),
      echoedIp: echoed || undefined,
      httpStatus: answer.status,
    }
  }
}
