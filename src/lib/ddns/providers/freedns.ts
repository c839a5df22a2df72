import {
  type DdnsProvider,
  type ProviderAnswer,
  type ProviderDeps,
  type UpdateRequest,
  firstLine,
  statusAnswer,
} from './provider.js'

/**
 * FreeDNS (afraid.org) dynamic update v2: `GET /u/TOKEN/?ip=IP` (IPv6 on the v6. host). Answers
 * "Updated 1 host(s) …", "No IP change detected …", or "ERROR: …" (an unknown token).
 */
export class FreeDnsProvider implements DdnsProvider {
  constructor(private readonly deps: ProviderDeps) {}

  async update(request: UpdateRequest): Promise<ProviderAnswer> {
    const {record, http} = this.deps
    const base = new URL(record.server)
    if (request.family === 6 && base.hostname === 'sync.afraid.org') base.hostname = 'v6.sync.afraid.org'
    const url = new URL(`${base.href.replace(/\/$/, '')}/${encodeURIComponent(record.token ?? '')}/`)
    url.searchParams.set('ip', request.ip)
    const answer = await http.request(url.href, {maxBytes: 16 * 1024})
    const byStatus = statusAnswer(answer)
    if (byStatus) return byStatus
    const text = firstLine(answer.body)
    const httpStatus = answer.status
    if (/^updated\b/i.test(text)) return {kind: 'good', code: 'good', text, httpStatus}
    if (/^no ip change detected/i.test(text)) return {kind: 'nochg', code: 'nochg', text, httpStatus}
    if (/unable to locate|invalid|not found/i.test(text)) return {kind: 'fatal', code: 'nohost', text, httpStatus}
    if (httpStatus === 401 || httpStatus === 403) return {kind: 'fatal', code: 'badauth', text, httpStatus}
    return {kind: 'error', code: 'unknown', text: `unexpected answer (HTTP ${httpStatus}): ${text}`, httpStatus}
  }
}
