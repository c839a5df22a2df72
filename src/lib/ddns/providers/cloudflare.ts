import {isIP} from 'node:net'

import {canonicalIPv6} from '../../net/ipv6.js'
import type {HttpAnswer} from '../http.js'
import {requestJson} from './api.js'
import {type Json, asArray, asObject, asString, at, parseJson} from './json.js'
import {
  type DdnsProvider,
  type ProviderAnswer,
  type ProviderDeps,
  type UpdateRequest,
  malformed,
  statusAnswer,
} from './provider.js'

interface CfRecord {
  id: string
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
    const list = await this.call(
      'GET',
      `/zones/${encodeURIComponent(zone.id)}/dns_records?type=${type}&name=${encodeURIComponent(record.hostname)}`,
    )
    if (isAnswer(list)) return list
    const items = asArray(list.result)
    if (!items) return malformed('record list is not an array', list.answer)
    const records: CfRecord[] = []
    for (const item of items) {
      const id = asString(at(item, 'id'))
      const content = asString(at(item, 'content'))
      if (!id || !content) return malformed('record without id or content', list.answer)
      records.push({id, content})
    }
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
    const patched = await this.call(
      'PATCH',
      `/zones/${encodeURIComponent(zone.id)}/dns_records/${encodeURIComponent(current.id)}`,
      {content: request.ip},
    )
    if (isAnswer(patched)) return patched
    const content = asString(at(patched.result, 'content'))
    if (!content || isIP(content) !== request.family)
      return malformed('updated record without an address', patched.answer)
    return {
      kind: 'good',
      code: 'good',
      text: `${type} ${record.hostname} ${current.content} -> ${content}`,
      echoedIp: request.family === 6 ? canonicalIPv6(content) : content,
    }
  }

  private async findZone(): Promise<{id: string; name: string} | ProviderAnswer> {
    const {record} = this.deps
    if (this.zone) return this.zone
    const labels = record.hostname.split('.')
    const candidates = record.zone ? [record.zone] : labels.slice(0, -1).map((_, i) => labels.slice(i).join('.'))
    for (const name of candidates) {
      const found = await this.call('GET', `/zones?name=${encodeURIComponent(name)}`)
      if (isAnswer(found)) return found
      const zones = asArray(found.result)
      if (!zones) return malformed('zone list is not an array', found.answer)
      if (zones.length === 0) continue
      const id = asString(at(zones[0], 'id'))
      if (!id || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) return malformed('zone without a valid id', found.answer)
      this.zone = {id, name: asString(at(zones[0], 'name')) ?? name}
      return this.zone
    }
    return {
      kind: 'fatal',
      code: 'nohost',
      text: record.zone
        ? `zone ${record.zone} not found (or the token cannot read it)`
        : `no zone for ${record.hostname} found with this token; set zone`,
    }
  }

  private async call(method: string, path: string, body?: unknown): Promise<CfResult | ProviderAnswer> {
    const answer = await requestJson(this.deps, method, path, body)
    return interpretCloudflare(answer)
  }
}

export interface CfResult {
  result: Json
  answer: HttpAnswer
}

function isAnswer(value: CfResult | ProviderAnswer): value is ProviderAnswer {
  return 'kind' in value
}

/**
 * The API envelope `{success, errors, result}`. Authentication errors block; a 4xx with errors is an error;
 * anything without the documented shape is the provider's side failing (temporary), never a block.
 */
export function interpretCloudflare(answer: HttpAnswer): CfResult | ProviderAnswer {
  const byStatus = statusAnswer(answer)
  if (byStatus) return byStatus
  const data = asObject(parseJson(answer))
  const errors = (asArray(data?.errors) ?? []).map((e) => ({code: at(e, 'code'), message: asString(at(e, 'message'))}))
  const message = errors.map((e) => `${typeof e.code === 'number' ? e.code : ''} ${e.message ?? ''}`.trim()).join('; ')
  if (answer.status === 401 || answer.status === 403 || errors.some((e) => e.code === 9109 || e.code === 10000)) {
    return {kind: 'fatal', code: 'badauth', text: message || `HTTP ${answer.status}`, httpStatus: answer.status}
  }
  if (!data) return malformed('not a Cloudflare API answer', answer)
  if (answer.status >= 400 || data.success === false) {
    return {
      kind: 'error',
      code: `http-${answer.status}`,
      text: message || `HTTP ${answer.status}`,
      httpStatus: answer.status,
    }
  }
  if (data.success !== true) return malformed('answer without success: true', answer)
  return {result: data.result, answer}
}

function sameIp(a: string, b: string, family: 4 | 6): boolean {
  return family === 6 ? isIP(a) === 6 && canonicalIPv6(a) === canonicalIPv6(b) : a === b
}
