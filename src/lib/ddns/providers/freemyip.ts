import {
  type DdnsProvider,
  type ProviderAnswer,
  type ProviderDeps,
  type UpdateRequest,
  firstLine,
  statusAnswer,
} from './provider.js'

/** freemyip: `GET /update?token=T&domain=HOST&myip=IP`, answering `OK` or `ERROR` (token or domain refused). */
export class FreemyipProvider implements DdnsProvider {
  constructor(private readonly deps: ProviderDeps) {}

  async update(request: UpdateRequest): Promise<ProviderAnswer> {
    const {record, http} = this.deps
    const url = new URL(record.server)
    url.searchParams.set('token', record.token ?? '')
    url.searchParams.set('domain', record.hostname)
    url.searchParams.set('myip', request.ip)
    const answer = await http.request(url.href, {maxBytes: 4096})
    const byStatus = statusAnswer(answer)
    if (byStatus) return byStatus
    const text = firstLine(answer.body)
    if (/^OK\b/.test(text)) return {kind: 'good', code: 'good', text, httpStatus: answer.status}
    if (/^ERROR\b/.test(text) || answer.status === 401 || answer.status === 403) {
      return {kind: 'fatal', code: 'badauth', text: `${text} (token or domain refused)`, httpStatus: answer.status}
    }
    return {
      kind: 'error',
      code: 'unknown',
      text: `unexpected answer (HTTP ${answer.status}): ${text}`,
      httpStatus: answer.status,
    }
  }
}
