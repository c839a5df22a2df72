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

/**
 * Infomaniak API v2 (Bearer token, `dns` scope): `GET /zones/ZONE/records`, the record whose `source` is the
 * name in the zone (`.` at the apex), then `PUT /zones/ZONE/records/ID` with `{target, ttl}`. Answers are
 * `{result: "success", data}` or `{result: "error", error: {code, description}}`.
 */
export class InfomaniakApiProvider implements DdnsProvider {
  constructor(private readonly deps: ProviderDeps) {}

  async update(request: UpdateRequest): Promise<ProviderAnswer> {
    const {record} = this.deps
    const {zone, name} = splitHostname(record)
    const base = `/zones/${encodeURIComponent(zone)}/records`
    const listed = await this.call('GET', base)
    if (isAnswer(listed)) return listed
    const items = asArray(at(listed.json, 'data'))
    if (!items) return malformed('data is not a list', listed.answer)
    const found: (FoundRecord & {ttl: unknown})[] = []
    for (const item of items) {
      const source = asString(at(item, 'source')) ?? '.'
      const sameName = name === '' ? source === '.' || source === '@' : source.toLowerCase() === name
      if (asString(at(item, 'type')) !== recordType(request.family) || !sameName) continue
      const id = idOf(at(item, 'id'))
      const content = asString(at(item, 'target'))
      if (!id || !content) return malformed('record without id or target', listed.answer)
      found.push({id, content, ttl: at(item, 'ttl')})
    }
    const current = pickRecord(found, request.ip, request.family, record.hostname)
    if (isAnswer(current)) return current
    const ttl = found[0]!.ttl
    const put = await this.call('PUT', `${base}/${encodeURIComponent(current.id)}`, {
      target: request.ip,
      ...(typeof ttl === 'number' ? {ttl} : {}),
    })
    if (isAnswer(put)) return put
    return updated(request.family, record.hostname, current.content, request.ip, put.answer.status)
  }

  private async call(method: string, path: string, body?: unknown) {
    const answer = await requestJson(this.deps, method, path, body)
    const read = readApi(answer, {
      describe: (json) => asString(at(json, 'error', 'description')) ?? asString(at(json, 'error', 'code')),
    })
    if (isAnswer(read)) return read
    if (asString(at(read.json, 'result')) !== 'success') return malformed('result is not success', answer)
    return read
  }
}
