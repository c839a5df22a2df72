import type {HttpAnswer} from '../http.js'
import {recordType, unchangedSet, updated} from './api.js'
import {
  type DdnsProvider,
  type ProviderAnswer,
  type ProviderDeps,
  type UpdateRequest,
  malformed,
  statusAnswer,
} from './provider.js'
import {signV4} from './sigv4.js'

const AUTH_CODES = new Set([
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'UnrecognizedClientException',
])
const RETRY_CODES = new Set(['Throttling', 'PriorRequestNotComplete', 'ServiceUnavailable'])

/**
 * Amazon Route 53 (API 2013-04-01, SigV4 with region us-east-1): reads the record set
 * (`GET /hostedzone/ID/rrset?name=FQDN.&type=A&maxitems=1`) and, when it differs, sends one UPSERT
 * `ChangeResourceRecordSets` keeping its TTL. Never creates a record set that does not exist.
 */
export class Route53Provider implements DdnsProvider {
  constructor(
    private readonly deps: ProviderDeps,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async update(request: UpdateRequest): Promise<ProviderAnswer> {
    const {record} = this.deps
    const type = recordType(request.family)
    const fqdn = `${record.hostname.toLowerCase()}.`
    const base = `${record.server}/hostedzone/${encodeURIComponent(record.zone ?? '')}/rrset`
    const listUrl = new URL(base)
    listUrl.searchParams.set('name', fqdn)
    listUrl.searchParams.set('type', type)
    listUrl.searchParams.set('maxitems', '1')
    const listed = await this.call('GET', listUrl, '')
    if ('kind' in listed) return listed
    const set = /<ResourceRecordSet>([\s\S]*?)<\/ResourceRecordSet>/.exec(listed.body)?.[1]
    if (!/<ListResourceRecordSetsResponse/.test(listed.body))
      return malformed('not a ListResourceRecordSets answer', listed)
    const name = set ? unescapeXml(/<Name>([^<]*)<\/Name>/.exec(set)?.[1] ?? '').toLowerCase() : ''
    if (!set || name !== fqdn || /<Type>([^<]*)<\/Type>/.exec(set)?.[1] !== type) {
      return {
        kind: 'fatal',
        code: 'nohost',
        text: `no ${type} record set named ${fqdn} in hosted zone ${record.zone}; create it once`,
      }
    }
    const values = [...set.matchAll(/<Value>([^<]*)<\/Value>/g)].map((m) => unescapeXml(m[1]!))
    const unchanged = unchangedSet(values, request.ip, request.family, record.hostname)
    if (unchanged) return unchanged
    const ttl = Number(/<TTL>(\d{1,10})<\/TTL>/.exec(set)?.[1] ?? 300)
    const body =
      '<?xml version="1.0" encoding="UTF-8"?>' +
      '<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch>' +
      '<Comment>homeops ddns</Comment><Changes><Change><Action>UPSERT</Action><ResourceRecordSet>' +
      `<Name>${fqdn}</Name><Type>${type}</Type><TTL>${ttl}</TTL>` +
      `<ResourceRecords><ResourceRecord><Value>${request.ip}</Value></ResourceRecord></ResourceRecords>` +
      '</ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>'
    const changed = await this.call('POST', new URL(`${base}/`), body)
    if ('kind' in changed) return changed
    if (!/<ChangeInfo>/.test(changed.body)) return malformed('not a ChangeResourceRecordSets answer', changed)
    return updated(request.family, record.hostname, values.join(',') || '(none)', request.ip, changed.status)
  }

  private async call(method: string, url: URL, body: string): Promise<HttpAnswer | ProviderAnswer> {
    const {record, http} = this.deps
    const headers = signV4({
      method,
      url,
      body,
      accessKeyId: record.token ?? '',
      secretAccessKey: record.secret ?? '',
      region: 'us-east-1',
      service: 'route53',
      now: this.clock(),
    })
    const answer = await http.request(url.href, {
      method,
      headers: {...headers, ...(body ? {'content-type': 'application/xml'} : {})},
      body: body || undefined,
    })
    if (answer.status >= 200 && answer.status < 300) return answer
    const code = /<Code>([^<]*)<\/Code>/.exec(answer.body)?.[1] ?? ''
    const message = unescapeXml(/<Message>([^<]*)<\/Message>/.exec(answer.body)?.[1] ?? '').slice(0, 200)
    const text = `${code || `HTTP ${answer.status}`}${message ? `: ${message}` : ''}`
    if (AUTH_CODES.has(code) || answer.status === 401 || answer.status === 403) {
      return {kind: 'fatal', code: 'badauth', text, httpStatus: answer.status}
    }
    if (code === 'NoSuchHostedZone' || answer.status === 404)
      return {kind: 'fatal', code: 'nohost', text, httpStatus: answer.status}
    if (RETRY_CODES.has(code)) return {kind: 'transient', code: 'throttled', text, httpStatus: answer.status}
    const byStatus = statusAnswer(answer)
    if (byStatus) return {...byStatus, text}
    return {kind: 'error', code: `http-${answer.status}`, text, httpStatus: answer.status}
  }
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
}
