import {isAnswer, readApi, recordType, splitHostname, unchangedSet, updated} from './api.js'
import {asArray, asString, at} from './json.js'
import {type DdnsProvider, type ProviderAnswer, type ProviderDeps, type UpdateRequest, malformed} from './provider.js'

/**
 * Gandi LiveDNS v5 with a personal access token: `GET` then `PUT /domains/ZONE/records/NAME/TYPE` with
 * `{rrset_values: [ip]}` (201 "DNS Record Created"); the record set's TTL is kept.
 */
export class GandiProvider implements DdnsProvider {
  constructor(private readonly deps: ProviderDeps) {}

  async update(request: UpdateRequest): Promise<ProviderAnswer> {
    const {record, http} = this.deps
    const {zone, name} = splitHostname(record)
    const url = `${record.server}/domains/${encodeURIComponent(zone)}/records/${encodeURIComponent(name || '@')}/${recordType(request.family)}`
    const headers = {authorization: `Bearer ${record.token ?? ''}`, accept: 'application/json'}
    const describe = (json: unknown) => asString(at(json, 'message'))
    const got = readApi(await http.request(url, {headers}), {describe})
    if (isAnswer(got)) return got
    const values = asArray(at(got.json, 'rrset_values'))
    if (!values) return malformed('record set without rrset_values', got.answer)
    const current = values.map((v) => asString(v) ?? '')
    const unchanged = unchangedSet(current, request.ip, request.family, record.hostname)
    if (unchanged) return unchanged
    const ttl = at(got.json, 'rrset_ttl')
    const put = readApi(
      await http.request(url, {
        method: 'PUT',
        headers: {...headers, 'content-type': 'application/json'},
        body: JSON.stringify({rrset_values: [request.ip], ...(typeof ttl === 'number' ? {rrset_ttl: ttl} : {})}),
      }),
      {describe},
    )
    if (isAnswer(put)) return put
    return updated(request.family, record.hostname, current.join(',') || '(none)', request.ip, put.answer.status)
  }
}
