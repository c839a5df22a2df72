import {join} from 'node:path'

import {FILE_LIMITS, FileReadError, readBoundedText} from '../fs/read-file.js'
import {type Field, type Issue, type ObjectField, type Path, type Shape, isPlainObject, pathToString} from './schema.js'

/** Where a config value came from, for error messages and `config show --sources`. */
export type ValueSource = {kind: 'env'; name: string} | {kind: 'file'; name: string; file: string}

export interface EnvOverlayResult {
  /** Keyed by `pathToString(path)`. */
  sources: Map<string, ValueSource>
  issues: Issue[]
  /** Secret values read, so the logger can redact them. */
  secrets: string[]
}

/**
 * The naming rule of the automatic variables: `HOMEOPS_` + the key path, each
 * key in upper snake case (`['ddns', 'intervalSeconds']` →
 * `HOMEOPS_DDNS_INTERVAL_SECONDS`). This is the documented name.
 */
export function autoEnvName(path: Path): string {
  return envName(path, (key) => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2'))
}

/**
 * The same path with each key as written, upper-cased (`HOMEOPS_SWARM_PULLPOLICY`):
 * accepted beside the snake-case name, so neither spelling is ignored.
 */
export function compactEnvName(path: Path): string {
  return envName(path, (key) => key)
}

function envName(path: Path, spell: (key: string) => string): string {
  return (
    'HOMEOPS_' +
    path
      .map((p) => spell(String(p)).replace(/[^A-Za-z0-9]+/g, '_'))
      .join('_')
      .toUpperCase()
  )
}

/** Every name a key answers to, the documented one first: snake case, the key as written, then `env:` names. */
export function envNamesFor(path: Path, field: Field<unknown>): string[] {
  return [...new Set([autoEnvName(path), compactEnvName(path), ...(field.meta.env ?? [])])]
}

/** One key overridable from the environment: its path, field and every variable name (`…_FILE` for secrets). */
export interface EnvKey {
  path: Path
  field: Field<unknown>
  names: string[]
}

/** Every key of the schema that an environment variable can set, in schema order. */
export function envKeys(root: ObjectField<Shape>): EnvKey[] {
  const keys: EnvKey[] = []
  const visit = (field: ObjectField<Shape>, path: Path) => {
    for (const [key, child] of Object.entries(field.shape)) {
      const childPath = [...path, key]
      if (child.kind === 'object') visit(child as ObjectField<Shape>, childPath)
      else if (child.fromEnv) keys.push({path: childPath, field: child, names: envNamesFor(childPath, child)})
    }
  }
  visit(root, [])
  return keys
}

/**
 * Applies environment overrides onto the raw (parsed YAML) config in place.
 * Only keys outside lists can be overridden this way; list-valued areas (ddns
 * records) add their own legacy variables in their config module.
 */
export function applyEnvOverlay(
  root: ObjectField<Shape>,
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): EnvOverlayResult {
  const result: EnvOverlayResult = {sources: new Map(), issues: [], secrets: []}
  walk(root, raw, [], env, result)
  return result
}

function walk(
  field: ObjectField<Shape>,
  raw: Record<string, unknown>,
  path: Path,
  env: NodeJS.ProcessEnv,
  result: EnvOverlayResult,
): void {
  for (const [key, child] of Object.entries(field.shape)) {
    const childPath = [...path, key]
    if (child.kind === 'object') {
      const existing = raw[key]
      const nested = isPlainObject(existing) ? existing : {}
      walk(child as ObjectField<Shape>, nested, childPath, env, result)
      if (existing === undefined && Object.keys(nested).length > 0) raw[key] = nested
      continue
    }
    if (!child.fromEnv) continue
    const found = readEnvValue(childPath, child, env, result)
    if (found === undefined) continue
    // The environment wins over both `key` and `keyFile` in the file: decode reads `keyFile` only when `key` is unset.
    raw[key] = child.fromEnv(found.text)
    result.sources.set(pathToString(childPath), {kind: 'env', name: found.name})
    if (child.meta.secret) result.secrets.push(found.text)
  }
}

function readEnvValue(
  path: Path,
  field: Field<unknown>,
  env: NodeJS.ProcessEnv,
  result: EnvOverlayResult,
): {name: string; text: string} | undefined {
  for (const name of envNamesFor(path, field)) {
    const direct = env[name]
    if (direct !== undefined && direct !== '') return {name, text: direct}
    if (!field.meta.secret) continue
    const fileVar = `${name}_FILE`
    const file = env[fileVar]
    if (file) {
      const text = readSecretFile(file, (message) =>
        result.issues.push({
          path,
          where: `environment variable ${fileVar}`,
          message: `cannot read ${file}: ${message}`,
        }),
      )
      return text === undefined ? undefined : {name: fileVar, text}
    }
    const credentials = env.CREDENTIALS_DIRECTORY
    if (credentials) {
      const file = join(credentials, name)
      let missing = false
      const text = readSecretFile(
        file,
        (message) =>
          result.issues.push({
            path,
            where: `$CREDENTIALS_DIRECTORY/${name}`,
            message: `cannot read ${file}: ${message}`,
          }),
        () => (missing = true),
      )
      if (text !== undefined) return {name: `$CREDENTIALS_DIRECTORY/${name}`, text}
      if (!missing) return undefined
    }
  }
  return undefined
}

/**
 * Reads a secret from a file, dropping one trailing newline (as `echo` writes
 * it): a regular file of at most 64 KiB (a FIFO or `/dev/zero` is refused, not
 * waited on). `onMissing`, when given, takes a missing file instead of `onError`.
 */
export function readSecretFile(
  file: string,
  onError: (message: string) => void,
  onMissing?: () => void,
): string | undefined {
  try {
    return readBoundedText(file, {maxBytes: FILE_LIMITS.secret}).replace(/\r?\n$/, '')
  } catch (error) {
    if (!(error instanceof FileReadError)) throw error
    if (error.code === 'ENOENT' && onMissing) onMissing()
    else onError(error.reason)
    return undefined
  }
}
