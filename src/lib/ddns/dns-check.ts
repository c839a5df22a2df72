import type {Family} from './address.js'
import {canonicalIPv6} from '../net/ipv6.js'

export interface DnsCheckOptions {
  /** `IP` or `IP:port` (`[v6]:port`); the system resolver when absent. */
  resolver?: string
  timeoutMs: number
  signal?: AbortSignal
}

/**
 * Whether `hostname` resolves to `ip` now: asked after an update whose outcome was unknown (a timeout), so the
 * next run does not resend what the provider already holds. Any failure means "not known to hold it" (send).
 */
export async function recordHolds(
  hostname: string,
  family: Family,
  ip: string,
  options: DnsCheckOptions,
): Promise<boolean> {
  if (options.signal?.aborted) return false
  const {Resolver} = await import('node:dns/promises')
  const resolver = new Resolver({timeout: options.timeoutMs, tries: 1})
  if (options.resolver) resolver.setServers([options.resolver])
  const onAbort = () => resolver.cancel()
  options.signal?.addEventListener('abort', onAbort, {once: true})
  try {
    const answers = family === 4 ? await resolver.resolve4(hostname) : await resolver.resolve6(hostname)
    const wanted = family === 6 ? canonicalIPv6(ip) : ip
    return answers.some((a) => (family === 6 ? canonicalIPv6(a) : a) === wanted)
  } catch {
    return false
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
}
