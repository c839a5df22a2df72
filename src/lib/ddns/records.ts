import {createHash} from 'node:crypto'

import type {HomeopsConfig} from '../config/root-schema.js'
import {UserError} from '../errors.js'
import type {Family} from './address.js'
import {type IpSource, parseSource} from './detect.js'
import {type DdnsProviderName, providerInfo} from './providers/registry.js'

export type DdnsConfig = HomeopsConfig['ddns']

/** One record as the updater sees it: defaults applied, server resolved, checked. */
export interface DdnsRecord {
  /** Unique label: status, logs, metrics, `--record`. */
  name: string
  provider: DdnsProviderName
  hostname: string
  username?: string
  password?: string
  token?: string
  secret?: string
  /** Resolved endpoint (dyndns2 update URL, DuckDNS update URL, Cloudflare API base). */
  server: string
  zone?: string
  families: Family[]
  /** The record's own IP sources, per family, when it sets them (else the global ones apply). */
  sources?: Partial<Record<Family, IpSource[]>>
  /** Where it is configured, for messages: `ddns.records[1]` or `ddns.hostname (INFOMANIAK_DDNS_*)`. */
  origin: string
  /**
   * Hash of what the record points at (provider, endpoint, hostname, zone):
   * when it changes, the stored "last accepted IP" belongs to another target and is ignored.
   */
  target: string
  /**
   * Hash of the whole record including a hash of its credentials (never the
   * credentials themselves): a blocked state holds only while this is unchanged.
   */
  fingerprint: string
}

const FQDN = /^(?=.{1,253}$)(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{2,63}\.?$/

/**
 * The effective record list: the legacy single Infomaniak record
 * (`ddns.hostname/username/password`, i.e. `INFOMANIAK_DDNS_*`) first, then
 * `ddns.records`. Every problem is reported at once, naming the setting.
 */
export function effectiveRecords(ddns: DdnsConfig): DdnsRecord[] {
  const problems: string[] = []
  const out: DdnsRecord[] = []
  const legacyOrigin = 'ddns.hostname (INFOMANIAK_DDNS_HOSTNAME)'
  if (ddns.hostname !== undefined && ddns.hostname.trim() !== '') {
    const record = build(
      ddns,
      {provider: 'infomaniak', hostname: ddns.hostname.trim(), username: ddns.username, password: ddns.password},
      legacyOrigin,
      problems,
      {
        hostname: 'INFOMANIAK_DDNS_HOSTNAME',
        username: 'INFOMANIAK_DDNS_USERNAME',
        password: 'INFOMANIAK_DDNS_PASSWORD',
        server: 'DDNS_SERVER',
      },
    )
    if (record) out.push(record)
  } else if (ddns.username !== undefined || ddns.password !== undefined) {
    problems.push(
      'ddns.username/password (INFOMANIAK_DDNS_USERNAME/PASSWORD) are set but ddns.hostname (INFOMANIAK_DDNS_HOSTNAME) is not',
    )
  }
  ddns.records.forEach((raw, i) => {
    const record = build(ddns, raw, `ddns.records[${i}]`, problems)
    if (record) out.push(record)
  })
  const seen = new Map<string, string>()
  for (const record of out) {
    const key = record.name.toLowerCase()
    const first = seen.get(key)
    if (first)
      problems.push(`${record.origin}: the name "${record.name}" is already used by ${first}; set a unique name`)
    else seen.set(key, record.origin)
  }
  if (problems.length > 0) {
    throw new UserError(`invalid ddns configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`, {
      hint: 'fix the config file or environment, then run `homeops config validate`',
    })
  }
  return out
}

interface RawRecord {
  name?: string
  provider: DdnsProviderName
  hostname?: string
  username?: string
  password?: string
  token?: string
  secret?: string
  server?: string
  zone?: string
  ipv4?: boolean
  ipv6?: boolean
  ipSources?: {v4: string[]; v6: string[]}
}

function build(
  ddns: DdnsConfig,
  raw: RawRecord,
  origin: string,
  problems: string[],
  names: Record<string, string> = {},
): DdnsRecord | undefined {
  const before = problems.length
  const hostname = raw.hostname?.trim() ?? ''
  const at = (key: string) =>
    origin.startsWith('ddns.records') ? `${origin}.${key}` : `ddns.${key}${names[key] ? ` (${names[key]})` : ''}`
  if (!FQDN.test(hostname)) {
    problems.push(`${at('hostname')}: "${hostname}" is not a fully qualified domain name (e.g. home.example.org)`)
  }
  const provider = raw.provider
  const info = providerInfo(provider)
  for (const key of info.required) {
    if (!raw[key]) problems.push(`${at(key)}: required for provider ${provider} (${info.keys})`)
  }
  const configured = raw.server ?? (provider === 'infomaniak' || provider === 'dyndns2' ? ddns.server : undefined)
  const server = resolveServer(provider, configured, at('server'), problems)
  const families: Family[] = []
  if (raw.ipv4 ?? true) families.push(4)
  if (raw.ipv6 ?? ddns.ipv6) families.push(6)
  if (families.length === 0) problems.push(`${origin}: both ipv4 and ipv6 are off, nothing to update`)
  if (info.families === '4' && raw.ipv6 === true) {
    problems.push(`${at('ipv6')}: provider ${provider} updates IPv4 only`)
  }
  // ddns.ipv6 on for the whole setup: an IPv4-only provider's records keep to IPv4.
  if (info.families === '4' && families.includes(6)) families.splice(families.indexOf(6), 1)
  if (provider === 'duckdns' && !/\.duckdns\.org\.?$/i.test(hostname) && FQDN.test(hostname)) {
    problems.push(`${at('hostname')}: DuckDNS names end in .duckdns.org, got "${hostname}"`)
  }
  const sources: Partial<Record<Family, IpSource[]>> = {}
  for (const family of [4, 6] as const) {
    const list = raw.ipSources?.[family === 4 ? 'v4' : 'v6'] ?? []
    if (list.length === 0) continue
    try {
      sources[family] = list.map((text, i) => parseSource(text, family, `${at(`ipSources.v${family}`)}[${i}]`))
    } catch (error) {
      problems.push((error as Error).message)
    }
  }
  if (problems.length > before || server === undefined) return undefined
  const name = raw.name?.trim() || hostname
  const zone = raw.zone?.trim() || undefined
  const target = digest({provider, server, hostname: hostname.toLowerCase(), zone}).slice(0, 16)
  const fingerprint = digest({
    target,
    username: raw.username ?? null,
    // One credential hashes as before the `secret` key existed, so an upgrade keeps existing blocks.
    secret:
      raw.secret === undefined
        ? digest(raw.password ?? raw.token ?? '')
        : digest([raw.password, raw.token, raw.secret]),
    families,
  }).slice(0, 32)
  return {
    name,
    provider,
    hostname: hostname.replace(/\.$/, ''),
    username: raw.username,
    password: raw.password,
    token: raw.token,
    secret: raw.secret,
    server,
    zone,
    families,
    ...(Object.keys(sources).length > 0 ? {sources} : {}),
    origin,
    target,
    fingerprint,
  }
}

function resolveServer(
  provider: DdnsProviderName,
  configured: string | undefined,
  setting: string,
  problems: string[],
): string | undefined {
  const text = configured?.trim() || providerInfo(provider).server
  if (!text) {
    problems.push(
      `${setting}: required for provider ${provider} (e.g. https://dynupdate.no-ip.com), or set DDNS_SERVER`,
    )
    return undefined
  }
  let url: URL
  try {
    url = new URL(text)
  } catch {
    problems.push(`${setting}: "${text}" is not a URL (expected https://host[/path])`)
    return undefined
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    problems.push(`${setting}: "${text}" must be an http:// or https:// URL`)
    return undefined
  }
  if (url.username || url.password) {
    problems.push(`${setting}: put credentials in username/password, not in the URL`)
    return undefined
  }
  // A dyndns2 base URL without a path gets the protocol's standard path.
  if ((provider === 'infomaniak' || provider === 'dyndns2') && (url.pathname === '/' || url.pathname === '')) {
    url.pathname = '/nic/update'
  }
  return url.href.replace(/\/$/, '')
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex')
}

/** Whether a server URL sends credentials in clear text to a non-loopback host. */
export function isCleartextRemote(server: string): boolean {
  const url = new URL(server)
  if (url.protocol !== 'http:') return false
  const host = url.hostname.replace(/^\[|\]$/g, '')
  return !(host === 'localhost' || host === '::1' || host.startsWith('127.'))
}
