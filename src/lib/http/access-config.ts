import {type Field, type FieldMeta, list, str} from '../config/schema.js'
import {CIDR_EXAMPLES, parseCidr} from '../net/cidr.js'

/** Every API key homeops accepts (config, environment, `/settings`) is at least this long. */
export const MIN_API_KEY_LENGTH = 16

/** Why `key` is not acceptable as an API key, or undefined. Never quotes the key. */
export function apiKeyProblem(key: string): string | undefined {
  if (/\s/.test(key)) return 'an API key must not contain spaces'
  if (key.length < MIN_API_KEY_LENGTH) {
    return `an API key must be at least ${MIN_API_KEY_LENGTH} characters (this one has ${key.length}); generate one with: openssl rand -base64 24`
  }
  return undefined
}

/** A secret API key setting (`serve.apiKey`, `monitor.apiKey`): min length checked at load, with the key's place. */
export function apiKeyField(meta: FieldMeta): Field<string | undefined> {
  const base = str({...meta, secret: true})
  return {
    ...base,
    decode(raw, path, ctx) {
      const value = base.decode(raw, path, ctx)
      if (value === undefined || value === '') return undefined
      const problem = apiKeyProblem(value)
      if (problem) {
        ctx.issues.push({path, message: problem})
        return undefined
      }
      return value
    },
  }
}

/** A list of CIDR ranges (`serve.allowedIps`, `ALLOWED_IPS`): each item checked by the one strict parser. */
export function cidrListField(options: FieldMeta & {default?: string[]}): Field<string[]> {
  const base = str()
  const item: Field<string | undefined> = {
    ...base,
    decode(raw, path, ctx) {
      const value = base.decode(raw, path, ctx)
      if (value === undefined) return undefined
      const parsed = parseCidr(value)
      if (!parsed.ok) {
        ctx.issues.push({
          path,
          message: `"${value}" is not an address or CIDR range: ${parsed.reason} (${CIDR_EXAMPLES})`,
        })
        return undefined
      }
      return value.trim()
    },
  }
  return list(item, options)
}

const HOST_PATTERN =
  /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?(:\d{1,5})?$/i

/** Why `value` is not a host name for `serve.allowedHosts`, or undefined. */
export function hostNameProblem(value: string): string | undefined {
  if (value.length > 260 || !HOST_PATTERN.test(value)) {
    return `"${value}" is not a host name (e.g. homelab.example, *.home.arpa, homelab.example:8443)`
  }
  const port = /:(\d+)$/.exec(value)?.[1]
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return `"${value}": port out of range`
  return undefined
}

/** `serve.allowedHosts`: the names this server is reached by (Host header allow-list). */
export function hostListField(options: FieldMeta): Field<string[]> {
  const base = str()
  const item: Field<string | undefined> = {
    ...base,
    decode(raw, path, ctx) {
      const value = base.decode(raw, path, ctx)
      if (value === undefined) return undefined
      const problem = hostNameProblem(value.trim())
      if (problem) {
        ctx.issues.push({path, message: problem})
        return undefined
      }
      return value.trim().toLowerCase()
    },
  }
  return list(item, options)
}

/** The names `serve.allowedHosts` lists, plus the host of `images.publicUrl` (apply links are opened there). */
export function configuredHosts(config: {serve: {allowedHosts: string[]}; images: {publicUrl?: string}}): string[] {
  const hosts = [...config.serve.allowedHosts]
  const publicUrl = config.images.publicUrl
  if (publicUrl) {
    try {
      hosts.push(new URL(publicUrl).host)
    } catch {
      // Validated elsewhere; an unparsable URL adds no name.
    }
  }
  return hosts
}
