import {isAnswer, readApi, recordType, splitHostname, unchangedSet, updated} from './api.js'
import {asArray, asString, at} from './json.js'
import {type DdnsProvider, type ProviderAnswer, type ProviderDeps, type UpdateRequest, malformed} from './provider.js'

/**
 * deSEC REST API (`Authorization: Token T`): `GET /domains/ZONE/rrsets/SUB/TYPE/`, then `PATCH` it with
 * `{records: [ip]}`. Throttled requests get 429 with Retry-After.
 */
export class DesecApiProvider implements DdnsProvider {
  constructor(private readonly deps: ProviderDeps) {}

  async update(request: UpdateRequest): Promise<ProviderAnswer> {
    const {record, http} = this.deps
    const {zone, name} = splitHostname(record)
    const url = `${record.server}/domains/${encodeURIComponent(zone)}/rrsets/${encodeURIComponent(name || '@')}/${recordType(request.family)}/`
    const headers = {authorization: `Token ${record.token ?? ''}`, accept: 'application/json'}
    const describe = (json: unknown) => asString(at(json, 'detail'))
    const got = readApi(await http.request(url, {headers}), {describe})
    if (isAnswer(got)) return got
    const values = asArray(at(got.json, 'records'))
    if (!values) return malformed('rrset without records', got.answer)
    const current = values.map((v) => asString(v) ?? '')
    const unchanged = unchangedSet(current, request.ip, request.family, record.hostname)
    if (unchanged) return unchanged
    const patched = readApi(
      await http.request(url, {
        method: 'PATCH',
        headers: {...headers, 'content-type': 'application/json'},
        body: JSON.stringify({records: [request.ip]}),
      }),
      {describe},
    )
    if (isAnswer(patched)) return patched
    return updated(request.family, record.hostname, current.join(',') || '(none)', request.ip, patched.answer.status)
  }
}
