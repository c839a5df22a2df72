import {isIP} from 'node:net'

import {canonicalIPv6} from '../../net/ipv6.js'
import type {Family} from '../address.js'
import type {HttpAnswer} from '../http.js'
import type {DdnsRecord} from '../records.js'
import {type Json, asArray, asString, at, parseJson} from './json.js'
import {type ProviderAnswer, type ProviderDeps, firstLine, malformed, statusAnswer} from './provider.js'

/**
 * The shared reading of a REST DNS API's answer: 429/5xx are temporary (with Retry-After), 401/403 a refused
 * credential (blocks), 404 an unknown zone or record (blocks, where the caller says so), other 4xx an error,
 * and a 2xx body that is not JSON a malformed (temporary) answer.
 */
export function readApi(
  answer: HttpAnswer,
  options: {notFound?: 'nohost' | 'error'; describe?: (body: Json) => string | undefined} = {},
): {json: Json; answer: HttpAnswer} | ProviderAnswer {
  const byStatus = statusAnswer(answer)
  if (byStatus) return byStatus
  const parsed = parseJson(answer)
  const said = options.describe?.(parsed) ?? firstLine(answer.body).slice(0, 200)
  const text = said || `HTTP ${answer.status}`
  if (answer.status === 401 || answer.status === 403) {
    return {kind: 'fatal', code: 'badauth', text, httpStatus: answer.status}
  }
  if (answer.status === 404 && (options.notFound ?? 'nohost') === 'nohost') {
    return {kind: 'fatal', code: 'nohost', text, httpStatus: answer.status}
  }
  if (answer.status >= 400) return {kind: 'error', code: `http-${answer.status}`, text, httpStatus: answer.status}
  if (answer.status < 200 || answer.status > 299) return malformed(`unexpected HTTP ${answer.status}`, answer)
  if (parsed === undefined) {
    return answer.body.trim() === '' ? {json: null, answer} : malformed('not a JSON answer', answer)
  }
  return {json: parsed, answer}
}

/** A JSON request to the record's API server, its token sent as a Bearer credential. */
export function requestJson(
  deps: ProviderDeps,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  const {record, http} = deps
  return http.request(`${record.server}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${record.token ?? ''}`,
      accept: 'application/json',
      'content-type': 'application/json',
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

/**
 * The records of an API listing (`json[listKey]`) that `keep` accepts (type and name), with the address read
 * from `contentKey`. A listing that is not a list, or a record without id or address, is a malformed answer.
 */
export function listedRecords(
  listed: {json: Json; answer: HttpAnswer},
  listKey: string,
  contentKey: string,
  keep: (item: Json) => boolean = () => true,
): FoundRecord[] | ProviderAnswer {
  const items = asArray(at(listed.json, listKey))
  if (!items) return malformed(`${listKey} is not a list`, listed.answer)
  const records: FoundRecord[] = []
  for (const item of items) {
    if (!keep(item)) continue
    const id = idOf(at(item, 'id'))
    const content = asString(at(item, contentKey))
    if (!id || !content) return malformed(`record without id or ${contentKey}`, listed.answer)
    records.push({id, content})
  }
  return records
}

export function isAnswer<T extends object>(value: T | ProviderAnswer): value is ProviderAnswer {
  return 'kind' in value && 'code' in value
}

/** The zone (`zone`, else the last two labels) and the name inside it (`''` at the apex). */
export function splitHostname(record: DdnsRecord): {zone: string; name: string} {
  const hostname = record.hostname.toLowerCase()
  const zone = (record.zone ?? hostname.split('.').slice(-2).join('.')).toLowerCase().replace(/\.$/, '')
  const name = hostname === zone ? '' : hostname.endsWith(`.${zone}`) ? hostname.slice(0, -zone.length - 1) : hostname
  return {zone, name}
}

export function recordType(family: Family): 'A' | 'AAAA' {
  return family === 4 ? 'A' : 'AAAA'
}

export function sameAddress(a: string, b: string, family: Family): boolean {
  if (isIP(a) !== family) return false
  return family === 6 ? canonicalIPv6(a) === canonicalIPv6(b) : a === b
}

export interface FoundRecord {
  id: string
  content: string
}

/**
 * The one record to update among those the API listed: none is `nohost` (homeops never creates records),
 * several `numhost`, the same address `nochg`.
 */
export function pickRecord(
  records: FoundRecord[],
  ip: string,
  family: Family,
  hostname: string,
): FoundRecord | ProviderAnswer {
  const type = recordType(family)
  if (records.length === 0) {
    return {
      kind: 'fatal',
      code: 'nohost',
      text: `no ${type} record named ${hostname}; create it once, homeops only updates it`,
    }
  }
  if (records.length > 1) {
    return {
      kind: 'fatal',
      code: 'numhost',
      text: `${records.length} ${type} records named ${hostname}; homeops updates exactly one`,
    }
  }
  const current = records[0]!
  if (sameAddress(current.content, ip, family)) {
    return {kind: 'nochg', code: 'nochg', text: `${type} ${hostname} already ${current.content}`, echoedIp: ip}
  }
  return current
}

/** nochg when a record set holds exactly the address to send: writing it again would change nothing. */
export function unchangedSet(
  values: string[],
  ip: string,
  family: Family,
  hostname: string,
): ProviderAnswer | undefined {
  if (values.length !== 1 || !sameAddress(values[0]!, ip, family)) return undefined
  return {kind: 'nochg', code: 'nochg', text: `${recordType(family)} ${hostname} already ${values[0]}`}
}

export function updated(family: Family, hostname: string, from: string, ip: string, status?: number): ProviderAnswer {
  return {kind: 'good', code: 'good', text: `${recordType(family)} ${hostname} ${from} -> ${ip}`, httpStatus: status}
}

/** An id as a path segment: numbers and strings accepted, anything else is a malformed answer. */
export function idOf(value: Json): string | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value)
  if (typeof value === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(value)) return value
  return undefined
}
