import {isAnswer, listedRecords, pickRecord, readApi, recordType, requestJson, splitHostname, updated} from './api.js'
import {asString, at} from './json.js'
import {type DdnsProvider, type ProviderAnswer, type ProviderDeps, type UpdateRequest} from './provider.js'

/**
 * DigitalOcean API v2 (Bearer token): `GET /domains/ZONE/records?type=A&name=FQDN`, then
 * `PATCH /domains/ZONE/records/ID` with `{data: ip}`.
 */
export class DigitalOceanProvider implements DdnsProvider {
  constructor(private readonly deps: ProviderDeps) {}

  async update(request: UpdateRequest): Promise<ProviderAnswer> {
    const {record} = this.deps
    const {zone} = splitHostname(record)
    const base = `/domains/${encodeURIComponent(zone)}/records`
    const listed = await this.call(
      'GET',
      `${base}?type=${recordType(request.family)}&name=${encodeURIComponent(record.hostname)}`,
    )
    if (isAnswer(listed)) return listed
    const records = listedRecords(listed, 'domain_records', 'data')
    if (isAnswer(records)) return records
    const current = pickRecord(records, request.ip, request.family, record.hostname)
    if (isAnswer(current)) return current
    const patched = await this.call('PATCH', `${base}/${encodeURIComponent(current.id)}`, {data: request.ip})
    if (isAnswer(patched)) return patched
    return updated(request.family, record.hostname, current.content, request.ip, patched.answer.status)
  }

  private async call(method: string, path: string, body?: unknown) {
    const answer = await requestJson(this.deps, method, path, body)
    return readApi(answer, {describe: (json) => asString(at(json, 'message'))})
  }
}
