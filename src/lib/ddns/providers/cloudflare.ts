import {canonicalIPv6} from '../../net/ipv6.js'
import type {HttpAnswer} from '../http.js'
import {
  type DdnsProvider,
  type ProviderAnswer,
  type ProviderDeps,
  type UpdateRequest,
  statusAnswer,
} from './provider.js'

interface CfEnvelope<T> {
  success?: boolean
  errors?: {code?: number; message?: string}[]
  result?: T
}

interface CfRecord {
  id: string
  name: string
  type: string
  content: string
}

/**
 * Cloudflare API v4 with a scoped API token (Zone.DNS edit). Finds the zone
 * (`zone`, or the longest parent of the hostname that is a zone), then the one
 * A/AAAA record of the hostname, and PATCHes only its `content`: proxying, TTL
 * and every other record stay as they are. It never creates or deletes records.
 */
export class CloudflareProvider implements DdnsProvider {
  private zone?: {id: string; name: string}

  constructor(private readonly deps: ProviderDeps) {}

  async update(request: UpdateRequest): Promise<ProviderAnswer> {
    const {record} = this.deps
    const type = request.family === 4 ? 'A' : 'AAAA'
    const zone = await this.findZone()
    if ('kind' in zone) return zone
    const list = await this.call<CfRecord[]>(
      'GET',
      `/zones/${zone.id}/dns_records?type=${type}&name=${encodeURIComponent(record.hostname)}`,
    )
    if ('kind' in list) return list
    const records = list.result ?? []
    if (records.length === 0) {
      return {
        kind: 'fatal',
        code: 'nohost',
        text: `no ${type} record named ${record.hostname} in zone ${zone.name}; create it once, homeops only updates it`,
      }
    }
    if (records.length > 1) {
      return {
        kind: 'fatal',
        code: 'numhost',
        text: `${records.length} ${type} records named ${record.hostname}; homeops updates exactly one`,
      }
    }
    const current = records[0]!
    if (sameIp(current.content, request.ip, request.family)) {
      return {
        kind: 'nochg',
        code: 'nochg',
        text: `${type} ${record.hostname} already ${current.content}`,
        echoedIp: request.ip,
      }
    }
    const patched = await this.call<CfRecord>('PATCH', `/zones/${zone.id}/dns_records/${current.id}`, {
      content: request.ip,
    })
    if ('kind' in patched) return patched
    const content = patched.result?.content
    return {
      kind: 'good',
      code: 'good',
      text: `${type} ${record.hostname} ${current.content} -> ${content ?? request.ip}`,
      echoedIp: content === undefined ? undefined : request.family === 6 ? canonicalIPv6(content) : content,
    }
  }

  private async findZone(): Promise<{id: string; name: string} | ProviderAnswer> {
    const {record} = this.deps
    const labels = record.hostname.split('.')
    const candidates = record.zone ? [record.zone] : labels.slice(0, -1).map((_, i) => labels.slice(i).join('.'))
    if (this.zone) return this.zone
    for (const name of candidates) {
      const found = await this.call<{id: string; name: string}[]>('GET', `/zones?name=${encodeURIComponent(name)}`)
      if ('kind' in found) return found
      const zone = found.result?.[0]
      if (zone) {
        this.zone = {id: zone.id, name: zone.name}
        return this.zone
      }
    }
    return {
      kind: 'fatal',
      code: 'nohost',
      text: record.zone
        ? `zone ${record.zone} not found (or the token cannot read it)`
        : `no zone for ${record.hostname} found with this token; set zone`,
    }
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<CfEnvelope<T> | ProviderAnswer> {
    const {record, http} = this.deps
    const answer = await http.request(`${record.server}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${record.token ?? ''}`,
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return interpretCloudflare<T>(answer)
  }
}

export function interpretCloudflare<T>(answer: HttpAnswer): CfEnvelope<T> | ProviderAnswer {
  const byStatus = statusAnswer(answer)
  if (byStatus) return byStatus
  let data: CfEnvelope<T>
  try {
    data = JSON.parse(answer.body) as CfEnvelope<T>
  } catch {
    return {
      kind: 'error',
      code: 'unknown',
      text: `not a Cloudflare API answer (HTTP ${answer.status})`,
      httpStatus: answer.status,
    }
  }
  const message = (data.errors ?? []).map((e) => `${e.code ?? ''} ${e.message ?? ''}`.trim()).join('; ')
  if (answer.status === 401 || answer.status === 403 || data.errors?.some((e) => e.code === 9109 || e.code === 10000)) {
    return {kind: 'fatal', code: 'badauth', text: message || `HTTP ${answer.status}`, httpStatus: answer.status}
  }
  if (answer.status >= 400 || data.success === false) {
    return {
      kind: 'error',
      code: `http-${answer.status}`,
      text: message || `HTTP ${answer.status}`,
      httpStatus: answer.status,
    }
  }
  return data
}

function sameIp(a: string, b: string, family: 4 | 6): boolean {
  return family === 6 ? canonicalIPv6(a) === canonicalIPv6(b) : a === b
}
