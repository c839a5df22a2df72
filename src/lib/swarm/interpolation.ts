/**
 * The `${VAR}` references `docker stack deploy` interpolates in a compose file, found before it
 * runs: the child gets only a minimal environment plus the stack's declared secrets, and a
 * reference to anything else (a typo such as `${DB_PASWORD}`, or homeops's own `${GITHUB_TOKEN}`)
 * is an error for that stack instead of a silently empty or leaked value. Follows the Compose
 * rules: `$$` is a literal `$`; `${VAR:-x}`, `${VAR-x}`, `${VAR:+x}`, `${VAR+x}` have a fallback;
 * `${VAR}`, `$VAR`, `${VAR:?msg}`, `${VAR?msg}` need VAR.
 */
export interface Reference {
  name: string
  /** A fallback applies when it is unset, so it need not be defined. */
  optional: boolean
}

const REFERENCE = /\$(?:\$|\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g
const BRACED = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])[\s\S]*)?$/

export function references(text: string): Reference[] {
  const out = new Map<string, Reference>()
  for (const match of text.matchAll(REFERENCE)) {
    let name: string | undefined
    let optional = false
    if (match[2] !== undefined) name = match[2]
    else if (match[1] !== undefined) {
      const braced = BRACED.exec(match[1])
      if (!braced) continue
      name = braced[1]
      optional = braced[2] !== undefined && !braced[2].endsWith('?')
    }
    if (!name) continue
    const seen = out.get(name)
    out.set(name, {name, optional: (seen?.optional ?? true) && optional})
  }
  return [...out.values()].sort((a, b) => a.name.localeCompare(b.name))
}

/** Names that must be defined but are not in `defined`. */
export function undefinedReferences(text: string, defined: ReadonlySet<string>): string[] {
  return references(text)
    .filter((r) => !r.optional && !defined.has(r.name))
    .map((r) => r.name)
}
