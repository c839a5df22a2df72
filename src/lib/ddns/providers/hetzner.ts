import {type FoundRecord, idOf, isAnswer, pickRecord, readApi, recordType, splitHostname, updated} from './api.js'
import {asArray, asString, at} from './json.js'
import {type DdnsProvider, type ProviderAnswer, type ProviderDeps, type UpdateRequest, malformed} from './provider.js'

/**
 * Hetzner DNS API (`Auth-API-Token`): the zone by name, its records by `zone_id`, then `PUT /records/ID`
 * with the whole record (name, type, value, zone_id, ttl) as the API requires.
 */
export class HetznerProvider implements DdnsProvider {
  private zoneId?: string

  constructor(private readonly deps: ProviderDeps) {}

  async update(request: UpdateRequest): Promise<ProviderAnswer> {
    const {record} = this.deps
    const {zone, name} = splitHostname(record)
    const type = recordType(request.family)
    if (!this.zoneId) {
      const zones = await this.call('GET', `/zones?name=${encodeURIComponent(zone)}`)
      if (isAnswer(zones)) return zones
      const list = asArray(at(zones.json, 'zones'))
      if (!list) return malformed('zones is not a list', zones.answer)
      if (list.length === 0) return {kind: 'fatal', code: 'nohost', text: `zone ${zone} not found with this token`}
      const id = idOf(at(list[0], 'id'))
      if (!id) return malformed('zone without an id', zones.answer)
      this.zoneId = id
    }
    const listed = await this.call('GET', `/records?zone_id=${encodeURIComponent(this.zoneId)}`)
    if (isAnswer(listed)) return listed
    const items = asArray(at(listed.json, 'records'))
    if (!items) return malformed('records is not a list', listed.answer)
    const found: (FoundRecord & {ttl: unknown})[] = []
    for (const item of items) {
      if (asString(at(item, 'type')) !== type || asString(at(item, 'name')) !== (name || '@')) continue
      const id = idOf(at(item, 'id'))
      const content = asString(at(item, 'value'))
      if (!id || !content) return malformed('record without id or value', listed.answer)
      found.push({id, content, ttl: at(item, 'ttl')})
    }
    const current = pickRecord(found, request.ip, request.family, record.hostname)
    if (isAnswer(current)) return current
    const ttl = found[0]!.ttl
    const put = await this.call('PUT', `/records/${encodeURIComponent(current.id)}`, {
      zone_id: this.zoneId,
      type,
      name: name || '@',
      value: request.ip,
      ...(typeof ttl === 'number' ? {ttl} : {}),
    })
    if (isAnswer(put)) return put
    return updated(request.family, record.hostname, current.content, request.ip, put.answer.status)
  }

  private async call(method: string, path: string, body?: unknown) {
    const {record, http} = this.deps
    const answer = await http.request(`${record.server}${path}`, {
      method,
      headers: {'auth-api-token': record.token ?? '', accept: 'application/json', 'content-type': 'application/json'},
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return readApi(answer, {
      describe: (json) => asString(at(json, 'message')) ?? asString(at(json, 'error', 'message')),
    })
  }
}
