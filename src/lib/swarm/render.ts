import {createHash} from 'node:crypto'
import {existsSync, readFileSync, statSync} from 'node:fs'
import {basename, dirname, isAbsolute, join, relative} from 'node:path'
import {parse, stringify} from 'yaml'

import {errorMessage} from '../errors.js'
import {
  LayoutError,
  parseYamlText,
  resolveInside,
  type RepositoryLayout,
  type StackLayout,
  type VolumeEntry,
} from './layout.js'

/**
 * Turns a stack's compose file into what is deployed: binding ids in service
 * volumes become `{nfs.path}/{path}` bind mounts, `volume` ids keep their
 * Docker volume name (declared with `name:` so the stack prefix is not added,
 * backed by `{nfs.path}/{path}` when the entry has a path), relative host paths
 * are checked to stay inside the repository. Secret values are not in the
 * text: `docker stack deploy` interpolates `${VAR}` from its environment.
 */
export interface RenderedStack {
  /** The compose text handed to `docker stack deploy`. */
  compose: string
  /** Files it references (env_file, configs/secrets `file:`): repository path → sha256 of the content. */
  files: Record<string, string>
  /** The Docker volumes its `type: volume` entries become, as `stack deploy` will create them. */
  volumeSpecs: VolumeSpec[]
  /** Image references of its services, normalised (`:latest` added when no tag). */
  images: string[]
  /** Entries of volumes.yaml the stack uses. */
  volumes: VolumeEntry[]
}

export interface VolumeSpec {
  /** volumes.yaml id */
  id: string
  /** Docker volume name */
  name: string
  driver: string
  options: Record<string, string>
}

/**
 * Docker volume names are global to the daemon: a volumes.yaml id is named after its repository
 * (`{repository}_{id}`), so two repositories using one id never share a directory; a volume with
 * driver options also carries their digest, so a changed `path:` is a new volume pointing at the
 * new directory instead of the old volume silently kept.
 */
export function volumeName(
  layout: RepositoryLayout,
  id: string,
  driver: string,
  options: Record<string, string>,
): string {
  const base = `${layout.namespace ?? basename(layout.root)}_${id}`
  if (Object.keys(options).length === 0) return base
  const sorted = Object.entries(options).sort(([a], [b]) => a.localeCompare(b))
  return `${base}_${createHash('sha256')
    .update(JSON.stringify([driver, sorted]))
    .digest('hex')
    .slice(0, 8)}`
}

const SERVICE_NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9_-]*[a-zA-Z0-9])?$/

export function renderStack(layout: RepositoryLayout, stack: StackLayout): RenderedStack {
  const composeFile = stack.composeFile!
  const display = relative(layout.root, composeFile)
  let text: string
  try {
    text = readFileSync(composeFile, 'utf8')
  } catch (error) {
    throw new LayoutError(`${display}: cannot read: ${errorMessage(error)}`)
  }
  const doc = parseYamlText(text, display).value
  if (!isRecord(doc) || !isRecord(doc.services) || Object.keys(doc.services).length === 0) {
    throw new LayoutError(`${display}: expected a \`services:\` mapping with at least one service`)
  }
  const byId = new Map(layout.volumes.map((v) => [v.id, v]))
  const used = new Map<string, VolumeEntry>()
  const images = new Set<string>()
  const composeDir = dirname(composeFile)
  const checkHostPath = (source: string, where: string) => {
    if (isAbsolute(source) || source.startsWith('~')) return
    const rel = relative(layout.root, join(composeDir, source))
    resolveInside(layout.root, rel === '' ? '.' : rel, `${display}: ${where}`)
  }
  // Files the docker CLI reads at deploy time: their contents are part of the hash.
  const files: Record<string, string> = {}
  const referenceFile = (source: string, where: string): string => {
    checkHostPath(source, where)
    const full = isAbsolute(source) ? source : join(composeDir, source)
    const key = isAbsolute(source) ? source : relative(layout.root, full)
    const digest = fileDigest(full, `${display}: ${where}`)
    files[key] = digest
    return digest
  }

  for (const [serviceName, service] of Object.entries(doc.services)) {
    if (!SERVICE_NAME.test(serviceName) || `${stack.name}_${serviceName}`.length > 63) {
      throw new LayoutError(
        `${display}: service "${serviceName}": Docker would reject the name ${stack.name}_${serviceName} (letters, digits, - and _, at most 63 characters with the stack name)`,
      )
    }
    if (!isRecord(service)) throw new LayoutError(`${display}: service "${serviceName}" must be a mapping`)
    if (typeof service.image === 'string' && !service.image.includes('$')) images.add(normaliseImage(service.image))
    for (const envFile of asList(service.env_file)) {
      const path = typeof envFile === 'string' ? envFile : isRecord(envFile) ? envFile.path : undefined
      if (typeof path !== 'string') continue
      const optional = isRecord(envFile) && envFile.required === false
      if (optional && !existsSync(isAbsolute(path) ? path : join(composeDir, path))) continue
      referenceFile(path, `service "${serviceName}" env_file ${path}`)
    }
    if (!Array.isArray(service.volumes)) continue
    service.volumes = service.volumes.map((entry: unknown) => {
      const where = `service "${serviceName}" volume ${JSON.stringify(entry)}`
      if (typeof entry === 'string') {
        const [source, ...rest] = entry.split(':')
        if (rest.length === 0 || !source) return entry
        const volume = byId.get(source)
        if (volume) {
          used.set(volume.id, volume)
          if (volume.type === 'binding') return [nfsPath(layout, volume), ...rest].join(':')
          return entry
        }
        if (/^[./~]/.test(source)) {
          checkHostPath(source, where)
          if (source.startsWith('.')) refuseRelativeBind(display, where)
        }
        return entry
      }
      if (isRecord(entry) && typeof entry.source === 'string') {
        const volume = byId.get(entry.source)
        if (volume && (entry.type === undefined || entry.type === 'volume')) {
          used.set(volume.id, volume)
          if (volume.type === 'binding') {
            const {volume: _volumeOptions, ...rest} = entry
            return {...rest, type: 'bind', source: nfsPath(layout, volume)}
          }
          return entry
        }
        if (entry.type === 'bind') {
          checkHostPath(entry.source, where)
          if (!isAbsolute(entry.source) && !entry.source.startsWith('~')) refuseRelativeBind(display, where)
        }
      }
      return entry
    })
  }
  // Configs and secrets from files get a name that carries their content's digest: Swarm cannot
  // change a config's data in place ("only updates to Labels are allowed"), so a new content is a
  // new object the services switch to, and the old one is removed once the stack converged.
  for (const key of ['configs', 'secrets'] as const) {
    const section = doc[key]
    if (!isRecord(section)) continue
    for (const [name, spec] of Object.entries(section)) {
      if (!isRecord(spec) || typeof spec.file !== 'string') continue
      const digest = referenceFile(spec.file, `${key}.${name}.file`)
      if (spec.name === undefined) spec.name = contentName(stack.name, name, digest)
    }
  }

  const bindingIds = new Set([...used.values()].filter((v) => v.type === 'binding').map((v) => v.id))
  const declared: Record<string, unknown> = Object.fromEntries(
    Object.entries(isRecord(doc.volumes) ? doc.volumes : {}).filter(([id]) => !bindingIds.has(id)),
  )
  const volumeSpecs: VolumeSpec[] = []
  for (const volume of used.values()) {
    if (volume.type === 'binding') continue
    const existing = isRecord(declared[volume.id]) ? (declared[volume.id] as Record<string, unknown>) : {}
    if (existing.external) continue
    const backing = volume.path
      ? {driver: 'local', driver_opts: {type: 'none', o: 'bind', device: nfsPath(layout, volume)}}
      : {}
    const spec: Record<string, unknown> = {...backing, ...existing}
    const driver = typeof spec.driver === 'string' ? spec.driver : 'local'
    const options = isRecord(spec.driver_opts)
      ? Object.fromEntries(Object.entries(spec.driver_opts).map(([k, v]) => [k, String(v)]))
      : {}
    const legacy = layout.legacyVolumes?.includes(volume.id) && Object.keys(options).length === 0
    const name =
      typeof existing.name === 'string'
        ? existing.name
        : legacy
          ? volume.id
          : volumeName(layout, volume.id, driver, options)
    declared[volume.id] = {...spec, name}
    volumeSpecs.push({id: volume.id, name, driver, options})
  }
  if (Object.keys(declared).length > 0) doc.volumes = declared
  else delete doc.volumes

  return {
    compose: stringify(doc, {lineWidth: 0}),
    files,
    volumeSpecs,
    images: [...images].sort(),
    volumes: [...used.values()].sort((a, b) => a.id.localeCompare(b.id)),
  }
}

/**
 * A relative bind mount's source would be a folder of homeops's cached clone: every reconcile
 * resets the clone to the commit (`git clean` deletes what the service wrote there), `unwatch`
 * deletes it, and it exists on this node only. Refused, pointing at the layout that persists.
 */
function refuseRelativeBind(display: string, where: string): never {
  throw new LayoutError(
    `${display}: ${where}: relative bind mounts are refused: the folder would live in homeops's cached clone, which every reconcile resets (deleting what the service wrote) and unwatch deletes; declare it in volumes.yaml as \`type: binding\` (copied to the NFS share, where what the service writes is kept) or \`type: volume\`, and mount it by its id`,
  )
}

/**
 * Adds container labels to every service. Used for the digest of the binding
 * contents: a changed file on NFS does not change the service spec, so without
 * it `docker stack deploy` would leave the old tasks running on stale files.
 */
export function withServiceLabels(compose: string, labels: Record<string, string>): string {
  const doc = parse(compose) as Record<string, unknown>
  const services = doc.services as Record<string, Record<string, unknown>>
  for (const service of Object.values(services)) {
    const existing = service.labels
    if (Array.isArray(existing)) {
      service.labels = [
        ...(existing as unknown[]).filter((l) => !Object.keys(labels).some((k) => String(l).startsWith(`${k}=`))),
        ...Object.entries(labels).map(([k, v]) => `${k}=${v}`),
      ]
    } else {
      service.labels = {...(isRecord(existing) ? existing : {}), ...labels}
    }
  }
  return stringify(doc, {lineWidth: 0})
}

/** A referenced file is read whole into the hash; beyond this it is not a config file any more. */
export const MAX_REFERENCED_FILE_BYTES = 16 * 1024 * 1024

function fileDigest(path: string, what: string): string {
  let data: Buffer
  try {
    const stat = statSync(path)
    if (!stat.isFile()) throw new LayoutError(`${what}: ${path} is not a regular file`)
    if (stat.size > MAX_REFERENCED_FILE_BYTES) {
      throw new LayoutError(`${what}: ${path} holds ${stat.size} bytes, more than ${MAX_REFERENCED_FILE_BYTES}`)
    }
    data = readFileSync(path)
  } catch (error) {
    if (error instanceof LayoutError) throw error
    throw new LayoutError(`${what}: cannot read ${path}: ${errorMessage(error)}`)
  }
  return createHash('sha256').update(data).digest('hex')
}

/** The Swarm names of the configs and secrets a rendered compose defines (what `stack deploy` creates). */
export function stackObjectNames(compose: string, stack: string): {configs: Set<string>; secrets: Set<string>} {
  const doc = parse(compose) as Record<string, unknown>
  const names = (key: 'configs' | 'secrets') =>
    new Set(
      Object.entries(isRecord(doc[key]) ? doc[key] : {}).map(([name, spec]) =>
        isRecord(spec) && typeof spec.name === 'string' ? spec.name : `${stack}_${name}`,
      ),
    )
  return {configs: names('configs'), secrets: names('secrets')}
}

/** `{stack}_{key}_{digest}`, within the 64 characters Swarm allows for a config or secret name. */
export function contentName(stack: string, key: string, digest: string): string {
  const suffix = `_${digest.slice(0, 12)}`
  return `${stack}_${key}`.slice(0, 64 - suffix.length) + suffix
}

export const CONTENT_LABEL = 'homeops.swarm.content'
/** Service label naming the repository (URL as watched) a stack was deployed from: lets a later `watch` adopt it. */
export const REPOSITORY_LABEL = 'homeops.swarm.repository'

/** Adds service labels (`deploy.labels`: they change the service, not its tasks, so nothing restarts). */
export function withDeployLabels(compose: string, labels: Record<string, string>): string {
  const doc = parse(compose) as Record<string, unknown>
  const services = doc.services as Record<string, Record<string, unknown>>
  for (const service of Object.values(services)) {
    const deploy = isRecord(service.deploy) ? service.deploy : {}
    const existing = deploy.labels
    deploy.labels = Array.isArray(existing)
      ? [
          ...(existing as unknown[]).filter((l) => !Object.keys(labels).some((k) => String(l).startsWith(`${k}=`))),
          ...Object.entries(labels).map(([k, v]) => `${k}=${v}`),
        ]
      : {...(isRecord(existing) ? existing : {}), ...labels}
    service.deploy = deploy
  }
  return stringify(doc, {lineWidth: 0})
}

export function nfsPath(layout: RepositoryLayout, volume: VolumeEntry): string {
  return join(layout.nfs!.path, volume.path!)
}

/** `nginx` → `nginx:latest`; references with a tag or digest are kept as written. */
export function normaliseImage(reference: string): string {
  const trimmed = reference.trim()
  if (trimmed.includes('@')) return trimmed
  const lastSegment = trimmed.slice(trimmed.lastIndexOf('/') + 1)
  return lastSegment.includes(':') ? trimmed : `${trimmed}:latest`
}

function asList(value: unknown): unknown[] {
  if (value === undefined || value === null) return []
  return Array.isArray(value) ? value : [value]
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
