import {isIP} from 'node:net'
import {networkInterfaces} from 'node:os'

import {FILE_LIMITS, FileReadError, readBoundedText} from '../fs/read-file.js'
import {isLoopback} from '../net/cidr.js'
import type {HomeopsConfig} from '../config/root-schema.js'
import {effectiveDnsPort} from './config.js'

type DnsConfig = HomeopsConfig['dns']

/** The upstreams `dns serve` forwards to when none are configured: the system's, as dnsmasq does. */
export interface SystemResolvers {
  /** The resolv.conf read. */
  file: string
  /** Usable nameservers, in the file's order (`IP`, port 53). */
  upstreams: string[]
  /** Nameservers left out, each with why (itself, a scoped link-local address, not an address). */
  skipped: {address: string; reason: string}[]
  /** Why the file gave nothing (missing, unreadable, no nameserver line). */
  problem?: string
}

/** More than glibc's 3 (MAXNS), fewer than a file could list. */
const MAX_NAMESERVERS = 8

/**
 * Reads the `nameserver` lines of a resolv.conf (bounded: a regular file of at most 64 KiB), leaving out
 * the addresses that are this server itself. resolv.conf has no ports, so a nameserver can only be us when
 * we answer on port 53: then the bind address itself, and with a wildcard bind every loopback and interface
 * address of this host, would forward our own questions back to us. A loopback resolver on another address
 * (systemd-resolved's 127.0.0.53 while we bind 127.0.0.1 or a LAN address) is kept.
 */
export function systemResolvers(options: {file: string; bind: string; port: number; ipv6: boolean}): SystemResolvers {
  const result: SystemResolvers = {file: options.file, upstreams: [], skipped: []}
  let text: string
  try {
    text = readBoundedText(options.file, {maxBytes: FILE_LIMITS.secret})
  } catch (error) {
    if (!(error instanceof FileReadError)) throw error
    result.problem = `${options.file}: ${error.reason}`
    return result
  }
  const ours = ownAddresses(options)
  for (const line of text.split('\n')) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line)
    if (!match) continue
    const address = match[1]!.slice(0, 64)
    if (result.upstreams.length + result.skipped.length >= MAX_NAMESERVERS) break
    if (address.includes('%')) result.skipped.push({address, reason: 'a scoped link-local address'})
    else if (isIP(address) === 0) result.skipped.push({address, reason: 'not an IP address'})
    else if (ours(address)) result.skipped.push({address, reason: `this server (port ${options.port})`})
    else if (!result.upstreams.includes(address)) result.upstreams.push(address)
  }
  if (result.upstreams.length === 0 && result.skipped.length === 0)
    result.problem = `${options.file}: no nameserver line`
  return result
}

function ownAddresses(options: {bind: string; port: number; ipv6: boolean}): (address: string) => boolean {
  if (options.port !== 53) return () => false
  const wildcard = options.bind === '0.0.0.0' || options.bind === '::'
  const bound = new Set([options.bind, ...(options.ipv6 && options.bind === '127.0.0.1' ? ['::1'] : [])])
  if (!wildcard) return (address) => bound.has(normalise(address))
  const local = new Set(['0.0.0.0', '::'])
  for (const list of Object.values(networkInterfaces())) for (const entry of list ?? []) local.add(entry.address)
  return (address) => {
    const plain = normalise(address)
    const family = isIP(plain) === 6 ? 'v6' : 'v4'
    // `0.0.0.0` takes IPv4 only; `::` (or ipv6 on) takes both.
    if (options.bind === '0.0.0.0' && !options.ipv6 && family === 'v6') return false
    return local.has(plain) || isLoopback(plain)
  }
}

/** `::ffff:127.0.0.1` → `127.0.0.1`. */
function normalise(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return mapped ? mapped[1]! : address
}

export interface UpstreamChoice {
  upstreams: string[]
  /** `dns.upstreams`, or the resolv.conf read (and why it gave nothing). */
  origin: string
  skipped?: {address: string; reason: string}[]
}

/** `dns.upstreams` when set, else the nameservers of `dns.resolvConf` that are not this server itself. */
export function chooseUpstreams(
  config: Pick<DnsConfig, 'upstreams' | 'resolvConf' | 'bind' | 'port' | 'ipv6'>,
): UpstreamChoice {
  if (config.upstreams.length > 0) return {upstreams: [...config.upstreams], origin: 'dns.upstreams'}
  const system = systemResolvers({
    file: config.resolvConf,
    bind: config.bind,
    port: effectiveDnsPort(config.port),
    ipv6: config.ipv6,
  })
  const origin =
    system.problem ?? (system.upstreams.length > 0 ? system.file : `${system.file}: only this server listed`)
  return {upstreams: system.upstreams, origin, skipped: system.skipped}
}
