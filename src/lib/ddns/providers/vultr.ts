import {
  type FoundRecord,
  idOf,
  isAnswer,
  pickRecord,
  readApi,
  recordType,
  requestJson,
  splitHostname,
  updated,
} from './api.js'
import {asArray, asString, at} from './json.js'
import {type DdnsProvider, type ProviderAnswer, type ProviderDeps, type UpdateRequest, malformed} from './provider.js'

/** Vultr API v2 (Bearer): `GET /domains/ZONE/records`, then `PATCH /domains/ZONE/records/ID` with `{data}` (204). */
export class VultrProvider implements DdnsProvider {
  constructor(private readonly deps: ProviderDeps) {}

  async update(request: UpdateRequest): Promise<ProviderAnswer> {
    const {record} = this.deps
    const {zone, name} = splitHostname(record)
    const base = `/domains/${encodeURIComponent(zone)}/records`
    const listed = await this.call('GET', `${base}?per_page=500`)
    if (isAnswer(listed)) return listed
    const items = asArray(at(listed.json, 'records'))
    if (!items) return malformed('records is not a list', listed.answer)
    const records: FoundRecord[] = []
    for (const item of items) {
      if (asString(at(item, 'type')) !== recordType(request.family) || (asString(at(item, 'name')) ?? '') !== name)
        continue
      const id = idOf(at(item, 'id'))
      const content = asString(at(item, 'data'))
      if (!id || !content) return malformed('record without id or data', listed.answer)
      records.push({id, content})
    }
    const current = pickRecord(records, request.ip, request.family, record.hostname)
    if (isAnswer(current)) return current
    const patched = await this.call('PATCH', `${base}/${encodeURIComponent(current.id)}`, {data: request.ip})
    if (isAnswer(patched)) return patched
    return updated(request.family, record.hostname, current.content, request.ip, patched.answer.status)
  }

  private async call(method: string, path: string, body?: unknown) {
    const answer = await requestJson(this.deps, method, path, body)
    return readApi(answer, {describe: (json) => asString(at(json, 'error'))})
  }
}
