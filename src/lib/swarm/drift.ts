/**
 * Drift of a managed stack (Argo CD's "OutOfSync"): what the Swarm runs now, compared with what homeops
 * last deployed from git. At each deploy the spec of every service of the stack is reduced to a
 * fingerprint of the fields a user changes behind git's back (image, env, labels, mounts, replicas,
 * networks, ports) and stored; a later reconcile or `swarm status` computes the fingerprint of the
 * running spec and lists the differing fields. Pure: no I/O, the caller brings specs and a keyed digest.
 *
 * Values that may hold a secret (env values, label values: a compose file interpolates secrets.yaml into
 * them) never enter the fingerprint in clear: they are replaced by `digest(value)`, an HMAC under the
 * state database's key, so the stored fingerprint holds no secret and a report names only the keys.
 */
export interface ServiceSpec {
  Spec?: {
    Name?: string
    Labels?: Record<string, string>
    Mode?: {Replicated?: {Replicas?: number}; Global?: object; ReplicatedJob?: object; GlobalJob?: object}
    TaskTemplate?: {
      ContainerSpec?: {
        Image?: string
        Env?: string[]
        Labels?: Record<string, string>
        Mounts?: {Type?: string; Source?: string; Target?: string; ReadOnly?: boolean}[]
      }
      Networks?: {Target?: string; Aliases?: string[]}[]
    }
    /** Deprecated by the Engine in favour of TaskTemplate.Networks; still set by old clients. */
    Networks?: {Target?: string; Aliases?: string[]}[]
    EndpointSpec?: {Ports?: {Protocol?: string; TargetPort?: number; PublishedPort?: number; PublishMode?: string}[]}
  }
}

export interface ServiceFingerprint {
  image: string
  /** `NAME=digest`, sorted. */
  env: string[]
  /** Service labels, value digests, without the labels that never mean drift. */
  labels: Record<string, string>
  /** Container labels, value digests. */
  containerLabels: Record<string, string>
  /** `type:source:target[:ro]`, sorted. */
  mounts: string[]
  /** Replica count, or the mode's name for global services and jobs. */
  replicas: number | string
  /** `network-id[alias,alias]`, sorted. */
  networks: string[]
  /** `published:target/protocol (mode)`, sorted. */
  ports: string[]
}

export type DriftField = 'image' | 'env' | 'labels' | 'mounts' | 'replicas' | 'networks' | 'ports' | 'service'

export interface DriftEntry {
  /** Full Swarm service name (`stack_service`). */
  service: string
  field: DriftField
  /** What homeops deployed (for env and labels: the keys only, never a value). */
  deployed: string
  /** What runs now. */
  running: string
}

/**
 * Labels that change without the workload changing: the last version `images` notified about (a label
 * only, no task restarts). Every other `homeops.images.*` label is written by `images update`, which is
 * drift.
 */
const IGNORED_LABELS = new Set(['homeops.images.last-notified-version'])

function digestMap(labels: Record<string, string> | undefined, digest: (value: string) => string) {
  const out: Record<string, string> = {}
  for (const key of Object.keys(labels ?? {}).sort()) {
    if (IGNORED_LABELS.has(key)) continue
    out[key] = digest(labels![key]!)
  }
  return out
}

export function fingerprint(service: ServiceSpec, digest: (value: string) => string): ServiceFingerprint {
  const spec = service.Spec ?? {}
  const container = spec.TaskTemplate?.ContainerSpec ?? {}
  const mode = spec.Mode ?? {}
  const replicas =
    mode.Replicated !== undefined
      ? (mode.Replicated.Replicas ?? 1)
      : mode.Global
        ? 'global'
        : mode.ReplicatedJob
          ? 'replicated-job'
          : mode.GlobalJob
            ? 'global-job'
            : 1
  const env = (container.Env ?? []).map((entry) => {
    const eq = entry.indexOf('=')
    return eq < 0 ? entry : `${entry.slice(0, eq)}=${digest(entry.slice(eq + 1))}`
  })
  const networks = (spec.TaskTemplate?.Networks ?? spec.Networks ?? []).map(
    (n) => `${n.Target ?? ''}[${[...(n.Aliases ?? [])].sort().join(',')}]`,
  )
  return {
    image: container.Image ?? '',
    env: env.sort(),
    labels: digestMap(spec.Labels, digest),
    containerLabels: digestMap(container.Labels, digest),
    mounts: (container.Mounts ?? [])
      .map((m) => `${m.Type ?? 'volume'}:${m.Source ?? ''}:${m.Target ?? ''}${m.ReadOnly ? ':ro' : ''}`)
      .sort(),
    replicas,
    networks: networks.sort(),
    ports: (spec.EndpointSpec?.Ports ?? [])
      .map(
        (p) => `${p.PublishedPort ?? ''}:${p.TargetPort ?? ''}/${p.Protocol ?? 'tcp'} (${p.PublishMode ?? 'ingress'})`,
      )
      .sort(),
  }
}

/** Keys of `NAME=value` entries (or of a map) that differ between two fingerprints' digests. */
function keyChanges(deployed: Record<string, string>, running: Record<string, string>): {d: string; r: string} {
  const added: string[] = []
  const removed: string[] = []
  const changed: string[] = []
  for (const key of Object.keys(running)) {
    if (!(key in deployed)) added.push(key)
    else if (deployed[key] !== running[key]) changed.push(key)
  }
  for (const key of Object.keys(deployed)) if (!(key in running)) removed.push(key)
  const parts = [
    ...(changed.length > 0 ? [`changed ${changed.sort().join(', ')}`] : []),
    ...(added.length > 0 ? [`added ${added.sort().join(', ')}`] : []),
    ...(removed.length > 0 ? [`removed ${removed.sort().join(', ')}`] : []),
  ]
  return {d: Object.keys(deployed).sort().join(', ') || '-', r: parts.join('; ')}
}

function envMap(env: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const entry of env) {
    const eq = entry.indexOf('=')
    out[eq < 0 ? entry : entry.slice(0, eq)] = eq < 0 ? '' : entry.slice(eq + 1)
  }
  return out
}

function list(values: string[]): string {
  return values.length > 0 ? values.join(', ') : '-'
}

/** The differing fields of one service, in a fixed order; empty when it runs what was deployed. */
export function compareService(
  service: string,
  deployed: ServiceFingerprint,
  running: ServiceFingerprint,
): DriftEntry[] {
  const out: DriftEntry[] = []
  const add = (field: DriftField, d: string, r: string) => out.push({service, field, deployed: d, running: r})
  if (deployed.image !== running.image) add('image', deployed.image, running.image)
  const env = keyChanges(envMap(deployed.env), envMap(running.env))
  if (env.r) add('env', env.d, env.r)
  const labels = keyChanges(
    {...prefixKeys(deployed.labels, ''), ...prefixKeys(deployed.containerLabels, 'container ')},
    {...prefixKeys(running.labels, ''), ...prefixKeys(running.containerLabels, 'container ')},
  )
  if (labels.r) add('labels', labels.d, labels.r)
  if (!sameList(deployed.mounts, running.mounts)) add('mounts', list(deployed.mounts), list(running.mounts))
  if (deployed.replicas !== running.replicas) add('replicas', String(deployed.replicas), String(running.replicas))
  if (!sameList(deployed.networks, running.networks)) add('networks', list(deployed.networks), list(running.networks))
  if (!sameList(deployed.ports, running.ports)) add('ports', list(deployed.ports), list(running.ports))
  return out
}

function prefixKeys(map: Record<string, string>, prefix: string): Record<string, string> {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [prefix + k, v]))
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}

/**
 * A stack's drift: each deployed service compared with the running one of the same name; a service
 * that is gone, or one that runs under the stack's namespace without homeops having deployed it, is a
 * `service` entry.
 */
export function compareStack(
  deployed: ReadonlyMap<string, ServiceFingerprint>,
  running: ReadonlyMap<string, ServiceFingerprint>,
): DriftEntry[] {
  const out: DriftEntry[] = []
  for (const name of [...deployed.keys()].sort()) {
    const now = running.get(name)
    if (!now) out.push({service: name, field: 'service', deployed: 'present', running: 'missing'})
    else out.push(...compareService(name, deployed.get(name)!, now))
  }
  for (const name of [...running.keys()].sort()) {
    if (!deployed.has(name)) out.push({service: name, field: 'service', deployed: 'absent', running: 'present'})
  }
  return out
}

/** One line for a table or a log: `web image a → b; web env changed V`. */
export function describeDrift(entries: DriftEntry[]): string {
  return entries
    .map((e) =>
      e.field === 'service'
        ? `${e.service} ${e.running === 'missing' ? 'was removed' : 'was added outside git'}`
        : e.field === 'env' || e.field === 'labels'
          ? `${e.service} ${e.field} ${e.running}`
          : `${e.service} ${e.field} ${e.deployed} → ${e.running}`,
    )
    .join('; ')
}

/** Parses a stored fingerprint; undefined when unreadable (it is then taken again at the next deploy). */
export function parseFingerprint(text: string): ServiceFingerprint | undefined {
  try {
    const value = JSON.parse(text) as Partial<ServiceFingerprint>
    if (typeof value.image !== 'string' || !Array.isArray(value.env) || !Array.isArray(value.mounts)) return undefined
    return {
      image: value.image,
      env: value.env,
      labels: value.labels ?? {},
      containerLabels: value.containerLabels ?? {},
      mounts: value.mounts,
      replicas: value.replicas ?? 1,
      networks: value.networks ?? [],
      ports: value.ports ?? [],
    }
  } catch {
    return undefined
  }
}
