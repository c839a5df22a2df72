import {type AllowList, parseAllowList} from './access.js'

/**
 * An allow-list read from a config value that a reload may change: parsed
 * again only when the entries changed, undefined when there are none (no
 * address restriction). A bad entry throws the `UserError` naming `setting`.
 */
export function configAllowList(entries: () => readonly string[], setting: string): () => AllowList | undefined {
  let cached: {key: string; list: AllowList | undefined} | undefined
  return () => {
    const current = entries()
    const key = current.join(',')
    if (cached?.key !== key) cached = {key, list: current.length > 0 ? parseAllowList(current, setting) : undefined}
    return cached.list
  }
}
