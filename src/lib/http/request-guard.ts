import type {IncomingHttpHeaders} from 'node:http'
import {isIP} from 'node:net'
import {hostname} from 'node:os'

/**
 * The checks every request passes before routing (docs/architecture.md "Security model"): the Host
 * header must name this server (a DNS-rebinding page has its own name in
 * Host), and a request that changes something must not come from a page of
 * another origin (Origin / Sec-Fetch-Site, which browsers set and pages cannot
 * forge). Clients that send neither (curl, Home Assistant) are not browsers
 * and pass; they still need the key.
 */
export interface HostPolicy {
  /** The host the server listens on (a name there is accepted in Host). */
  listenHost: string
  /** `serve.allowedHosts` and the host of a configured public URL; read per request (SIGHUP reload). */
  allowedHosts?: () => readonly string[]
}

export const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

let machineNames: Set<string> | undefined

/** This machine's names: hostname, its first label and `<label>.local` (mDNS). */
function ownNames(): Set<string> {
  if (machineNames) return machineNames
  const names = new Set<string>()
  try {
    const full = hostname().toLowerCase().replace(/\.$/, '')
    if (full) {
      const label = full.split('.')[0]!
      names.add(full).add(label).add(`${label}.local`)
    }
  } catch {
    // No hostname: IP literals and localhost still work.
  }
  machineNames = names
  return names
}

/** Splits a Host header value (`name:port`, `[v6]:port`); undefined when it is not one. */
export function splitHost(value: string): {host: string; port?: string} | undefined {
  const text = value.trim().toLowerCase()
  if (text.length === 0 || text.length > 300) return undefined
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text)
  if (bracketed) return isIP(bracketed[1]!) === 6 ? {host: bracketed[1]!, port: bracketed[2]} : undefined
  const plain = /^([^:[\]\s/\\@]+)(?::(\d{1,5}))?$/.exec(text)
  if (!plain) return undefined
  return {host: plain[1]!.replace(/\.$/, ''), port: plain[2]}
}

function nameMatches(host: string, entry: string): boolean {
  const name = entry.toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '')
  if (name.startsWith('*.')) return host.endsWith(name.slice(1)) && host.length > name.length - 1
  return host === name
}

/** True when the Host header names this server (or is absent: HTTP/1.0 clients, never a browser). */
export function hostAllowed(header: string | undefined, policy: HostPolicy): boolean {
  if (header === undefined) return true
  const parts = splitHost(header)
  if (!parts) return false
  const {host} = parts
  if (isIP(host) !== 0) return true
  if (host === 'localhost' || host.endsWith('.localhost')) return true
  if (host === policy.listenHost.toLowerCase().replace(/\.$/, '')) return true
  if (ownNames().has(host)) return true
  return (policy.allowedHosts?.() ?? []).some((entry) => nameMatches(host, entry))
}

/**
 * Why a state-changing request is refused as cross-origin, or undefined.
 * Same origin means the Origin's host:port is the Host header (already
 * checked by hostAllowed), or an allowed host listed with that exact port
 * (a reverse proxy that rewrites Host).
 */
export function crossOriginReason(headers: IncomingHttpHeaders, policy: HostPolicy): string | undefined {
  const site = headers['sec-fetch-site']
  if (site === 'cross-site' || site === 'same-site') return `a page of another site (Sec-Fetch-Site: ${site})`
  const origin = headers.origin
  if (origin === undefined) return undefined
  if (origin === 'null') return 'a page with an opaque origin (Origin: null)'
  let originHost: string
  try {
    const url = new URL(origin)
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return `a page of another origin (${origin.slice(0, 100)})`
    originHost = url.host.toLowerCase()
  } catch {
    return 'a malformed Origin header'
  }
  const host = headers.host?.trim().toLowerCase()
  if (host !== undefined && (originHost === host || originHost === host.replace(/\.(?=(:\d+)?$)/, ''))) return undefined
  const originName = originHost.replace(/:\d+$/, '')
  const originPort = /:(\d+)$/.exec(originHost)?.[1]
  for (const entry of policy.allowedHosts?.() ?? []) {
    const entryPort = /:(\d+)$/.exec(entry)?.[1]
    if (entryPort === originPort && nameMatches(originName, entry)) return undefined
  }
  return `a page of another origin (${origin.slice(0, 100)})`
}

export type BodyType = 'json' | 'form'

const MEDIA: Record<BodyType, string> = {
  json: 'application/json',
  form: 'application/x-www-form-urlencoded',
}

/** True when the request carries a body (announced by Content-Length > 0 or chunked encoding). */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true
  const length = headers['content-length']
  return length !== undefined && length !== '0'
}

/** True when the body's media type is one the route takes. */
export function bodyTypeAccepted(headers: IncomingHttpHeaders, accepted: readonly BodyType[]): boolean {
  const type = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  return accepted.some((kind) => MEDIA[kind] === type)
}

export function mediaTypes(accepted: readonly BodyType[]): string[] {
  return accepted.map((kind) => MEDIA[kind])
}
