import {isAnswer, readApi, recordType, sameAddress, splitHostname, updated} from './api.js'
import {asArray, asString, at} from './json.js'
import {type DdnsProvider, type ProviderAnswer, type ProviderDeps, type UpdateRequest, malformed} from './provider.js'

/**
 * GoDaddy Domains API (`Authorization: sso-key KEY:SECRET`): `GET /domains/ZONE/records/TYPE/NAME`, then
 * `PUT` the same path with `[{data: ip, ttl}]` (200, empty body). The record must exist (404 → nohost).
 */
export class GoDaddyProvider implements DdnsProvider {
  constructor(private readonly deps: ProviderDeps) {}

  async update(request: UpdateRequest): Promise<ProviderAnswer> {
    const {record, http} = this.deps
    const {zone, name} = splitHostname(record)
    const url = `${record.server}/domains/${encodeURIComponent(zone)}/records/${recordType(request.family)}/${encodeURIComponent(name || '@')}`
    const headers = {authorization: `sso-key ${record.token ?? ''}:${record.secret ?? ''}`, accept: 'application/json'}
    const describe = (json: unknown) => asString(at(json, 'message'))
    const got = readApi(await http.request(url, {headers}), {describe})
    if (isAnswer(got)) return got
    const items = asArray(got.json)
    if (!items) return malformed('records is not a list', got.answer)
    if (items.length === 0) {
      return {kind: 'fatal', code: 'nohost', text: `no ${recordType(request.family)} record named ${record.hostname}`}
    }
    const current = asString(at(items[0], 'data'))
    if (!current) return malformed('record without data', got.answer)
    if (items.length === 1 && sameAddress(current, request.ip, request.family)) {
      return {kind: 'nochg', code: 'nochg', text: `${recordType(request.family)} ${record.hostname} already ${current}`}
    }
    const ttl = at(items[0], 'ttl')
    const put = readApi(
      await http.request(url, {
        method: 'PUT',
        headers: {...headers, 'content-type': 'application/json'},
        body: JSON.stringify([{data: request.ip, ...(typeof ttl === 'number' ? {ttl} : {})}]),
      }),
      {describe},
    )
    if (isAnswer(put)) return put
    return updated(request.family, record.hostname, current, request.ip, put.answer.status)
  }
}
