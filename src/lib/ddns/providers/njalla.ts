import {isAnswer, readApi, sameAddress} from './api.js'
import {asString, at} from './json.js'
import {type DdnsProvider, type ProviderAnswer, type ProviderDeps, type UpdateRequest, malformed} from './provider.js'

/**
 * Njalla dynamic records: `GET /update/?h=HOST&k=KEY&a=IP` (or `aaaa=`), a JSON answer
 * `{status, message: "record updated", value: {A|AAAA: ip}}`; 401 for a wrong key.
 */
export class NjallaProvider implements DdnsProvider {
  constructor(private readonly deps: ProviderDeps) {}

  async update(request: UpdateRequest): Promise<ProviderAnswer> {
    const {record, http} = this.deps
    const url = new URL(record.server)
    url.searchParams.set('h', record.hostname)
    url.searchParams.set('k', record.token ?? '')
    url.searchParams.set(request.family === 4 ? 'a' : 'aaaa', request.ip)
    const answer = await http.request(url.href, {headers: {accept: 'application/json'}, maxBytes: 16 * 1024})
    const read = readApi(answer, {describe: (json) => asString(at(json, 'message'))})
    if (isAnswer(read)) return read
    const message = asString(at(read.json, 'message')) ?? ''
    if (!/record updated/i.test(message)) return malformed(`unexpected message "${message.slice(0, 80)}"`, answer)
    const echoed = asString(at(read.json, 'value', request.family === 4 ? 'A' : 'AAAA'))
    if (echoed && !sameAddress(echoed, request.ip, request.family)) {
      return {kind: 'good', code: 'good', text: message, echoedIp: echoed, httpStatus: answer.status}
    }
    return {
      kind: 'good',
      code: 'good',
      text: `${message} ${request.ip}`,
      echoedIp: echoed ? request.ip : undefined,
      httpStatus: answer.status,
    }
  }
}
