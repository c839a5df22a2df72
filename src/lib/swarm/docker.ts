import {type Docker, dockerAddress, dockerCallFailed, dockerStatus} from '../docker/client.js'
import {type TaskInfo, type TaskSpec, comparableSpec, countTasks, onCurrentSpec} from '../docker/service-tasks.js'
import {OperationError, errnoCode, errorMessage} from '../errors.js'
import {redact} from '../log/redact.js'
import {sleep} from '../time/sleep.js'
import type {VolumeSpec} from './render.js'
import {permanentTaskFailure} from './task-failure.js'

/**
 * Swarm access for GitOps: everything through the one Docker client (dockerode: services, tasks,
 * containers, volumes, images), except `stack deploy` and `stack rm`, which the Engine API lacks
 * (it has no stack concept): those run the docker CLI. The CLI child gets `DOCKER_HOST` (the same
 * daemon homeops talks to) and the stack's secrets in its environment, never in argv.
 */
export const STACK_LABEL = 'com.docker.stack.namespace'

export interface CliOptions {
  /** docker CLI binary. */
  cli: string
  /** DOCKER_HOST for the child. */
  address: string
  signal?: AbortSignal
}

interface CliResult {
  stdout: string
  stderr: string
  exitCode: number | undefined
  timedOut: boolean
}

/**
 * The environment of every docker CLI child, and so everything a compose file can interpolate
 * besides the stack's own secrets: PATH, HOME (the CLI's config and registry logins), the
 * DOCKER_* variables that configure the CLI, SSH_AUTH_SOCK for an ssh:// DOCKER_HOST. Nothing else
 * of homeops's environment (tokens, API keys) reaches it. DOCKER_HOST is the daemon homeops talks
 * to; DOCKER_CONTEXT is dropped (it would win over DOCKER_HOST in some CLI versions).
 */
export function deployEnvironment(address: string, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(from)) {
    if (value === undefined) continue
    if (['PATH', 'HOME', 'SSH_AUTH_SOCK'].includes(key) || (key.startsWith('DOCKER_') && key !== 'DOCKER_CONTEXT')) {
      env[key] = value
    }
  }
  env.DOCKER_HOST = address
  return env
}

/** Linux's limit for one `NAME=value` string of a child's environment (MAX_ARG_STRLEN, 32 pages). */
export const MAX_ENV_ENTRY_BYTES = 128 * 1024
/** What the whole environment may take, kept well under ARG_MAX (2 MB with an 8 MB stack) beside argv. */
export const MAX_ENV_TOTAL_BYTES = 1024 * 1024

function childEnv(options: CliOptions, extra: Record<string, string> = {}): Record<string, string> {
  return {...deployEnvironment(options.address), ...extra}
}

async function runCli(
  options: CliOptions,
  args: string[],
  extra: {env?: Record<string, string>; input?: string; cwd?: string; timeoutMs?: number} = {},
): Promise<CliResult> {
  const {execa} = await import('execa')
  try {
    const result = await execa(options.cli, args, {
      env: childEnv(options, extra.env),
      extendEnv: false,
      input: extra.input,
      cwd: extra.cwd,
      reject: false,
      timeout: extra.timeoutMs,
      cancelSignal: options.signal,
      stripFinalNewline: true,
      all: false,
    })
    if (errnoCode(result) === 'E2BIG' || /\bE2BIG\b/.test(String(result.message ?? ''))) {
      throw environmentTooLarge(extra.env)
    }
    return {
      stdout: String(result.stdout ?? ''),
      stderr: String(result.stderr ?? ''),
      exitCode: result.exitCode,
      timedOut: Boolean(result.timedOut),
    }
  } catch (error) {
    if (errnoCode(error) === 'E2BIG') throw environmentTooLarge(extra.env)
    throw new OperationError(`cannot run ${options.cli}: ${errorMessage(error)}`, {
      hint: 'install the docker CLI (docker.io / docker-ce-cli) or set swarm.dockerCli',
    })
  }
}

function environmentTooLarge(extra: Record<string, string> = {}): OperationError {
  const sizes = Object.entries(extra)
    .map(([k, v]) => [k, Buffer.byteLength(`${k}=${v}`) + 1] as const)
    .sort((a, b) => b[1] - a[1])
  const largest = sizes[0] ? `; the largest is ${sizes[0][0]} (${sizes[0][1]} bytes)` : ''
  return new OperationError(
    `the environment of the docker CLI is too large (E2BIG): Linux allows ${MAX_ENV_ENTRY_BYTES} bytes per variable and about 2 MB in all${largest}`,
    {
      hint: 'keep large values (certificates, files) out of secrets.yaml: mount them through a binding or a Docker secret file',
    },
  )
}

const detachSupport = new Map<string, boolean>()

/** Whether this docker CLI knows `stack deploy --detach` (20.10 does not; 26+ does). Asked once per process. */
export async function supportsDetach(options: CliOptions): Promise<boolean> {
  const known = detachSupport.get(options.cli)
  if (known !== undefined) return known
  const help = await runCli(options, ['stack', 'deploy', '--help'])
  const supported = /--detach\b/.test(help.stdout + help.stderr)
  detachSupport.set(options.cli, supported)
  return supported
}

/** The last meaningful lines of a CLI error, secrets redacted. */
function cliError(result: CliResult): string {
  const lines = redact(`${result.stderr}\n${result.stdout}`)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(Creating|Updating|Waiting|overall progress|verify:)/i.test(l) && !/\[[=> ]+\]/.test(l))
  return lines.slice(-4).join(' ') || `exit code ${result.exitCode}`
}

export interface DeployOptions extends CliOptions {
  stack: string
  compose: string
  /** Folder relative paths of the compose file are resolved from. */
  cwd: string
  secrets: Record<string, string>
  timeoutMs: number
  /** The CLI knows `--detach` (`supportsDetach`); an older one never waits and needs `version:`. */
  knowsDetach: boolean
}

/** `docker stack deploy --prune --with-registry-auth -c - NAME` with the rendered compose on stdin. */
export async function stackDeploy(options: DeployOptions): Promise<void> {
  const args = ['stack', 'deploy']
  // Never the CLI's own wait: it differs between versions and would hold a deploy slot while it
  // waits; homeops waits the same way on every engine (apply.ts `finishDeploy`).
  if (options.knowsDetach) args.push('--detach=true')
  args.push('--prune', '--with-registry-auth', '--compose-file', '-', options.stack)
  // Before 23.0 the CLI refuses a compose file without `version:` (the Compose spec dropped it).
  const compose =
    !options.knowsDetach && !/^version\s*:/m.test(options.compose)
      ? `version: "3.8"\n${options.compose}`
      : options.compose
  const result = await runCli(options, args, {
    env: options.secrets,
    input: compose,
    cwd: options.cwd,
    timeoutMs: options.timeoutMs,
  })
  if (result.timedOut) {
    throw new OperationError(
      `docker stack deploy of stack ${options.stack} did not return within ${Math.round(options.timeoutMs / 1000)} s`,
    )
  }
  if (result.exitCode !== 0) {
    throw new OperationError(`docker stack deploy rejected stack ${options.stack}: ${cliError(result)}`)
  }
}

export async function stackRemove(options: CliOptions & {stack: string}): Promise<void> {
  const result = await runCli(options, ['stack', 'rm', options.stack])
  if (result.exitCode !== 0 && !/Nothing found in stack/i.test(result.stderr + result.stdout)) {
    throw new OperationError(`docker stack rm ${options.stack} failed: ${cliError(result)}`)
  }
}

// ---- the Engine API -------------------------------------------------------

/** One Engine call; a failure is worded once (`dockerCallFailed`): the daemon's reason, or its address. */
async function call<T>(docker: Docker, what: string, work: () => Promise<unknown>): Promise<T> {
  try {
    return (await work()) as T
  } catch (error) {
    throw dockerCallFailed(dockerAddress(docker), what, error)
  }
}

/** An image reference or volume name as one path segment of dockerode's paths: its slashes kept, the rest encoded. */
function pathName(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/')
}

interface ServiceInfo {
  ID: string
  Spec?: {
    Name?: string
    Labels?: Record<string, string>
    Mode?: {Replicated?: {Replicas?: number}; Global?: object}
    TaskTemplate?: TaskSpec
  }
  UpdateStatus?: {State?: string; Message?: string}
}

interface NodeInfo {
  ID: string
  Description?: {Hostname?: string}
  Status?: {State?: string}
}

/** Where a task of a stack runs (or why it does not): what `swarm status` shows per task. */
export interface TaskPlacement {
  service: string
  /** `app.1` for a replica, `app` on a node for a global service */
  task: string
  /** the node's hostname; null while the scheduler has not placed the task */
  node: string | null
  state: string
  desiredState: string
  /** Docker's reason when the task is not running (e.g. "no suitable node (…)"), or the node being down. */
  reason?: string
}

/** The tasks each stack wants running, with their node names, by stack name. */
export async function stackTasks(engine: Docker, stack?: string): Promise<Map<string, TaskPlacement[]>> {
  const services = await stackServices(engine, stack)
  const out = new Map<string, TaskPlacement[]>()
  if (services.length === 0) return out
  const [tasks, nodes] = await Promise.all([
    call<TaskInfo[]>(engine, 'GET /tasks', () =>
      engine.listTasks({filters: {service: services.map((s) => s.ID), 'desired-state': ['running']}}),
    ),
    call<NodeInfo[]>(engine, 'GET /nodes', () => engine.listNodes()),
  ])
  const nodeOf = new Map(nodes.map((n) => [n.ID, n]))
  for (const service of services) {
    const name = service.Spec?.Name ?? service.ID
    const list = out.get(service.Spec?.Labels?.[STACK_LABEL] ?? '') ?? []
    for (const t of tasks.filter((x) => x.ServiceID === service.ID)) {
      const node = t.NodeID ? nodeOf.get(t.NodeID) : undefined
      const state = t.Status?.State ?? 'unknown'
      const nodeDown = node?.Status?.State && node.Status.State !== 'ready' ? `node ${node.Status.State}` : undefined
      const why = state === 'running' ? undefined : t.Status?.Err || t.Status?.Message || undefined
      const reason = [nodeDown, why].filter(Boolean).join(': ') || undefined
      list.push({
        service: name,
        task: t.Slot ? `${name}.${t.Slot}` : name,
        node: node?.Description?.Hostname ?? (t.NodeID || null),
        state,
        desiredState: t.DesiredState ?? 'unknown',
        ...(reason ? {reason} : {}),
      })
    }
    list.sort((a, b) => a.task.localeCompare(b.task) || (a.node ?? '').localeCompare(b.node ?? ''))
    out.set(service.Spec?.Labels?.[STACK_LABEL] ?? '', list)
  }
  return out
}

export interface ServiceState {
  name: string
  running: number
  desired: number
  /** Up to date: UpdateStatus settled and running tasks on the current spec. */
  converged: boolean
  /** Why not converged / why it failed, e.g. the last task error. */
  detail?: string
  /** The update was rolled back or paused: it will not converge by waiting. */
  stuck?: boolean
  /** A task of the current spec failed in a way waiting cannot fix (task-failure.ts): the reason. */
  permanent?: string
  /** Converged: when its most recently started running task started (the engine's clock, ms since epoch). */
  upSince?: number
}

export async function stackServices(engine: Docker, stack?: string): Promise<ServiceInfo[]> {
  return call<ServiceInfo[]>(engine, 'GET /services', () =>
    engine.listServices({filters: {label: [stack ? `${STACK_LABEL}=${stack}` : STACK_LABEL]}}),
  )
}

/**
 * Running/desired per service of a stack (or of every stack), from services and tasks. Tasks whose
 * id is in `before` (they existed before this deploy) never count as a permanent failure, unless still pending.
 */
export async function serviceStates(
  engine: Docker,
  stack?: string,
  before?: ReadonlySet<string>,
): Promise<Map<string, ServiceState[]>> {
  const services = await stackServices(engine, stack)
  const byStack = new Map<string, ServiceState[]>()
  if (services.length === 0) return byStack
  const tasks = await call<TaskInfo[]>(engine, 'GET /tasks', () =>
    engine.listTasks({filters: {'desired-state': ['running', 'shutdown', 'accepted']}}),
  )
  const tasksOf = new Map<string, TaskInfo[]>()
  for (const task of tasks) {
    if (!task.ServiceID) continue
    const list = tasksOf.get(task.ServiceID) ?? []
    list.push(task)
    tasksOf.set(task.ServiceID, list)
  }
  for (const service of services) {
    const name = service.Spec?.Labels?.[STACK_LABEL] ?? ''
    const list = byStack.get(name) ?? []
    list.push(serviceState(service, tasksOf.get(service.ID) ?? [], before))
    byStack.set(name, list)
  }
  return byStack
}

function serviceState(service: ServiceInfo, tasks: TaskInfo[], before?: ReadonlySet<string>): ServiceState {
  const name = service.Spec?.Name ?? service.ID
  const template = comparableSpec(service.Spec?.TaskTemplate)
  const current = (t: TaskInfo) => onCurrentSpec(t, template)
  const {running, onSpec, desired, settled} = countTasks(service, tasks, template)
  const state = service.UpdateStatus?.State
  const lastError = latestTaskError(tasks.filter(current))
  if (state === 'rollback_completed' || state === 'paused' || state === 'rollback_paused') {
    // After a rollback the template is the previous version again: the failures that explain it ran another spec.
    const rolledBack = state !== 'paused'
    const taskError =
      (rolledBack ? latestTaskError(tasks.filter((t) => !current(t))) : lastError) ?? latestTaskError(tasks)
    // Swarm says rollback_completed once it has started the last old task, not once it runs: the deploy
    // ends (failed) when the previous version runs again, so nothing is half-way when cron runs next, or
    // as soon as a task the rollback started fails, since then the previous version does not come up either.
    const restoreError = rolledBack
      ? latestTaskError(tasks.filter((t) => current(t) && !before?.has(t.ID ?? '')))
      : undefined
    const restoring = state === 'rollback_completed' && !settled && !restoreError
    return {
      name,
      running: running.length,
      desired,
      converged: false,
      stuck: !restoring,
      detail: [
        `update ${state.replace('_', ' ')}`,
        service.UpdateStatus?.Message,
        taskError && `last ${taskError}`,
        restoreError && `the previous version failed too: ${restoreError}`,
        restoring && `${onSpec.length} of ${desired} tasks run the previous version`,
      ]
        .filter(Boolean)
        .join(': '),
    }
  }
  const updating = state === 'updating' || state === 'rollback_started'
  const converged = !updating && settled
  // A task still pending from before this deploy (no node satisfies it) is the state now, not history.
  const pendingNow = (t: TaskInfo) => t.DesiredState === 'running' && t.Status?.State === 'pending'
  const permanent = converged
    ? undefined
    : permanentFailure(tasks.filter((t) => current(t) && (!before?.has(t.ID ?? '') || pendingNow(t))))
  // Swarm never restarts a task in place: a crash-looping service runs ever newer tasks.
  const upSince = converged ? Math.max(0, ...running.map((t) => Date.parse(t.Status?.Timestamp ?? '') || 0)) : undefined
  return {
    name,
    running: running.length,
    desired,
    converged,
    upSince,
    permanent,
    detail: converged
      ? undefined
      : (permanent ?? lastError ?? (updating ? `update ${state}` : `${onSpec.length}/${desired} tasks running`)),
  }
}

/** The newest task failure waiting cannot fix, in plain words. */
function permanentFailure(tasks: TaskInfo[]): string | undefined {
  const newest = [...tasks].sort((a, b) => (b.Status?.Timestamp ?? '').localeCompare(a.Status?.Timestamp ?? ''))
  for (const t of newest) {
    const reason = permanentTaskFailure({state: t.Status?.State, err: t.Status?.Err, message: t.Status?.Message})
    if (reason) return `task ${t.Status?.State}: ${reason}`
  }
  return undefined
}

/** The ids of a stack's tasks now: those a deploy about to start did not create. */
export async function stackTaskIds(engine: Docker, stack: string): Promise<Set<string>> {
  const services = await stackServices(engine, stack)
  if (services.length === 0) return new Set()
  const tasks = await call<TaskInfo[]>(engine, 'GET /tasks', () =>
    engine.listTasks({filters: {service: services.map((s) => s.ID)}}),
  )
  return new Set(tasks.flatMap((t) => (t.ID ? [t.ID] : [])))
}

/**
 * The latest task error of each service of a stack, whatever spec the task ran (a rolled-back
 * update's tasks ran the spec that was rolled back): what a failed or stuck deploy reports.
 */
export async function stackTaskErrors(engine: Docker, stack: string): Promise<string[]> {
  const services = await stackServices(engine, stack)
  if (services.length === 0) return []
  const tasks = await call<TaskInfo[]>(engine, 'GET /tasks', () =>
    engine.listTasks({filters: {service: services.map((s) => s.ID)}}),
  )
  const out: string[] = []
  for (const service of services) {
    const error = latestTaskError(tasks.filter((t) => t.ServiceID === service.ID))
    if (error) out.push(`${service.Spec?.Name ?? service.ID}: ${error}`)
  }
  return out
}

function latestTaskError(tasks: TaskInfo[]): string | undefined {
  const failed = tasks
    .filter((t) => ['failed', 'rejected'].includes(t.Status?.State ?? '') && (t.Status?.Err || t.Status?.Message))
    .sort((a, b) => (b.Status?.Timestamp ?? '').localeCompare(a.Status?.Timestamp ?? ''))[0]
  return failed ? `task ${failed.Status?.State}: ${failed.Status?.Err ?? failed.Status?.Message}` : undefined
}

/** Waits until every service of the stack runs its desired tasks on the current spec. */
export async function waitConverged(
  engine: Docker,
  stack: string,
  timeoutMs: number,
  signal?: AbortSignal,
  before?: ReadonlySet<string>,
  stableMs = 0,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  // A crash-looping task is "running" for a moment between restarts: converged only once the tasks
  // stayed up `stableMs`, by their own start times. The engine's clock is trusted only back to the
  // last poll that saw the stack not converged, so a node with a skewed clock cannot cut the hold short.
  let notConvergedAt = Number.NEGATIVE_INFINITY
  for (let polls = 0; ; polls++) {
    const states = (await serviceStates(engine, stack, before)).get(stack) ?? []
    const now = Date.now()
    let delay: number
    const stuck = states.find((s) => s.stuck)
    if (stuck) throw new OperationError(`stack ${stack}: service ${stuck.name}: ${stuck.detail}`)
    // Fail fast: a task rejected for a missing mount source, image, secret or node will be rejected again.
    const failed = states.find((s) => s.permanent)
    if (failed) throw new OperationError(`stack ${stack}: service ${failed.name}: ${redact(failed.permanent!)}`)
    const pending = states.filter((s) => !s.converged)
    if (states.length > 0 && pending.length === 0) {
      const reported = Math.max(...states.map((s) => s.upSince ?? now))
      const upSince = Math.min(now, Math.max(reported, notConvergedAt))
      if (now - upSince >= stableMs) return
      last = `running, staying up for ${Math.round(stableMs / 1000)} s`
      // Straight to the end of the hold; the poll then confirms no task was replaced meanwhile.
      delay = Math.min(upSince + stableMs - now + 50, 2000)
    } else {
      notConvergedAt = now
      last = pending.map((s) => `${s.name}: ${s.detail}`).join('; ') || 'no services yet'
      delay = Math.min(250 * 2 ** polls, stableMs > 0 ? 1000 : 2000)
    }
    if (Date.now() + delay > deadline) {
      throw new OperationError(
        `stack ${stack} did not converge within ${Math.round(timeoutMs / 1000)} s (${redact(last)})`,
      )
    }
    if (signal?.aborted) throw new OperationError(`stopped while waiting for stack ${stack} to converge`)
    await sleep(delay, signal)
  }
}

/**
 * After `stack rm`: waits (bounded) for the stack's services and containers to be gone. False when they are
 * not by the deadline, or when `signal` stopped the wait first.
 */
export async function waitRemoved(
  engine: Docker,
  stack: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (let delay = 250; ; delay = Math.min(delay * 2, 2000)) {
    const services = await stackServices(engine, stack)
    const containers = await call<unknown[]>(engine, 'GET /containers/json', () =>
      engine.listContainers({all: true, filters: {label: [`${STACK_LABEL}=${stack}`]}}),
    )
    if (services.length === 0 && containers.length === 0) return true
    if (Date.now() + delay > deadline || signal?.aborted) return false
    await sleep(delay, signal)
  }
}

/**
 * Removes the configs and secrets of a stack (by its namespace label) that its compose no longer
 * defines: the content-addressed ones a new content replaced. One still used by a task that is
 * shutting down is left for the next deploy. Returns the names removed.
 */
export async function pruneStackObjects(
  engine: Docker,
  stack: string,
  keep: {configs: Set<string>; secrets: Set<string>},
): Promise<string[]> {
  const removed: string[] = []
  for (const kind of ['configs', 'secrets'] as const) {
    const filters = {label: [`${STACK_LABEL}=${stack}`]}
    const objects = await call<{ID: string; Spec?: {Name?: string}}[]>(engine, `GET /${kind}`, () =>
      kind === 'configs' ? engine.listConfigs({filters}) : engine.listSecrets({filters}),
    )
    for (const object of objects) {
      const name = object.Spec?.Name ?? ''
      if (keep[kind].has(name)) continue
      try {
        await (kind === 'configs' ? engine.getConfig(object.ID) : engine.getSecret(object.ID)).remove()
        removed.push(name)
      } catch {
        // still in use: the next deploy of the stack tries again
      }
    }
  }
  return removed
}

/**
 * Makes sure each volume a stack will use is what its spec says before `stack deploy` runs: Docker
 * silently keeps an existing volume of the same name whatever its options. One whose driver or
 * options differ is removed (so the deploy creates it right) when no container uses it, and
 * refused with the reason when one does. Returns the names recreated.
 */
export async function checkVolumes(engine: Docker, specs: VolumeSpec[]): Promise<string[]> {
  const recreated: string[] = []
  for (const spec of specs) {
    let info: {Driver?: string; Options?: Record<string, string> | null}
    try {
      info = await call(engine, `GET /volumes/${spec.name}`, () => engine.getVolume(pathName(spec.name)).inspect())
    } catch (error) {
      if (dockerStatus(error) === 404) continue
      throw error
    }
    const options = info.Options ?? {}
    const same =
      (info.Driver ?? 'local') === spec.driver &&
      Object.keys(options).length === Object.keys(spec.options).length &&
      Object.entries(spec.options).every(([k, v]) => options[k] === v)
    if (same) continue
    const describe = (driver: string | undefined, opts: Record<string, string>) =>
      `driver ${driver ?? 'local'}${
        Object.keys(opts).length > 0
          ? ` with ${Object.entries(opts)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')}`
          : ' without options'
      }`
    const users = await call<{Names?: string[]}[]>(engine, 'GET /containers/json', () =>
      engine.listContainers({all: true, filters: {volume: [spec.name]}}),
    )
    if (users.length > 0) {
      throw new OperationError(
        `volume ${spec.name} (volumes.yaml entry "${spec.id}") already exists with ${describe(info.Driver, options)}, but the stack wants ${describe(spec.driver, spec.options)}; ${users.length} container(s) use it (${users
          .flatMap((u) => u.Names ?? [])
          .slice(0, 3)
          .join(', ')}), so it was left as it is: stop them or remove the volume, then reconcile`,
      )
    }
    await call(engine, `DELETE /volumes/${spec.name}`, () => engine.getVolume(pathName(spec.name)).remove())
    recreated.push(spec.name)
  }
  return recreated
}

/** Volumes created by `docker stack deploy`: name → the stack (namespace) that created it. */
export async function stackVolumes(engine: Docker): Promise<Map<string, string>> {
  const answer = await call<{Volumes?: {Name: string; Labels?: Record<string, string> | null}[] | null}>(
    engine,
    'GET /volumes',
    () => engine.listVolumes({filters: {label: [STACK_LABEL]}}),
  )
  return new Map((answer.Volumes ?? []).map((v) => [v.Name, v.Labels?.[STACK_LABEL] ?? '']))
}

export async function imageExists(engine: Docker, reference: string): Promise<boolean> {
  try {
    await call(engine, `GET /images/${reference}/json`, () => engine.getImage(pathName(reference)).inspect())
    return true
  } catch (error) {
    if (dockerStatus(error) === 404) return false
    throw error
  }
}

export type ImageRemoval = 'removed' | 'absent' | 'in-use'

/** Removes an image tag unless a container (any state) still uses it; never forces. */
export async function removeImage(engine: Docker, reference: string): Promise<ImageRemoval> {
  const image = engine.getImage(pathName(reference))
  let id: string
  try {
    id = (await call<{Id: string}>(engine, `GET /images/${reference}/json`, () => image.inspect())).Id
  } catch (error) {
    if (dockerStatus(error) === 404) return 'absent'
    throw error
  }
  const containers = await call<{ImageID?: string}[]>(engine, 'GET /containers/json', () =>
    engine.listContainers({all: true}),
  )
  if (containers.some((c) => c.ImageID === id)) return 'in-use'
  try {
    await call(engine, `DELETE /images/${reference}`, () => image.remove({force: false, noprune: false}))
    return 'removed'
  } catch (error) {
    const status = dockerStatus(error)
    if (status === 404) return 'absent'
    if (status === 409) return 'in-use'
    throw error
  }
}
