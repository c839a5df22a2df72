import {createRequire} from 'node:module'
import type {Document, LineCounter, Node as YamlNode} from 'yaml'

import {UserError} from '../errors.js'
import {FILE_LIMITS, FileReadError, formatBytes, readBoundedText} from '../fs/read-file.js'
import {registerSecret} from '../log/redact.js'
import {defaultConfigPath} from '../paths.js'
import {type HomeopsConfig, configSchema} from './root-schema.js'
import {type ValueSource, applyEnvOverlay, readSecretFile} from './env.js'
import {
  type ArrayField,
  type Field,
  type Issue,
  type ObjectField,
  type Path,
  type Shape,
  isPlainObject,
  pathToString,
} from './schema.js'

export interface LoadOptions {
  /** `--config`; wins over `$HOMEOPS_CONFIG`. */
  path?: string
  env?: NodeJS.ProcessEnv
  isRoot?: boolean
}

export interface LoadedConfig {
  config: HomeopsConfig
  /** The file read, or undefined when none exists at the default location. */
  file?: string
  sources: Map<string, ValueSource>
}

export interface ConfigProblem {
  /** `file:line:column`, `environment variable NAME`, or the file alone. */
  where: string
  path: string
  message: string
}

/** An invalid configuration: every problem, each with its place. Exit 2. */
export class ConfigError extends UserError {
  readonly problems: ConfigProblem[]

  constructor(problems: ConfigProblem[], hint?: string) {
    super(problems.map(formatProblem).join('\n'), {hint})
    this.problems = problems
  }
}

function formatProblem(p: ConfigProblem): string {
  return p.path ? `${p.where}: ${p.path}: ${p.message}` : `${p.where}: ${p.message}`
}

export function resolveConfigPath(options: LoadOptions): {path: string; explicit: boolean} {
  const env = options.env ?? process.env
  if (options.path) return {path: options.path, explicit: true}
  if (env.HOMEOPS_CONFIG) return {path: env.HOMEOPS_CONFIG, explicit: true}
  return {path: defaultConfigPath(env, options.isRoot ?? process.getuid?.() === 0), explicit: false}
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env
  const {path, explicit} = resolveConfigPath(options)
  const text = readConfigText(path, explicit)
  // yaml costs ~70-200 ms to load: only when there is a file (an env-only setup, e.g. a systemd unit, skips it).
  const yaml = text === undefined ? undefined : loadYaml()
  const lineCounter = yaml ? new yaml.LineCounter() : undefined
  const doc = yaml && text !== undefined ? parseYaml(yaml, text, path, lineCounter!) : undefined

  if (doc && doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({
        where: e.linePos ? `${path}:${e.linePos[0].line}:${e.linePos[0].col}` : path,
        path: '',
        message: `malformed YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
      'fix the YAML syntax at that position (indent with spaces, `key: value` pairs)',
    )
  }
  const duplicates = doc ? duplicateKeys(doc) : []
  if (duplicates.length > 0) {
    throw new ConfigError(
      duplicates.map(({offset, key}) => {
        const {line, col} = lineCounter!.linePos(offset)
        return {where: `${path}:${line}:${col}`, path: '', message: `duplicate key "${key}" in the same mapping`}
      }),
      'a key may appear once per mapping: remove or merge the repeated one',
    )
  }

  const parsed: unknown = doc ? toPlain(doc, path) : {}
  if (parsed !== null && parsed !== undefined && !isPlainObject(parsed)) {
    throw new ConfigError([{where: path, path: '', message: 'expected a mapping of settings at the top level'}])
  }
  const raw: Record<string, unknown> = isPlainObject(parsed) ? parsed : {}

  const overlay = applyEnvOverlay(configSchema, raw, env)
  const issues: Issue[] = [...overlay.issues]
  const config = configSchema.decode(raw, [], {
    issues,
    readSecretFile: (at, file) =>
      readSecretFile(file, (message) => issues.push({path: at, message: `cannot read ${file}: ${message}`})),
  })

  if (issues.length > 0) {
    throw new ConfigError(
      issues.map((issue) => ({
        where: whereIs(issue, path, doc, lineCounter, overlay.sources),
        path: pathToString(issue.path),
        message: issue.message,
      })),
      'run `homeops config validate` after fixing; keys are listed in docs/configuration.md and docs/environment.md',
    )
  }

  for (const secret of [...overlay.secrets, ...collectSecrets(configSchema, config)])
    registerSecret(secret, {pinned: true})
  return {config, file: text === undefined ? undefined : path, sources: overlay.sources}
}

function readConfigText(path: string, explicit: boolean): string | undefined {
  try {
    return readBoundedText(path, {maxBytes: FILE_LIMITS.config})
  } catch (error) {
    if (!(error instanceof FileReadError)) throw error
    if (error.code === 'ENOENT' && !explicit) return undefined
    if (error.code === 'ENOENT') {
      throw new UserError(`config file ${path} does not exist`, {hint: 'check --config / $HOMEOPS_CONFIG'})
    }
    if (error.code === 'EACCES' || error.code === 'EPERM') {
      throw new UserError(`config file ${path} is not readable by this user`, {
        hint: 'run with sudo or fix its permissions',
      })
    }
    if (error.code === 'EISDIR') throw new UserError(`config path ${path} is a directory, expected a YAML file`)
    if (error.code === 'EFBIG') {
      throw new UserError(`config file ${path} ${error.reason}`, {
        hint: `a homeops config is a few KiB; the limit is ${formatBytes(FILE_LIMITS.config)}`,
      })
    }
    throw new UserError(`cannot read config file ${path}: ${error.reason}`)
  }
}

/**
 * The YAML library's own `uniqueKeys` check compares every key with every
 * other (a 1 MB file took 29 s): keys are checked in one pass by
 * `duplicateKeys` instead. Pathological nesting that exhausts the parser's
 * stack is a config error, not a crash.
 */
function parseYaml(yaml: typeof import('yaml'), text: string, path: string, lineCounter: LineCounter): Document {
  try {
    return yaml.parseDocument(text, {lineCounter, uniqueKeys: false})
  } catch (error) {
    if (error instanceof RangeError) {
      throw new ConfigError([{where: path, path: '', message: 'malformed YAML: nested too deeply'}])
    }
    throw error
  }
}

/** Keys repeated within one mapping, each at its second occurrence. Linear in the size of the document. */
function duplicateKeys(doc: Document): {offset: number; key: string}[] {
  const {isMap, isSeq, isPair, isScalar} = loadYaml()
  const found: {offset: number; key: string}[] = []
  const stack: unknown[] = [doc.contents]
  while (stack.length > 0) {
    const node = stack.pop()
    if (isMap(node)) {
      const seen = new Set<string>()
      for (const pair of node.items) {
        if (!isPair(pair)) continue
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key)
        if (seen.has(key)) found.push({offset: rangeStart(pair.key) ?? 0, key: key.slice(0, 80)})
        else seen.add(key)
        stack.push(pair.value)
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(item)
    }
  }
  return found.sort((a, b) => a.offset - b.offset).slice(0, 20)
}

/** `toJS` with alias expansion bounded (a "billion laughs" file): an error naming the file, exit 2. */
function toPlain(doc: Document, path: string): unknown {
  try {
    return doc.toJS({maxAliasCount: 100})
  } catch (error) {
    if (error instanceof ReferenceError && /excessive alias count/i.test(error.message)) {
      throw new ConfigError(
        [{where: path, path: '', message: 'too many alias expansions (a "billion laughs" file?)'}],
        'expand the aliases (*name) by hand, or use fewer of them',
      )
    }
    if (error instanceof RangeError) {
      throw new ConfigError([{where: path, path: '', message: 'malformed YAML: nested too deeply'}])
    }
    throw error
  }
}

function loadYaml(): typeof import('yaml') {
  return createRequire(import.meta.url)('yaml') as typeof import('yaml')
}

function whereIs(
  issue: Issue,
  file: string,
  doc: Document | undefined,
  lineCounter: LineCounter | undefined,
  sources: Map<string, ValueSource>,
): string {
  if (issue.where) return issue.where
  for (let n = issue.path.length; n > 0; n--) {
    const source = sources.get(pathToString(issue.path.slice(0, n)))
    if (source) return `environment variable ${source.name}`
  }
  const offset = doc ? locate(doc, issue.path, issue.atKey ?? false) : undefined
  if (offset === undefined || !lineCounter) return file
  const {line, col} = lineCounter.linePos(offset)
  return `${file}:${line}:${col}`
}

/** Start offset of the deepest YAML node along `path` (the key itself when `atKey`). */
function locate(doc: Document, path: Path, atKey: boolean): number | undefined {
  const {isMap, isSeq, isScalar} = loadYaml()
  let node: unknown = doc.contents
  let offset = rangeStart(node)
  for (const [i, segment] of path.entries()) {
    const last = i === path.length - 1
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(segment))
      if (!pair) break
      if (last && atKey) return rangeStart(pair.key) ?? offset
      node = pair.value
      offset = rangeStart(node) ?? rangeStart(pair.key) ?? offset
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment]
      offset = rangeStart(node) ?? offset
    } else {
      break
    }
  }
  return offset
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as YamlNode | null | undefined)?.range
  return range ? range[0] : undefined
}

// ---- walking the decoded config along the schema -------------------------

function visitSecrets(field: Field<unknown>, value: unknown, replace: (secret: string) => unknown): unknown {
  if (field.meta.secret) return typeof value === 'string' && value !== '' ? replace(value) : value
  if (field.kind === 'object' && isPlainObject(value)) {
    const shape = (field as ObjectField<Shape>).shape
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = shape[k] ? visitSecrets(shape[k], v, replace) : v
    return out
  }
  if (field.kind === 'array' && Array.isArray(value)) {
    const {item} = field as ArrayField<unknown>
    return value.map((v) => visitSecrets(item, v, replace))
  }
  return value
}

export function collectSecrets(field: Field<unknown>, value: unknown): string[] {
  const found: string[] = []
  visitSecrets(field, value, (secret) => found.push(secret))
  return found
}

/** The config with every secret replaced by a mask, for `config show`. */
export function maskSecrets(config: HomeopsConfig): HomeopsConfig {
  return visitSecrets(configSchema, config, () => '********') as HomeopsConfig
}
