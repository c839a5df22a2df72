import {isDeepStrictEqual} from 'node:util'

/**
 * A Swarm service's tasks against its spec: which run the current task template. Shared by the GitOps deploy
 * wait (swarm/docker.ts) and `images update` of a service (images/apply.ts), so both call a service done
 * by one rule: its desired tasks run, all of them on the spec the service has now.
 */

/** The part of the Engine API's TaskSpec read here; a task carries a copy of its service's template. */
export type TaskSpec = {ContainerSpec?: {Image?: string}; ForceUpdate?: number; Placement?: unknown} & Record<
  string,
  unknown
>

export interface TaskInfo {
  ID?: string
  ServiceID?: string
  NodeID?: string
  Slot?: number
  DesiredState?: string
  Status?: {State?: string; Err?: string; Message?: string; Timestamp?: string}
  Spec?: TaskSpec
}

/** The part of a service read here. */
export interface ServiceTasksOf {
  Spec?: {Mode?: {Replicated?: {Replicas?: number}; Global?: object}; TaskTemplate?: TaskSpec}
}

/**
 * A task template as comparable: without what differs between a service's template and its tasks' copies
 * of it (20.10 and 28.x alike). The template alone names `Runtime` and carries an empty `DNSConfig`; empty
 * objects, empty lists and nulls say nothing, so they go. Placement goes because Swarm leaves a task where
 * it runs when only the constraints changed and its node still satisfies them.
 */
export function comparableSpec(spec: TaskSpec | undefined): unknown {
  const {Placement: _placement, Runtime: _runtime, ...rest} = spec ?? {}
  return withoutEmpty(rest)
}

/**
 * Swarm's own test of an up-to-date task (swarmkit's IsTaskDirty): its spec is the service's task template
 * (`template`, from `comparableSpec` once per service). Comparing the image alone missed a changed container
 * label or environment: right after `stack deploy`, before Swarm began the update, the old tasks looked current.
 */
export function onCurrentSpec(task: TaskInfo, template: unknown): boolean {
  return isDeepStrictEqual(comparableSpec(task.Spec), template)
}

export interface TaskCount {
  /** Tasks Swarm wants running that run. */
  running: TaskInfo[]
  /** Of those, the ones on the service's current spec. */
  onSpec: TaskInfo[]
  /** Replicas, or for a global service the nodes with a task it wants running. */
  desired: number
  /** Every task wanted runs, on the current spec, and none runs an older one. */
  settled: boolean
}

/** How `tasks` (any of the service's, in any state) stand against the service's current spec. */
export function countTasks(service: ServiceTasksOf, tasks: readonly TaskInfo[], template?: unknown): TaskCount {
  const spec = template ?? comparableSpec(service.Spec?.TaskTemplate)
  const wanted = tasks.filter((t) => t.DesiredState === 'running')
  const running = wanted.filter((t) => t.Status?.State === 'running')
  const onSpec = running.filter((t) => onCurrentSpec(t, spec))
  const desired = service.Spec?.Mode?.Replicated
    ? (service.Spec.Mode.Replicated.Replicas ?? 1)
    : new Set(wanted.map((t) => t.NodeID)).size
  return {running, onSpec, desired, settled: onSpec.length >= desired && running.length === onSpec.length}
}

function withoutEmpty(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(withoutEmpty).filter((item) => item !== undefined)
    return items.length > 0 ? items : undefined
  }
  if (value === null || typeof value !== 'object') return value ?? undefined
  const entries = Object.entries(value)
    .map(([key, item]) => [key, withoutEmpty(item)] as const)
    .filter(([, item]) => item !== undefined)
  return entries.length > 0 ? Object.fromEntries(entries) : undefined
}
