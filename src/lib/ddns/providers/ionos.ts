import {type FoundRecord, idOf, isAnswer, pickRecord, readApi, recordType, splitHostname, updated} from './api.js'
import {asArray, asString, at} from './json.js'
import {type DdnsProvider, type ProviderAnswer, type ProviderDeps, type UpdateRequest, malformed} from './provider.js'

/**
 * IONOS DNS API (`X-API-Key: prefix.secret`): the zone id from `GET /zones`, the record from
 * `GET /zones/ID?recordName=FQDN&recordType=A`, then `PUT /zones/ID/records/RID` with content, ttl, prio, disabled.
 */
export class IonosProvider implements DdnsProvider {
  private zoneId?: string

  constructor(private readonly deps: ProviderDeps) {}

  async update(request: UpdateRequest): Promise<ProviderAnswer> {
    const {record} = this.deps
    const {zone} = splitHostname(record)
    if (!this.zoneId) {
      const zones = await this.call('GET', '/zones')
      if (isAnswer(zones)) return zones
      const list = asArray(zones.json)
      if (!list) return malformed('zones is not a list', zones.answer)
      const match = list.find((z) => asString(at(z, 'name'))?.toLowerCase() === zone)
      if (!match) return {kind: 'fatal', code: 'nohost', text: `zone ${zone} not found with this key`}
      const id = idOf(at(match, 'id'))
      if (!id) return malformed('zone without an id', zones.answer)
      this.zoneId = id
    }
    const type = recordType(request.family)
    const listed = await this.call(
      'GET',
      `/zones/${encodeURIComponent(this.zoneId)}?recordName=${encodeURIComponent(record.hostname)}&recordType=${type}`,
    )
    if (isAnswer(listed)) return listed
    const items = asArray(at(listed.json, 'records'))
    if (!items) return malformed('records is not a list', listed.answer)
    const found: (FoundRecord & {ttl: unknown; prio: unknown; disabled: unknown})[] = []
    for (const item of items) {
      const id = idOf(at(item, 'id'))
      const content = asString(at(item, 'content'))
      if (!id || !content) return malformed('record without id or content', listed.answer)
      found.push({id, content, ttl: at(item, 'ttl'), prio: at(item, 'prio'), disabled: at(item, 'disabled')})
    }
    const current = pickRecord(found, request.ip, request.family, record.hostname)
    if (isAnswer(current)) return current
    const {ttl, prio, disabled} = found[0]!
    const put = await this.call(
      'PUT',
      `/zones/${encodeURIComponent(this.zoneId)}/records/${encodeURIComponent(current.id)}`,
      {
        content: request.ip,
        ...(typeof ttl === 'number' ? {ttl} : {}),
        ...(typeof prio === 'number' ? {prio} : {}),
        disabled: disabled === true,
      },
    )
    if (isAnswer(put)) return put
    return updated(request.family, record.hostname, current.content, request.ip, put.answer.status)
  }

  private async call(method: string, path: string, body?: unknown) {
    const {record, http} = this.deps
    const answer = await http.request(`${record.server}${path}`, {
      method,
      headers: {'x-api-key': record.token ?? '', accept: 'application/json', 'content-type': 'application/json'},
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return readApi(answer, {describe: (json) => asString(at(json, 0, 'message')) ?? asString(at(json, 'message'))})
  }
}
