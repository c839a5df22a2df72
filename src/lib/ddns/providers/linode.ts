import {
  idOf,
  isAnswer,
  listedRecords,
  pickRecord,
  readApi,
  recordType,
  requestJson,
  splitHostname,
  updated,
} from './api.js'
import {asArray, asString, at} from './json.js'
import {type DdnsProvider, type ProviderAnswer, type ProviderDeps, type UpdateRequest, malformed} from './provider.js'

/**
 * Linode API v4 (Bearer): the domain id from `GET /domains` (filtered with `X-Filter`), its records, then
 * `PUT /domains/ID/records/RID` with `{target: ip}`.
 */
export class LinodeProvider implements DdnsProvider {
  private domainId?: string

  constructor(private readonly deps: ProviderDeps) {}

  async update(request: UpdateRequest): Promise<ProviderAnswer> {
    const {record} = this.deps
    const {zone, name} = splitHostname(record)
    if (!this.domainId) {
      const domains = await this.call('GET', '/domains', undefined, {'x-filter': JSON.stringify({domain: zone})})
      if (isAnswer(domains)) return domains
      const list = asArray(at(domains.json, 'data'))
      if (!list) return malformed('data is not a list', domains.answer)
      const match = list.find((d) => asString(at(d, 'domain'))?.toLowerCase() === zone)
      if (!match) return {kind: 'fatal', code: 'nohost', text: `domain ${zone} not found with this token`}
      const id = idOf(at(match, 'id'))
      if (!id) return malformed('domain without an id', domains.answer)
      this.domainId = id
    }
    const listed = await this.call('GET', `/domains/${this.domainId}/records?page_size=500`)
    if (isAnswer(listed)) return listed
    const records = listedRecords(
      listed,
      'data',
      'target',
      (item) =>
        asString(at(item, 'type')) === recordType(request.family) && (asString(at(item, 'name')) ?? '') === name,
    )
    if (isAnswer(records)) return records
    const current = pickRecord(records, request.ip, request.family, record.hostname)
    if (isAnswer(current)) return current
    const put = await this.call('PUT', `/domains/${this.domainId}/records/${encodeURIComponent(current.id)}`, {
      target: request.ip,
    })
    if (isAnswer(put)) return put
    return updated(request.family, record.hostname, current.content, request.ip, put.answer.status)
  }

  private async call(method: string, path: string, body?: unknown, extra: Record<string, string> = {}) {
    const answer = await requestJson(this.deps, method, path, body, extra)
    return readApi(answer, {describe: (json) => asString(at(json, 'errors', 0, 'reason'))})
  }
}
