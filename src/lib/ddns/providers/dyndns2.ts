import {isIP} from 'node:net'

import {canonicalIPv6} from '../../net/ipv6.js'
import type {HttpAnswer} from '../http.js'
import {
  type DdnsProvider,
  type ProviderAnswer,
  type ProviderDeps,
  type UpdateRequest,
  firstLine,
  statusAnswer,
} from './provider.js'
import {providerInfo} from './registry.js'

/** Return codes that need a human: the record is blocked until its config changes or `--force`. */
export const FATAL_CODES = [
  'badauth',
  'nohost',
  'notfqdn',
  'badagent',
  'abuse',
  'numhost',
  '!donator',
  'badsys',
  '!yours',
]
/** The provider's side is failing: back off, persistently. */
export const TRANSIENT_CODES = ['911', 'dnserr']

const FATAL_HINTS: Record<string, string> = {
  badauth: 'the username or password was refused',
  nohost: 'the hostname does not exist in this account',
  notfqdn: 'the hostname is not a fully qualified domain name',
  badagent: 'the provider blocked this client',
  abuse: 'the provider blocked the hostname for abuse (too many updates)',
  numhost: 'too many hosts in one request',
  '!donator': 'the request used a feature of paid accounts',
  badsys: 'the system parameter is not valid',
  '!yours': 'the hostname belongs to another account',
}

export function fatalHint(code: string): string | undefined {
  return FATAL_HINTS[code]
}

/**
 * The dyndns2 protocol (DynDNS "Remote Access Update API"): one GET per hostname and family, HTTP basic auth,
 * the answer's first word says what happened. One module for the whole family; each service's quirks (IPv6
 * parameter, username = hostname, extra parameters) are data in the provider registry.
 */
export class Dyndns2Provider implements DdnsProvider {
  constructor(private readonly deps: ProviderDeps) {}

  async update(request: UpdateRequest): Promise<ProviderAnswer> {
    const {record, http} = this.deps
    const quirks = providerInfo(record.provider).quirks ?? {}
    const url = new URL(record.server)
    for (const [key, value] of Object.entries(quirks.query ?? {})) url.searchParams.set(key, value)
    url.searchParams.set(quirks.hostnameParam ?? 'hostname', record.hostname)
    const param = request.family === 4 ? (quirks.ipv4Param ?? 'myip') : (quirks.ipv6Param ?? 'myip')
    url.searchParams.set(param, request.ip)
    const preserve = quirks.preserveOther
    if (preserve) url.searchParams.set(request.family === 4 ? preserve.ipv6Param : preserve.ipv4Param, preserve.value)
    const username = record.username ?? (quirks.usernameIsHostname ? record.hostname : '')
    const password = record.password ?? record.token ?? ''
    const auth = Buffer.from(`${username}:${password}`).toString('base64')
    const answer = await http.request(url.href, {headers: {authorization: `Basic ${auth}`}, maxBytes: 16 * 1024})
    return interpretDyndns2(answer)
  }
}

/** Maps an HTTP answer of a dyndns2 server to what it means (Infomaniak's wording included). */
export function interpretDyndns2(answer: HttpAnswer): ProviderAnswer {
  const line = firstLine(answer.body)
  const [word = '', rest = ''] = line.split(/\s+/, 2)
  const code = word.toLowerCase()
  const httpStatus = answer.status
  // Infomaniak reports errors as HTTP 400 with the code as body: read the body first, whatever the status.
  if (code === 'good' || code === 'successfully_changed') {
    return {kind: 'good', code: 'good', text: line, echoedIp: ipOf(rest), httpStatus}
  }
  if (code === 'nochg' || code === 'no_change') {
    return {kind: 'nochg', code: 'nochg', text: line, echoedIp: ipOf(rest), httpStatus}
  }
  // ChangeIP words its answers as a status line: `200 Successful Update`, `401 Access Denied`.
  if (/^200 successful/i.test(line)) return {kind: 'good', code: 'good', text: line, httpStatus}
  if (/^401\b/.test(line)) return {kind: 'fatal', code: 'badauth', text: line, httpStatus}
  if (FATAL_CODES.includes(code)) return {kind: 'fatal', code, text: line, httpStatus}
  if (TRANSIENT_CODES.includes(code)) return {kind: 'transient', code, text: line, httpStatus}
  if (code === 'badrequest') return {kind: 'error', code, text: line, httpStatus}
  const byStatus = statusAnswer(answer)
  if (byStatus) return byStatus
  if (httpStatus === 401 || httpStatus === 403) {
    return {kind: 'fatal', code: 'badauth', text: line || `HTTP ${httpStatus}`, httpStatus}
  }
  return {
    kind: 'error',
    code: 'unknown',
    text: line ? `unexpected answer (HTTP ${httpStatus}): ${line}` : `empty answer (HTTP ${httpStatus})`,
    httpStatus,
  }
}

function ipOf(text: string): string | undefined {
  const candidate = text.trim().split(/\s+/)[0] ?? ''
  const family = isIP(candidate)
  if (family === 4) return candidate
  if (family === 6) return canonicalIPv6(candidate)
  return undefined
}
