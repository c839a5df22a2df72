import {type FoundRecord, idOf, isAnswer, pickRecord, readApi, recordType, splitHostname, updated} from './api.js'
import {asArray, asString, at} from './json.js'
import {type DdnsProvider, type ProviderAnswer, type ProviderDeps, type UpdateRequest, malformed} from './provider.js'

/**
 * Porkbun API v3: every call is a POST with `{apikey, secretapikey}` in the JSON body; answers carry
 * `status: SUCCESS|ERROR`. Reads the record (`retrieveByNameType`), then `editByNameType` only when it differs.
 */
export class PorkbunProvider implements DdnsProvider {
  constructor(private readonly deps: ProviderDeps) {}

  async update(request: UpdateRequest): Promise<ProviderAnswer> {
    const {record} = this.deps
    const {zone, name} = splitHostname(record)
    const type = recordType(request.family)
    const path = `${encodeURIComponent(zone)}/${type}${name ? `/${encodeURIComponent(name)}` : ''}`
    const listed = await this.call(`/dns/retrieveByNameType/${path}`, {})
    if (isAnswer(listed)) return listed
    const items = asArray(at(listed.json, 'records'))
    if (!items) return malformed('records is not a list', listed.answer)
    const records: FoundRecord[] = []
    for (const item of items) {
      const id = idOf(at(item, 'id'))
      const content = asString(at(item, 'content'))
      if (!id || !content) return malformed('record without id or content', listed.answer)
      records.push({id, content})
    }
    const current = pickRecord(records, request.ip, request.family, record.hostname)
    if (isAnswer(current)) return current
    const edited = await this.call(`/dns/editByNameType/${path}`, {content: request.ip})
    if (isAnswer(edited)) return edited
    return updated(request.family, record.hostname, current.content, request.ip, edited.answer.status)
  }

  private async call(path: string, body: Record<string, string>) {
    const {record, http} = this.deps
    const answer = await http.request(`${record.server}${path}`, {
      method: 'POST',
      headers: {'content-type': 'application/json', accept: 'application/json'},
      body: JSON.stringify({apikey: record.token, secretapikey: record.secret, ...body}),
    })
    const read = readApi(answer, {describe: (json) => asString(at(json, 'message'))})
    if (isAnswer(read)) {
      // Porkbun answers a refused key with HTTP 400 and "Invalid API key".
      if (read.kind === 'error' && /invalid api key|api access is not enabled/i.test(read.text)) {
        return {...read, kind: 'fatal' as const, code: 'badauth'}
      }
      if (read.kind === 'error' && /invalid domain|not opted in/i.test(read.text)) {
        return {...read, kind: 'fatal' as const, code: 'nohost'}
      }
      return read
    }
    if (asString(at(read.json, 'status')) !== 'SUCCESS') return malformed('status is not SUCCESS', answer)
    return read
  }
}
