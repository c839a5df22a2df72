import {splitHostname} from './api.js'
import {
  type DdnsProvider,
  type ProviderAnswer,
  type ProviderDeps,
  type UpdateRequest,
  statusAnswer,
} from './provider.js'

/**
 * Namecheap dynamic DNS: `GET /update?host=SUB&domain=ZONE&password=P&ip=IP`, an XML `interface-response`
 * with `<ErrCount>` and `<Err1>`. The password travels in the query string (their protocol); our HTTP
 * client never logs URLs. Namecheap does not say whether the address changed: success is `good`.
 */
export class NamecheapProvider implements DdnsProvider {
  constructor(private readonly deps: ProviderDeps) {}

  async update(request: UpdateRequest): Promise<ProviderAnswer> {
    const {record, http} = this.deps
    const {zone, name} = splitHostname(record)
    const url = new URL(record.server)
    url.searchParams.set('host', name || '@')
    url.searchParams.set('domain', zone)
    url.searchParams.set('password', record.password ?? '')
    url.searchParams.set('ip', request.ip)
    const answer = await http.request(url.href, {maxBytes: 16 * 1024})
    const byStatus = statusAnswer(answer)
    if (byStatus) return byStatus
    const count = /<ErrCount>\s*(\d+)\s*<\/ErrCount>/i.exec(answer.body)
    if (!count || answer.status !== 200) {
      return {
        kind: 'transient',
        code: 'malformed',
        text: `not a Namecheap answer (HTTP ${answer.status})`,
        httpStatus: answer.status,
      }
    }
    if (count[1] === '0') {
      const ip = /<IP>\s*([^<\s]+)\s*<\/IP>/i.exec(answer.body)?.[1]
      return {
        kind: 'good',
        code: 'good',
        text: `updated ${record.hostname} to ${ip ?? request.ip}`,
        echoedIp: ip,
        httpStatus: 200,
      }
    }
    const error = (/<Err1>([^<]*)<\/Err1>/i.exec(answer.body)?.[1] ?? 'error').trim().slice(0, 200)
    if (/password/i.test(error)) return {kind: 'fatal', code: 'badauth', text: error, httpStatus: 200}
    if (/no records|domain name not found|invalid domain|host/i.test(error)) {
      return {kind: 'fatal', code: 'nohost', text: error, httpStatus: 200}
    }
    if (/too many/i.test(error)) return {kind: 'transient', code: 'http-429', text: error, httpStatus: 200}
    return {kind: 'error', code: 'unknown', text: error, httpStatus: 200}
  }
}
