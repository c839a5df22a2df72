import {isIP} from 'node:net'

import {UserError, errorMessage} from '../errors.js'
import {type Family, checkPublicAddress, familyLabel} from './address.js'
import type {DnsClass, DnsType} from './dns-query.js'
import {type DdnsHttpClient, HttpFailure} from './http.js'

export type IpSource =
  | {kind: 'http'; url: string; label: string}
  | {kind: 'iface'; name: string; label: string}
  | {kind: 'exec'; argv: string[]; label: string}
  | {kind: 'dns'; server: string; port: number; name: string; type: DnsType; class: DnsClass; label: string}

/**
 * Well-known sources, tried in order. HTTPS echo services first (one request
 * each), then the DNS-based lookups, which keep working when an HTTP service
 * is down or blocked. Each family is detected over its own family, so a dual-stack
 * host gets its real IPv4 from the v4 list and its real IPv6 from the v6 list.
 */
export const DEFAULT_SOURCES: Record<Family, readonly string[]> = {
  4: [
    'https://api.ipify.org',
    'https://ipv4.icanhazip.com',
    'dns://208.67.222.222/myip.opendns.com?type=A',
    'dns://1.1.1.1/whoami.cloudflare?type=TXT&class=CH',
    'https://checkip.amazonaws.com',
  ],
  6: [
    'https://api6.ipify.org',
    'https://ipv6.icanhazip.com',
    'dns://[2620:119:35::35]/myip.opendns.com?type=AAAA',
    'dns://[2606:4700:4700::1111]/whoami.cloudflare?type=TXT&class=CH',
  ],
}

/**
 * Parses one source: an `http(s)://` echo URL (plain-text, `ip=` line or JSON
 * `{"ip": …}` answer) or `dns://RESOLVER[:PORT]/NAME?type=A|AAAA|TXT&class=IN|CH`.
 */
export function parseSource(text: string, family: Family, setting: string): IpSource {
  const trimmed = text.trim()
  if (trimmed.startsWith('exec:')) {
    const argv = trimmed.slice(5).trim().split(/\s+/).filter(Boolean)
    if (!argv[0]?.startsWith('/')) throw sourceError(text, setting, 'the command must be an absolute path')
    return {kind: 'exec', argv, label: `exec:${argv[0]}`}
  }
  const iface = /^iface:\/\/([A-Za-z0-9_.:@-]{1,15})\/?$/.exec(trimmed)
  if (iface) return {kind: 'iface', name: iface[1]!, label: `iface://${iface[1]}`}
  if (trimmed.startsWith('iface:'))
    throw sourceError(text, setting, 'expected iface://NAME (an interface name, at most 15 characters)')
  let url: URL
  try {
    url = new URL(text.trim())
  } catch {
    throw sourceError(text, setting, 'not a URL')
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    return {kind: 'http', url: url.href, label: `${url.origin}${url.pathname === '/' ? '' : url.pathname}`}
  }
  if (url.protocol !== 'dns:') throw sourceError(text, setting, `unsupported scheme ${url.protocol}`)
  const server = url.hostname.replace(/^\[|\]$/g, '')
  // A bracketed host is an IPv6 address the URL parser has already checked; asking net.isIP again would
  // compile its large IPv6 pattern, ~5 ms of every timer run with the default sources.
  const serverFamily = url.hostname.startsWith('[') ? 6 : isIP(server)
  if (serverFamily === 0) throw sourceError(text, setting, 'the resolver must be an IP address')
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''))
  if (!/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?$/.test(name)) throw sourceError(text, setting, 'missing the name to ask')
  const type = (url.searchParams.get('type') ?? (family === 4 ? 'A' : 'AAAA')).toUpperCase()
  if (type !== 'A' && type !== 'AAAA' && type !== 'TXT') throw sourceError(text, setting, 'type must be A, AAAA or TXT')
  if ((type === 'A' && family === 6) || (type === 'AAAA' && family === 4)) {
    throw sourceError(text, setting, `type ${type} cannot answer an ${familyLabel(family)} address`)
  }
  const klass = (url.searchParams.get('class') ?? 'IN').toUpperCase()
  if (klass !== 'IN' && klass !== 'CH') throw sourceError(text, setting, 'class must be IN or CH')
  const port = url.port ? Number(url.port) : 53
  const shown = serverFamily === 6 ? `[${server}]` : server
  return {
    kind: 'dns',
    server,
    port,
    name,
    type,
    class: klass,
    label: `dns://${shown}${url.port ? `:${port}` : ''}/${name}`,
  }
}

function sourceError(text: string, setting: string, why: string): UserError {
  return new UserError(`${setting}: IP source "${text}" is invalid: ${why}`, {
    hint: 'use https://echo.example/, dns://RESOLVER-IP/NAME?type=A|AAAA|TXT[&class=CH], iface://eth0 or exec:/path/to/command [args]',
  })
}

export interface DetectionAttempt {
  source: string
  ip?: string
  /** Why this source's answer was not used. */
  error?: string
  ms: number
}

export interface Detection {
  family: Family
  /** The public address, when detection succeeded. */
  ip?: string
  /** Sources that gave `ip`. */
  sources: string[]
  attempts: DetectionAttempt[]
  /** Why detection failed (every source failed, or they disagreed). */
  error?: string
}

export interface DetectOptions {
  http: DdnsHttpClient
  timeoutMs: number
  /** 1: the first valid answer wins; 2: two sources must give the same address. */
  requireAgreement: number
  signal?: AbortSignal
}

/** Asks the sources in order until enough of them agree on one valid public address. */
export async function detectAddress(family: Family, sources: IpSource[], options: DetectOptions): Promise<Detection> {
  const attempts: DetectionAttempt[] = []
  const votes = new Map<string, string[]>()
  for (const source of sources) {
    if (options.signal?.aborted) break
    const started = performance.now()
    const attempt: DetectionAttempt = {source: source.label, ms: 0}
    try {
      const answer = await askSource(source, family, options)
      const checked = checkPublicAddress(answer, family)
      if (checked.ok) {
        attempt.ip = checked.ip
        const voters = [...(votes.get(checked.ip) ?? []), source.label]
        votes.set(checked.ip, voters)
        attempt.ms = Math.round(performance.now() - started)
        attempts.push(attempt)
        if (voters.length >= options.requireAgreement) return {family, ip: checked.ip, sources: voters, attempts}
        continue
      }
      attempt.error = `answered ${quote(answer)}: ${checked.reason}`
    } catch (error) {
      attempt.error = errorMessage(error)
    }
    attempt.ms = Math.round(performance.now() - started)
    attempts.push(attempt)
  }
  const label = familyLabel(family)
  const error =
    votes.size > 0
      ? `the ${label} sources did not agree (${[...votes.entries()].map(([ip, v]) => `${ip} from ${v.join(', ')}`).join('; ')}), ${options.requireAgreement} must`
      : options.signal?.aborted
        ? 'stopped'
        : sources.length === 0
          ? `no ${label} sources configured`
          : `no ${label} source gave a valid public address`
  return {family, sources: [], attempts, error}
}

async function askSource(source: IpSource, family: Family, options: DetectOptions): Promise<string> {
  if (source.kind === 'iface') {
    const {interfaceAddress} = await import('./local-sources.js')
    return interfaceAddress(source.name, family)
  }
  if (source.kind === 'exec') {
    const {commandOutput} = await import('./local-sources.js')
    const output = await commandOutput(source.argv, family, {timeoutMs: options.timeoutMs, signal: options.signal})
    return extractAddress(output, family)
  }
  if (source.kind === 'dns') {
    const {queryDns} = await import('./dns-query.js')
    const answers = await queryDns({...source, timeoutMs: options.timeoutMs, signal: options.signal})
    if (answers.length === 0) throw new Error(`no ${source.type} record in the answer`)
    return answers.find((a) => isIP(a.trim()) === family) ?? answers[0]!
  }
  let answer
  try {
    answer = await options.http.request(source.url, {family, maxBytes: 4096, headers: {accept: 'text/plain, */*'}})
  } catch (error) {
    if (error instanceof HttpFailure) throw new Error(error.message)
    throw error
  }
  if (answer.status < 200 || answer.status > 299) throw new Error(`HTTP ${answer.status}`)
  return extractAddress(answer.body, family)
}

/**
 * Plain text (`1.2.3.4\n`), JSON (`{"ip": "1.2.3.4"}`), a Cloudflare-trace style `ip=1.2.3.4` line, or a page
 * (checkip.dyndns.org's `<body>Current IP Address: 1.2.3.4</body>`) whose text holds exactly one valid public
 * address of the family: two different addresses, or none, return the text as it is (and it is refused).
 */
export function extractAddress(body: string, family?: Family): string {
  const text = body.trim()
  if (text.startsWith('{')) {
    try {
      const data = JSON.parse(text) as Record<string, unknown>
      for (const key of ['ip', 'address', 'query']) {
        if (typeof data[key] === 'string') return data[key]
      }
    } catch {
      // Not JSON after all: fall through and show it as garbage.
    }
    return text
  }
  const line = /^ip=(.+)$/m.exec(text)
  if (line) return line[1]!.trim()
  const first = text.split(/\r?\n/)[0]!.trim()
  if (family === undefined || isIP(first) !== 0) return first
  const found = addressesIn(text, family)
  return found.length === 1 ? found[0]! : first
}

/** The distinct valid public addresses of `family` in a page's text (tags and entities out of the way). */
function addressesIn(page: string, family: Family): string[] {
  const text = page
    .slice(0, 4096)
    .replace(/<[^>]*>/g, ' ')
    .replace(/&[a-z]+;|&#\d+;/gi, ' ')
  const candidates = family === 4 ? text.match(/\d{1,3}(?:\.\d{1,3}){3}/g) : text.match(/[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+/g)
  const found = new Set<string>()
  for (const candidate of candidates ?? []) {
    const checked = checkPublicAddress(candidate, family)
    if (checked.ok) found.add(checked.ip)
  }
  return [...found]
}

/** A remote answer, made safe and short for logs. */
export function quote(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?')
  return JSON.stringify(clean.length > 60 ? `${clean.slice(0, 57)}...` : clean)
}
