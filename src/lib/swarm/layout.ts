import {existsSync, lstatSync, readFileSync, realpathSync, statSync} from 'node:fs'
import {basename, dirname, isAbsolute, join, normalize, relative, sep} from 'node:path'
import {LineCounter, parseDocument} from 'yaml'

import {UserError, errnoCode, errorMessage} from '../errors.js'

/**
 * The repository layout of docs/architecture.md "swarm", read and checked before anything
 * runs: `stacks.yaml`, one folder per stack with its compose file, optional
 * `volumes.yaml` + `nfs.yaml`, optional per-stack `secrets.yaml`. Every
 * problem names the file (relative to the repository), its line and column
 * when it is a YAML problem, and the entry.
 */
export const COMPOSE_FILE_NAMES = ['docker-compose.yml', 'docker-compose.yaml', 'compose.yml', 'compose.yaml'] as const

/** What Docker accepts as a stack name (it prefixes service, network and volume names). */
export const STACK_NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9_-]{0,48}[a-zA-Z0-9])?$/
const SECRET_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const VOLUME_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/

export interface VolumeEntry {
  id: string
  type: 'volume' | 'binding'
  /** Relative path, normalised (`config/app`), inside the repository and the NFS root. */
  path?: string
}

export interface SecretEntry {
  id: string
  env: string
}

export interface StackLayout {
  name: string
  /** Folder of the stack, absolute. */
  dir: string
  /** Compose file, absolute, or undefined when the folder has none (reported as that stack's error). */
  composeFile?: string
  /** Problem found for this stack only (it fails, the others go on). */
  error?: string
  secrets: SecretEntry[]
}

export interface RepositoryLayout {
  root: string
  /** Prefix of its Docker volume names: the repository's name (the clone folder's name when unset). */
  namespace?: string
  /** volumes.yaml ids (without path) whose Docker volume an older homeops created under the bare id. */
  legacyVolumes?: string[]
  stacks: StackLayout[]
  volumes: VolumeEntry[]
  nfs?: {path: string}
  /** Raw text of volumes.yaml and nfs.yaml (part of every stack's hash). */
  volumesText: string
  nfsText: string
}

/** Problem with a repository file: `repo-file:line:col: message`. */
export class LayoutError extends UserError {}

interface Located {
  value: unknown
  /** line:column of the n-th item of a top-level sequence, for messages. */
  itemPosition(index: number): string
}

export function readYaml(root: string, file: string, display = file): Located {
  const path = join(root, file)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new LayoutError(`${display}: cannot read: ${errorMessage(error)}`)
  }
  return parseYamlText(text, display)
}

export function parseYamlText(text: string, display: string): Located {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {lineCounter, uniqueKeys: true, prettyErrors: true})
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!
    const where = e.linePos ? `${display}:${e.linePos[0].line}:${e.linePos[0].col}` : display
    const message = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
    throw new LayoutError(`${where}: malformed YAML: ${message}`, {
      hint: 'fix the YAML syntax at that position (indent with spaces, `key: value` pairs)',
    })
  }
  const contents = doc.contents as {items?: {range?: [number, number, number]}[]} | null
  return {
    value: doc.toJS(),
    itemPosition(index) {
      const range = contents?.items?.[index]?.range
      if (!range) return display
      const pos = lineCounter.linePos(range[0])
      return `${display}:${pos.line}:${pos.col}`
    },
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A top-level list, also accepted under a key of the same name (`stacks: [...]`). */
function topList(located: Located, key: string, display: string): unknown[] {
  let value = located.value
  if (value === null || value === undefined) return []
  if (isRecord(value) && Array.isArray(value[key])) value = value[key]
  if (!Array.isArray(value))
    throw new LayoutError(`${display}: expected a list of entries (\`- ${key === 'stacks' ? 'name: web' : 'id: …'}\`)`)
  return value
}

/**
 * Checks that `relativePath` is a plain relative path that stays inside
 * `root` once symlinks are resolved (the deepest existing part is realpath'd).
 */
export function resolveInside(root: string, relativePath: string, what: string): string {
  if (relativePath.trim() === '' || isAbsolute(relativePath) || /^[a-zA-Z]:[\\/]/.test(relativePath)) {
    throw new LayoutError(`${what}: path "${relativePath}" must be relative`)
  }
  const normal = normalize(relativePath)
  if (normal === '..' || normal.startsWith(`..${sep}`)) {
    throw new LayoutError(`${what}: path "${relativePath}" escapes ${root}`)
  }
  const realRoot = realpathSync(root)
  const target = join(realRoot, normal)
  // Walk up to the deepest part that exists and resolve symlinks there.
  let probe = target
  const rest: string[] = []
  while (!lexists(probe) && dirname(probe) !== probe) {
    rest.unshift(basename(probe))
    probe = dirname(probe)
  }
  let real: string
  try {
    real = join(realpathSync(probe), ...rest)
  } catch (error) {
    throw new LayoutError(`${what}: cannot resolve "${relativePath}": ${errorMessage(error)}`)
  }
  if (!isWithin(realRoot, real)) {
    throw new LayoutError(`${what}: path "${relativePath}" escapes ${root} (resolves to ${real})`)
  }
  return real
}

function lexists(path: string): boolean {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}

export function isWithin(root: string, path: string): boolean {
  const rel = relative(root, path)
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))
}

/** Reads and checks a repository's layout; repository-wide problems throw a LayoutError. */
export function readLayout(root: string): RepositoryLayout {
  if (!existsSync(join(root, 'stacks.yaml'))) {
    throw new LayoutError('stacks.yaml: not found at the repository root', {
      hint: 'a watched repository lists its stacks in stacks.yaml (`- name: web`), one folder per stack',
    })
  }
  const stacksYaml = readYaml(root, 'stacks.yaml')
  const names = new Map<string, string>()
  const stacks: StackLayout[] = []
  topList(stacksYaml, 'stacks', 'stacks.yaml').forEach((entry, index) => {
    const where = stacksYaml.itemPosition(index)
    const name = typeof entry === 'string' ? entry : isRecord(entry) ? entry.name : undefined
    if (typeof name !== 'string' || name === '') {
      throw new LayoutError(`${where}: entry ${index + 1} has no name (expected \`- name: web\`)`)
    }
    if (!STACK_NAME.test(name)) {
      throw new LayoutError(
        `${where}: stack name "${name}" is not one Docker accepts (letters, digits, - and _, starting and ending with a letter or digit, at most 50 characters)`,
      )
    }
    const previous = names.get(name.toLowerCase())
    if (previous !== undefined)
      throw new LayoutError(`${where}: duplicate stack name "${name}" (first listed at ${previous})`)
    names.set(name.toLowerCase(), where)
    stacks.push({name, dir: join(root, name), secrets: []})
  })

  const hasVolumes = existsSync(join(root, 'volumes.yaml'))
  const hasNfs = existsSync(join(root, 'nfs.yaml'))
  let nfs: {path: string} | undefined
  let nfsText = ''
  if (hasNfs) {
    nfsText = readFileSync(join(root, 'nfs.yaml'), 'utf8')
    const located = parseYamlText(nfsText, 'nfs.yaml')
    const path = isRecord(located.value) ? located.value.path : undefined
    if (typeof path !== 'string' || !isAbsolute(path)) {
      throw new LayoutError('nfs.yaml: expected `path: /absolute/mount/of/the/nfs/share`')
    }
    let real: string
    try {
      real = realpathSync(path)
      if (!statSync(real).isDirectory()) throw new Error('not a directory')
    } catch (error) {
      throw new LayoutError(
        `nfs.yaml: path ${path} ${errnoCode(error) === 'ENOENT' ? 'does not exist' : `is not usable (${errorMessage(error)})`}`,
        {hint: 'mount the NFS share there on every node before reconciling'},
      )
    }
    nfs = {path: real}
  }

  const volumes: VolumeEntry[] = []
  let volumesText = ''
  if (hasVolumes) {
    if (!nfs) {
      throw new LayoutError('volumes.yaml: needs nfs.yaml beside it (`path: /mnt/nfs`) to know where volumes live')
    }
    volumesText = readFileSync(join(root, 'volumes.yaml'), 'utf8')
    const located = parseYamlText(volumesText, 'volumes.yaml')
    const ids = new Set<string>()
    topList(located, 'volumes', 'volumes.yaml').forEach((entry, index) => {
      const where = located.itemPosition(index)
      if (!isRecord(entry)) throw new LayoutError(`${where}: expected \`id\`, \`type\` and \`path\``)
      const {id, type, path} = entry
      if (typeof id !== 'string' || !VOLUME_ID.test(id)) {
        throw new LayoutError(`${where}: volume id ${JSON.stringify(id)} is missing or not a valid volume name`)
      }
      if (ids.has(id)) throw new LayoutError(`${where}: duplicate volume id "${id}"`)
      ids.add(id)
      const kind = type ?? 'volume'
      if (kind !== 'volume' && kind !== 'binding') {
        throw new LayoutError(`${where}: volume "${id}": type must be volume or binding, got ${JSON.stringify(type)}`)
      }
      if (path !== undefined && typeof path !== 'string') {
        throw new LayoutError(`${where}: volume "${id}": path must be a string`)
      }
      if (kind === 'binding' && !path) throw new LayoutError(`${where}: binding "${id}" needs a path`)
      let relativePath: string | undefined
      if (path) {
        const what = `volumes.yaml entry "${id}"`
        resolveInside(root, path, `${what} (in the repository)`)
        resolveInside(nfs.path, path, `${what} (under the NFS root)`)
        relativePath = normalize(path).replace(/\/+$/, '')
      }
      volumes.push({id, type: kind, path: relativePath})
    })
  }

  for (const stack of stacks) {
    try {
      readStack(root, stack, nfs)
    } catch (error) {
      stack.error = errorMessage(error)
    }
  }
  return {root, stacks, volumes, nfs, volumesText, nfsText}
}

function readStack(root: string, stack: StackLayout, nfs: {path: string} | undefined): void {
  let stat
  try {
    stat = statSync(stack.dir)
  } catch {
    throw new LayoutError(`stacks.yaml: stack "${stack.name}" has no folder ${stack.name}/ in the repository`)
  }
  if (!stat.isDirectory()) throw new LayoutError(`${stack.name}: is not a folder`)
  resolveInside(root, stack.name, `stack "${stack.name}"`)
  const compose = COMPOSE_FILE_NAMES.find((f) => existsSync(join(stack.dir, f)))
  if (!compose) {
    throw new LayoutError(
      `${stack.name}/: stack "${stack.name}" has no compose file (expected one of ${COMPOSE_FILE_NAMES.join(', ')})`,
    )
  }
  resolveInside(root, join(stack.name, compose), `${stack.name}/${compose}`)
  stack.composeFile = join(stack.dir, compose)
  const secretsFile = join(stack.dir, 'secrets.yaml')
  if (!existsSync(secretsFile)) return
  const display = `${stack.name}/secrets.yaml`
  const located = readYaml(root, join(stack.name, 'secrets.yaml'), display)
  if (!nfs) throw new LayoutError(`${display}: secrets are read from {nfs.path}/secret/{id}: nfs.yaml is missing`)
  const envs = new Set<string>()
  topList(located, 'secrets', display).forEach((entry, index) => {
    const where = located.itemPosition(index)
    if (!isRecord(entry)) throw new LayoutError(`${where}: expected \`id\` and \`env\``)
    const {id, env} = entry
    if (typeof id !== 'string' || !SECRET_ID.test(id)) {
      throw new LayoutError(
        `${where}: secret id ${JSON.stringify(id)} must be a plain file name (letters, digits, . _ -)`,
      )
    }
    if (typeof env !== 'string' || !ENV_NAME.test(env)) {
      throw new LayoutError(`${where}: secret "${id}": env ${JSON.stringify(env)} is not a valid variable name`)
    }
    if (envs.has(env)) throw new LayoutError(`${where}: secret "${id}": env ${env} is set twice`)
    envs.add(env)
    stack.secrets.push({id, env})
  })
}
