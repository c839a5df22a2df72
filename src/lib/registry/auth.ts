/**
 * `WWW-Authenticate` challenges (RFC 7235 syntax) as registries send them:
 * `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"`
 * or `Basic realm="Registry"`. Nothing about a registry's auth server is
 * hard-coded: realm, service and scope come from here.
 */
export interface AuthChallenge {
  /** Lower-cased: `bearer`, `basic` or whatever else a registry sends. */
  scheme: string
  params: Record<string, string>
}

export function parseWwwAuthenticate(header: string | string[] | undefined): AuthChallenge[] {
  if (header === undefined) return []
  const text = Array.isArray(header) ? header.join(', ') : header
  const challenges: AuthChallenge[] = []
  let i = 0
  const n = text.length
  const skipSpace = () => {
    while (i < n && /[\s,]/.test(text[i]!)) i++
  }
  const readToken = () => {
    const start = i
    while (i < n && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(text[i]!)) i++
    return text.slice(start, i)
  }
  let current: AuthChallenge | undefined
  while (i < n) {
    skipSpace()
    const word = readToken()
    if (word === '') {
      i++
      continue
    }
    let j = i
    while (j < n && text[j] === ' ') j++
    if (text[j] === '=' && current && text[j + 1] !== '=') {
      // key=value (value: token or quoted-string)
      i = j + 1
      while (i < n && text[i] === ' ') i++
      let value = ''
      if (text[i] === '"') {
        i++
        while (i < n && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < n) i++
          value += text[i]
          i++
        }
        i++
      } else {
        const start = i
        while (i < n && text[i] !== ',' && text[i] !== ' ') i++
        value = text.slice(start, i)
      }
      current.params[word.toLowerCase()] = value
    } else {
      // A new scheme (registries never send token68 credentials in a challenge).
      current = {scheme: word.toLowerCase(), params: {}}
      challenges.push(current)
      i = j
    }
  }
  return challenges
}

/** `Retry-After` in seconds or as an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - now)
}

/** `ratelimit-remaining: 97;w=21600` (Docker Hub) → `{remaining: 97, windowSeconds: 21600}`. */
export function parseRateLimit(value: string | undefined): {remaining: number; windowSeconds?: number} | undefined {
  if (!value) return undefined
  const match = /^\s*(\d+)(?:\s*;\s*w=(\d+))?/.exec(value)
  if (!match) return undefined
  return {remaining: Number(match[1]), windowSeconds: match[2] ? Number(match[2]) : undefined}
}

/** Next-page URL from a `Link: </v2/…/tags/list?n=100&last=x>; rel="next"` header, resolved against `base`. */
export function nextLink(header: string | string[] | undefined, base: string): string | undefined {
  if (!header) return undefined
  const text = Array.isArray(header) ? header.join(', ') : header
  for (const part of text.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>\s*(.*)$/.exec(part)
    if (!match) continue
    if (!/;\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?/i.test(match[2]!)) continue
    try {
      return new URL(match[1]!, base).toString()
    } catch {
      return undefined
    }
  }
  return undefined
}
