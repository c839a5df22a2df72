import {isIP} from 'node:net'

/**
 * Value checks of the config schema: each returns why a value cannot be used
 * (with the form that is expected), or undefined when it is fine. They are the
 * only place these forms are checked: a value that passes `config validate`
 * is one the modes accept at start.
 */
export type Validator = (value: string) => string | undefined

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i

/** An IPv4 or IPv6 address literal (no port, no brackets, no zone). */
export const ipAddressProblem: Validator = (value) => {
  const text = value.trim()
  if (isIP(text) === 0 || text.includes('%')) return `expected an IP address such as 192.168.1.10 or fd00::10`
  return undefined
}

/** One address or several separated by commas (`HOSTIP=192.168.1.10,fd00::10`). */
export const ipAddressListProblem: Validator = (value) => {
  const parts = value.split(',').map((s) => s.trim())
  const bad = parts.find((p) => p === '' || isIP(p) === 0 || p.includes('%'))
  if (bad === undefined) return undefined
  return bad === ''
    ? 'expected IP addresses separated by commas, found an empty one'
    : `expected IP addresses such as 192.168.1.10 or 192.168.1.10,fd00::10 ("${bad}" is not one)`
}

export function portProblem(port: number | string): string | undefined {
  const n = typeof port === 'number' ? port : /^\d{1,5}$/.test(port) ? Number(port) : Number.NaN
  if (!Number.isInteger(n) || n < 0 || n > 65535) return `port ${String(port)} is not between 0 and 65535`
  return undefined
}

/** A DNS name: labels of letters, digits, `-`, `_`; 63 octets a label, 253 in all; `*` first when `wildcard`. */
export function hostnameProblem(value: string, options: {wildcard?: boolean} = {}): string | undefined {
  const name = value.trim().replace(/\.$/, '')
  if (name === '') return 'empty name'
  if (name.length > 253) return 'longer than 253 characters'
  const labels = name.split('.')
  for (const [i, label] of labels.entries()) {
    if (label === '*' && options.wildcard && i === 0 && labels.length > 1) continue
    if (label === '') return `empty label in "${value}" (two dots in a row, or a leading dot)`
    if (label.length > 63) return `label "${label.slice(0, 20)}…" longer than 63 characters`
    if (!LABEL.test(label)) return `label "${label}" has characters other than a-z 0-9 - _`
  }
  return undefined
}

export const hostnameValidator: Validator = (value) => {
  const problem = hostnameProblem(value)
  return problem && `expected a host name such as home.example.org (${problem})`
}

/** `HOST:PORT`, `[IPv6]:PORT` or a bare port: a server's listen address. */
export const listenProblem: Validator = (value) => {
  const text = value.trim()
  const form = 'expected HOST:PORT, e.g. 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080'
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]*):(\d+)$/.exec(text) ?? /^()(\d+)$/.exec(text)
  if (!match) return form
  const [, host, port] = match as unknown as [string, string, string]
  const badPort = portProblem(port)
  if (badPort) return `${form} (${badPort})`
  if (host === '' || host === 'localhost' || isIP(host) !== 0) return undefined
  const problem = hostnameProblem(host)
  return problem ? `${form} ("${host}" is neither an IP address nor a host name)` : undefined
}

/** A DNS resolver by address, `IP`, `IP:PORT` or `[IPv6]:PORT` (a name would need DNS to be found). */
export const upstreamProblem: Validator = (value) => {
  const text = value.trim()
  const form = 'expected a resolver address IP or IP:PORT, e.g. 1.1.1.1, 9.9.9.9:53 or [2606:4700::1111]:53'
  if (isIP(text) === 6) return undefined
  const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:[\]]+)(?::(\d+))?$/.exec(text)
  if (!match) return form
  const [, host, port] = match as unknown as [string, string, string | undefined]
  if (isIP(host) === 0) return `${form} ("${host}" is not an IP address)`
  if (port !== undefined && (portProblem(port) || Number(port) === 0)) return `${form} (port ${port} is not 1-65535)`
  return undefined
}

/** An `http://` or `https://` URL. */
export const httpUrlProblem: Validator = (value) => {
  let url: URL
  try {
    url = new URL(value.trim())
  } catch {
    return 'expected an http:// or https:// URL'
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'expected an http:// or https:// URL'
  return undefined
}
