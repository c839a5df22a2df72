/**
 * A small declarative schema for the config file. One declaration per key
 * gives: validation with the path of every problem, the environment variables
 * that override it (an automatic `HOMEOPS_…` name plus the legacy names of the
 * original tools), whether it is a secret (masked in `config show`, accepts
 * `…File` / `*_FILE` / `$CREDENTIALS_DIRECTORY`), and the TypeScript type of the
 * loaded value. Hand-written rather than zod/ajv because the env and secret
 * rules and YAML line:column positions are the bulk of the work either way.
 */
import type {Validator} from './validators.js'
import {
  hostnameValidator,
  httpUrlProblem,
  ipAddressListProblem,
  ipAddressProblem,
  listenProblem,
  upstreamProblem,
} from './validators.js'

export type Path = readonly (string | number)[]

export interface Issue {
  path: Path
  message: string
  /** The issue is about a key itself (unknown key) rather than its value. */
  atKey?: boolean
  /** Overrides the file position, e.g. `environment variable API_KEY_FILE`. */
  where?: string
}

export interface FieldMeta {
  description?: string
  /** Extra environment variable names, e.g. the original tools' names. */
  env?: readonly string[]
  secret?: boolean
}

export interface DecodeContext {
  issues: Issue[]
  /** Reads a `…File` secret; returns undefined and records an issue on failure. */
  readSecretFile(path: Path, file: string): string | undefined
}

type Kind = 'string' | 'number' | 'boolean' | 'enum' | 'list' | 'array' | 'object' | 'map'

export interface Field<T> {
  readonly kind: Kind
  readonly meta: FieldMeta
  decode(raw: unknown, path: Path, ctx: DecodeContext): T
  /** Converts an environment variable's text into the raw value `decode` expects (scalars and lists only). */
  fromEnv?(text: string): unknown
}

export type Infer<F> = F extends Field<infer T> ? T : never

/** `dns.records."nas.home.lan"`: a free key (a map's) that is not a plain word is quoted, so the path reads one way. */
export function pathToString(path: Path): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else {
      const key = /^[A-Za-z_][\w-]*$/.test(part) ? part : JSON.stringify(part)
      out += out ? `.${key}` : key
    }
  }
  return out
}

function describe(raw: unknown): string {
  if (raw === null) return 'null'
  if (Array.isArray(raw)) return 'a list'
  if (typeof raw === 'object') return 'a mapping'
  if (typeof raw === 'string') return quote(raw)
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a scalar: objects returned above
  return `${typeof raw} ${String(raw)}`
}

/** A value quoted for a message, cut so a huge value cannot make a huge error. */
export function quote(text: string): string {
  return text.length > 100 ? `"${text.slice(0, 100)}…" (${text.length} characters)` : `"${text}"`
}

function fail<T>(ctx: DecodeContext, path: Path, message: string, fallback: T): T {
  ctx.issues.push({path, message})
  return fallback
}

// ---- scalars -------------------------------------------------------------

interface StringOptions extends FieldMeta {
  pattern?: RegExp
  /** Shown when `pattern` does not match: "expected <patternHint>". */
  patternHint?: string
  nonEmpty?: boolean
  /** Why the value cannot be used (with the expected form), or undefined. */
  validate?: Validator
}

export function str(options: StringOptions & {default: string}): Field<string>
export function str(options?: StringOptions): Field<string | undefined>
export function str(options: StringOptions & {default?: string} = {}): Field<string | undefined> {
  return {
    kind: 'string',
    meta: options,
    fromEnv: (text) => text,
    decode(raw, path, ctx) {
      if (raw === undefined || raw === null) return options.default
      if (typeof raw === 'number' || typeof raw === 'boolean') raw = String(raw)
      if (typeof raw !== 'string') return fail(ctx, path, `expected a string, got ${describe(raw)}`, options.default)
      if (options.nonEmpty && raw.trim() === '') return fail(ctx, path, 'must not be empty', options.default)
      if (options.pattern && !options.pattern.test(raw)) {
        return fail(
          ctx,
          path,
          `expected ${options.patternHint ?? `a value matching ${options.pattern}`}, got ${quote(raw)}`,
          options.default,
        )
      }
      const problem = options.validate?.(raw)
      if (problem) return fail(ctx, path, `${problem}, got ${quote(raw)}`, options.default)
      return raw
    },
  }
}

interface NumberOptions extends FieldMeta {
  min?: number
  max?: number
  integer?: boolean
  /** Shown with the bounds: `must be at most 604800 seconds (7 days)`. */
  unit?: 'ms' | 'seconds' | 'minutes' | 'hours' | 'days'
}

const UNIT_MS = {ms: 1, seconds: 1000, minutes: 60_000, hours: 3_600_000, days: 86_400_000} as const

function bound(value: number, unit: NumberOptions['unit']): string {
  if (!unit) return String(value)
  const ms = value * UNIT_MS[unit]
  const human =
    ms >= UNIT_MS.days && ms % UNIT_MS.days === 0
      ? `${ms / UNIT_MS.days} days`
      : ms >= UNIT_MS.hours && ms % UNIT_MS.hours === 0
        ? `${ms / UNIT_MS.hours} hours`
        : undefined
  return human && !human.startsWith(`${value} `) ? `${value} ${unit} (${human})` : `${value} ${unit}`
}

export function num(options: NumberOptions & {default: number}): Field<number>
export function num(options?: NumberOptions): Field<number | undefined>
export function num(options: NumberOptions & {default?: number} = {}): Field<number | undefined> {
  return {
    kind: 'number',
    meta: options,
    fromEnv: (text) => (text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text),
    decode(raw, path, ctx) {
      if (raw === undefined || raw === null) return options.default
      if (typeof raw !== 'number' || !Number.isFinite(raw)) {
        return fail(ctx, path, `expected a number, got ${describe(raw)}`, options.default)
      }
      if (options.integer && !Number.isInteger(raw))
        return fail(ctx, path, `expected a whole number, got ${raw}`, options.default)
      if (options.min !== undefined && raw < options.min)
        return fail(ctx, path, `must be at least ${options.min}, got ${raw}`, options.default)
      if (options.max !== undefined && raw > options.max)
        return fail(ctx, path, `must be at most ${bound(options.max, options.unit)}, got ${raw}`, options.default)
      return raw
    },
  }
}

const TRUE = new Set(['true', '1', 'yes', 'on'])
const FALSE = new Set(['false', '0', 'no', 'off'])

export function bool(options: FieldMeta & {default: boolean}): Field<boolean>
export function bool(options?: FieldMeta): Field<boolean | undefined>
export function bool(options: FieldMeta & {default?: boolean} = {}): Field<boolean | undefined> {
  return {
    kind: 'boolean',
    meta: options,
    fromEnv(text) {
      const t = text.trim().toLowerCase()
      if (TRUE.has(t)) return true
      if (FALSE.has(t)) return false
      return text
    },
    decode(raw, path, ctx) {
      if (raw === undefined || raw === null) return options.default
      if (typeof raw !== 'boolean')
        return fail(ctx, path, `expected true or false, got ${describe(raw)}`, options.default)
      return raw
    },
  }
}

export function oneOf<const V extends string>(values: readonly V[], options: FieldMeta & {default: V}): Field<V>
export function oneOf<const V extends string>(values: readonly V[], options?: FieldMeta): Field<V | undefined>
export function oneOf<const V extends string>(
  values: readonly V[],
  options: FieldMeta & {default?: V} = {},
): Field<V | undefined> {
  return {
    kind: 'enum',
    meta: options,
    fromEnv: (text) => text.trim(),
    decode(raw, path, ctx) {
      if (raw === undefined || raw === null) return options.default
      // Accept any case (`always`, `ALWAYS`) since the original tools differ.
      const match = typeof raw === 'string' ? values.find((v) => v.toLowerCase() === raw.toLowerCase()) : undefined
      if (match === undefined) {
        const guess = typeof raw === 'string' ? closest(raw, values) : undefined
        const hint = guess ? ` (did you mean "${guess}"?)` : ''
        return fail(ctx, path, `expected one of ${values.join(', ')}, got ${describe(raw)}${hint}`, options.default)
      }
      return match
    },
  }
}

/** A list of scalars: a YAML sequence, or a comma-separated string (env variables). */
export function list<T>(item: Field<T>, options: FieldMeta & {default?: T[]} = {}): Field<Exclude<T, undefined>[]> {
  return {
    kind: 'list',
    meta: options,
    fromEnv: (text) => text,
    decode(raw, path, ctx) {
      if (raw === undefined || raw === null) return [...(options.default ?? [])] as Exclude<T, undefined>[]
      const items =
        typeof raw === 'string'
          ? raw
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
              .map((s) => item.fromEnv?.(s) ?? s)
          : raw
      if (!Array.isArray(items)) return fail(ctx, path, `expected a list, got ${describe(raw)}`, [])
      const out: Exclude<T, undefined>[] = []
      items.forEach((value, i) => {
        const decoded = item.decode(value, [...path, i], ctx)
        if (decoded !== undefined) out.push(decoded as Exclude<T, undefined>)
      })
      return out
    },
  }
}

// ---- structures ----------------------------------------------------------

export interface ArrayField<T> extends Field<T[]> {
  readonly kind: 'array'
  readonly item: Field<T>
}

/** A list of mappings (records, notifiers, repositories). */
export function array<T>(item: Field<T>, options: FieldMeta = {}): ArrayField<T> {
  return {
    kind: 'array',
    meta: options,
    item,
    decode(raw, path, ctx) {
      if (raw === undefined || raw === null) return []
      if (!Array.isArray(raw)) return fail(ctx, path, `expected a list, got ${describe(raw)}`, [])
      return raw.map((value, i) => item.decode(value, [...path, i], ctx))
    },
  }
}

export type Shape = Record<string, Field<unknown>>
export type InferShape<S extends Shape> = {[K in keyof S]: Infer<S[K]>}

export interface ObjectField<S extends Shape> extends Field<InferShape<S>> {
  readonly kind: 'object'
  readonly shape: S
}

export function obj<S extends Shape>(shape: S, options: FieldMeta = {}): ObjectField<S> {
  return {
    kind: 'object',
    meta: options,
    shape,
    decode(raw, path, ctx) {
      const input: Record<string, unknown> =
        raw === undefined || raw === null
          ? {}
          : isPlainObject(raw)
            ? raw
            : fail(ctx, path, `expected a mapping, got ${describe(raw)}`, {})
      const known = Object.keys(shape)
      for (const key of Object.keys(input)) {
        if (key in shape) continue
        const base = key.endsWith('File') ? key.slice(0, -'File'.length) : undefined
        if (base && shape[base]?.meta.secret) continue
        ctx.issues.push({path: [...path, key], atKey: true, message: unknownKeyMessage(key, known)})
      }
      const out: Record<string, unknown> = {}
      for (const [key, field] of Object.entries(shape)) {
        let value = input[key]
        const fileKey = `${key}File`
        if (field.meta.secret && value === undefined && typeof input[fileKey] === 'string') {
          value = ctx.readSecretFile([...path, fileKey], input[fileKey])
        }
        out[key] = field.decode(value, [...path, key], ctx)
      }
      return out as InferShape<S>
    },
  }
}

export interface MapOptions<T> extends FieldMeta {
  /** Checks the decoded mapping as a whole (keys, references between entries); returns its problems. */
  validate?: (entries: Record<string, T>) => {key: string; message: string; atKey?: boolean}[]
}

/** A mapping with free keys (e.g. static DNS records `name: ip`). */
export function map<T>(value: Field<T>, options: MapOptions<T> = {}): Field<Record<string, T>> {
  return {
    kind: 'map',
    meta: options,
    decode(raw, path, ctx) {
      if (raw === undefined || raw === null) return {}
      if (!isPlainObject(raw)) return fail(ctx, path, `expected a mapping, got ${describe(raw)}`, {})
      const out: Record<string, T> = {}
      const before = ctx.issues.length
      for (const [k, v] of Object.entries(raw)) out[k] = value.decode(v, [...path, k], ctx)
      if (options.validate && ctx.issues.length === before) {
        for (const problem of options.validate(out)) {
          ctx.issues.push({path: [...path, problem.key], message: problem.message, atKey: problem.atKey})
        }
      }
      return out
    },
  }
}

// ---- typed strings -------------------------------------------------------

type TypedStringOptions = Omit<StringOptions, 'validate' | 'pattern' | 'patternHint'>

/** An IP address literal (`dns.bind`). */
export function ip(options: TypedStringOptions & {default: string}): Field<string>
export function ip(options?: TypedStringOptions): Field<string | undefined>
export function ip(options: TypedStringOptions & {default?: string} = {}): Field<string | undefined> {
  return str({...options, validate: ipAddressProblem})
}

/** One IP address or several separated by commas (`HOSTIP`). */
export function ipList(options: TypedStringOptions = {}): Field<string | undefined> {
  return str({...options, validate: ipAddressListProblem})
}

/** A listen address `HOST:PORT` (`serve.listen`, `monitor.listen`, …). */
export function listen(options: TypedStringOptions & {default: string}): Field<string>
export function listen(options?: TypedStringOptions): Field<string | undefined>
export function listen(options: TypedStringOptions & {default?: string} = {}): Field<string | undefined> {
  return str({...options, validate: listenProblem})
}

/** A DNS host name (`dns.zones` items). */
export function hostname(options: TypedStringOptions = {}): Field<string | undefined> {
  return str({...options, validate: hostnameValidator})
}

/** An `http://` or `https://` URL (not for secrets: a bad value is quoted in the message). */
export function httpUrl(options: TypedStringOptions & {default: string}): Field<string>
export function httpUrl(options?: TypedStringOptions): Field<string | undefined>
export function httpUrl(options: TypedStringOptions & {default?: string} = {}): Field<string | undefined> {
  return str({...options, validate: httpUrlProblem})
}

/** A DNS resolver address `IP[:PORT]` (`dns.upstreams` items). */
export function upstream(options: TypedStringOptions = {}): Field<string | undefined> {
  return str({...options, validate: upstreamProblem})
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// ---- "did you mean" ------------------------------------------------------

export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const guess = closest(key, known)
  const hint = guess ? ` (did you mean "${guess}"?)` : known.length > 0 ? ` (expected one of: ${known.join(', ')})` : ''
  return `unknown key "${key}"${hint}`
}

/** The candidate the user most likely meant: a small edit away, or a shared prefix (`intervall` → `intervalSeconds`). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase()
  let best: string | undefined
  let bestScore = Infinity
  for (const candidate of candidates) {
    const c = candidate.toLowerCase()
    const distance = editDistance(lower, c)
    const tolerance = Math.max(2, Math.floor(word.length / 3))
    const prefix = commonPrefix(lower, c)
    const score =
      distance <= tolerance
        ? distance
        : prefix >= 5 || (prefix >= 3 && prefix >= lower.length - 1)
          ? tolerance + 1
          : Infinity
    if (score < bestScore) {
      best = candidate
      bestScore = score
    }
  }
  return best
}

function commonPrefix(a: string, b: string): number {
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  return i
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost)
    }
    previous = current
  }
  return previous[b.length]!
}
