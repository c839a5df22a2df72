import {OperationError} from '../errors.js'
import {cidrMatcher, isLoopback, parseCidr} from '../net/cidr.js'

type Env = Record<string, string | undefined>

/**
 * The forward proxy a request to `url` goes through, from the environment, as curl, ddclient's users and
 * What's Up Docker's users expect: `https_proxy`/`HTTPS_PROXY` for https: URLs, `http_proxy`/`HTTP_PROXY`
 * for http: URLs, `all_proxy`/`ALL_PROXY` for either (lowercase first when both are set). `no_proxy`/
 * `NO_PROXY` lists destinations reached directly: `*`, a host name (its subdomains too, with or without a
 * leading `.` or `*.`), `host:port`, an IP address or a CIDR range. Loopback destinations are never
 * proxied (as Go, hence Docker, decides): a proxy cannot reach this host's 127.0.0.1.
 */
export function proxyFor(url: URL, env: Env = process.env): URL | undefined {
  const scheme = url.protocol === 'https:' ? 'https' : 'http'
  const found = pick(env, `${scheme}_proxy`) ?? pick(env, 'all_proxy')
  if (!found) return undefined
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (host === 'localhost' || host.endsWith('.localhost') || isLoopback(host)) return undefined
  if (bypassed(host, url.port || (scheme === 'https' ? '443' : '80'), pick(env, 'no_proxy')?.value ?? ''))
    return undefined
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(found.value) ? found.value : `http://${found.value}`
  let proxy: URL
  try {
    proxy = new URL(text)
  } catch {
    throw new OperationError(`${found.name} is not a valid proxy URL`, {
      hint: `set ${found.name} to http://host:port (optionally http://user:password@host:port)`,
    })
  }
  if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
    throw new OperationError(
      `${found.name} names a ${proxy.protocol.slice(0, -1)} proxy; only http(s) proxies are supported`,
      {
        hint: `set ${found.name} to http://host:port`,
      },
    )
  }
  return proxy
}

function pick(env: Env, lower: string): {name: string; value: string} | undefined {
  for (const name of [lower, lower.toUpperCase()]) {
    const value = env[name]?.trim()
    if (value) return {name, value}
  }
  return undefined
}

function bypassed(host: string, port: string, noProxy: string): boolean {
  for (const raw of noProxy.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase()
    if (!entry) continue
    if (entry === '*') return true
    // `host:port` (an IPv6 entry has brackets when it carries a port).
    const withPort = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry)
    if (withPort) {
      if (withPort[2] !== port) continue
      entry = withPort[1]!
    }
    entry = entry.replace(/^\[|\]$/g, '')
    const range = parseCidr(entry)
    if (range.ok) {
      if (cidrMatcher([range.cidr]).allows(host)) return true
      continue
    }
    const name = entry.replace(/^\*?\./, '')
    if (host === name || host.endsWith(`.${name}`)) return true
  }
  return false
}
