import {
  type DdnsProvider,
  type ProviderAnswer,
  type ProviderDeps,
  type UpdateRequest,
  firstLine,
  statusAnswer,
} from './provider.js'

/**
 * dynv6 update API: `GET /api/update?zone=HOST&token=T&ipv4=IP` (or `ipv6=`); plain-text answers
 * "addresses updated" / "addresses unchanged", 401 "invalid authentication token", 404 "zone not found".
 */
export class Dynv6Provider implements DdnsProvider {
  constructor(private readonly deps: ProviderDeps) {}

  async update(request: UpdateRequest): Promise<ProviderAnswer> {
    const {record, http} = this.deps
    const url = new URL(record.server)
    url.searchParams.set('zone', record.hostname)
    url.searchParams.set('token', record.token ?? '')
    url.searchParams.set(request.family === 4 ? 'ipv4' : 'ipv6', request.ip)
    const answer = await http.request(url.href, {maxBytes: 16 * 1024})
    const byStatus = statusAnswer(answer)
    if (byStatus) return byStatus
    const text = firstLine(answer.body)
    const httpStatus = answer.status
    if (httpStatus === 401 || httpStatus === 403) return {kind: 'fatal', code: 'badauth', text, httpStatus}
    if (httpStatus === 404) return {kind: 'fatal', code: 'nohost', text, httpStatus}
    if (httpStatus === 200 && /unchanged/i.test(text)) return {kind: 'nochg', code: 'nochg', text, httpStatus}
    if (httpStatus === 200 && /updated/i.test(text)) return {kind: 'good', code: 'good', text, httpStatus}
    return {kind: 'error', code: 'unknown', text: `unexpected answer (HTTP ${httpStatus}): ${text}`, httpStatus}
  }
}
