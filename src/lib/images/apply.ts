import {LockedError, OperationError, UserError, errorMessage} from '../errors.js'
import type {Docker} from '../docker/client.js'
import {registryAuthFor} from '../docker/pull.js'
import type {SelfIdentity} from '../docker/self.js'
import {type TaskInfo, countTasks} from '../docker/service-tasks.js'
import type {UpdateJournal} from '../docker/update-journal.js'
import type {Logger} from '../log/logger.js'
import type {RegistryClient} from '../registry/client.js'
import {parseImageReference} from '../registry/reference.js'
import {localDigestsFor} from '../registry/update-status.js'
import {sleep} from '../time/sleep.js'
import type {UpdateBy, UpdateRecord} from './history.js'
import type {ServiceInfo} from './workloads.js'

/** Service labels homeops keeps on Swarm services it updates (docs/architecture.md "images"). */
export const SERVICE_LABELS = {
  previous: 'homeops.images.previous-version',
  current: 'homeops.images.current-version',
  updated: 'homeops.images.last-updated',
  notified: 'homeops.images.last-notified-version',
} as const

export interface ApplyTarget {
  /** Tag to move to (the same tag for a digest update). */
  tag: string
  /** Pin to this digest (default: the tag's digest in the registry now). */
  digest?: string
}

export interface ApplyDeps {
  docker: Docker
  client: RegistryClient
  logger: Logger
  signal?: AbortSignal
  /** How long the update may take to converge / the new container to start. */
  timeoutMs?: number
  /** Who "self" is (default: detected from /proc and the hostname); for tests. */
  self?: SelfIdentity
  /** The state directory: the per-container update lock shared with `monitor update`. */
  lockDir?: string
  /** Records each step of a container update, so an interrupted one is repaired by the next run. */
  journal?: UpdateJournal
  /** Told each step of a container update (pulling, stopping, …), for the progress the pages show. */
  onStep?: (step: string) => void
}

/** What one update did: the history record, before it gets its id and time. */
export type ApplyOutcome = Omit<UpdateRecord, 'id' | 'at'>

/** `repo:tag@digest` → `repo` (keeps the name exactly as written). */
export function imageName(image: string): string {
  const noDigest = image.replace(/@[^@]+$/, '')
  const slash = noDigest.lastIndexOf('/')
  const colon = noDigest.lastIndexOf(':')
  return colon > slash ? noDigest.slice(0, colon) : noDigest
}

/**
 * Moves a Swarm service to `target`: one service update pinned to the tag's
 * digest (as `docker service update --image` does), with
 * `UpdateConfig.FailureAction=rollback` and the homeops labels, then waits for
 * the update to converge. A rollback is reported as a failure.
 */
export async function updateService(
  deps: ApplyDeps,
  nameOrId: string,
  target: ApplyTarget,
  by: UpdateBy,
): Promise<ApplyOutcome> {
  const service = deps.docker.getService(nameOrId)
  let info: ServiceInfo
  try {
    info = (await service.inspect()) as ServiceInfo
  } catch (error) {
    if ((error as {statusCode?: number}).statusCode === 404) throw new UserError(`no Swarm service named "${nameOrId}"`)
    throw new OperationError(`cannot inspect the service ${nameOrId}: ${errorMessage(error)}`)
  }
  const spec = structuredClone(info.Spec!)
  const name = spec.Name ?? nameOrId
  const current = spec.TaskTemplate!.ContainerSpec!.Image!
  const ref = parseImageReference(current)
  const base = imageName(current)
  const digest =
    target.digest ??
    (await deps.client.manifestDigest({registry: ref.registry, repository: ref.repository, tag: target.tag}))
  const image = `${base}:${target.tag}@${digest}`
  const outcome: ApplyOutcome = {
    workload: name,
    kind: 'service',
    image: base,
    previousVersion: ref.tag ?? null,
    newVersion: target.tag,
    previousDigest: ref.digest ?? null,
    newDigest: digest,
    result: 'applied',
    error: null,
    by,
  }
  if (current === image) throw new UserError(`service ${name} already runs ${image}`)
  const log = deps.logger.child({service: name})
  spec.TaskTemplate!.ContainerSpec!.Image = image
  spec.UpdateConfig = {
    Parallelism: 1,
    Delay: 0,
    Monitor: 5_000_000_000,
    Order: 'stop-first',
    ...spec.UpdateConfig,
    FailureAction: 'rollback',
  }
  spec.Labels = {
    ...spec.Labels,
    [SERVICE_LABELS.previous]: ref.tag ?? current,
    [SERVICE_LABELS.current]: target.tag,
    [SERVICE_LABELS.updated]: new Date().toISOString(),
  }
  const auth = await registryAuthFor(deps.client, current)
  const started = Date.now()
  log.info('updating service', {from: ref.tag, to: target.tag, digest})
  try {
    const options = {...spec, version: info.Version!.Index}
    // dockerode takes the registry auth (sent as X-Registry-Auth) as a first argument; its types omit that form.
    const update = service.update.bind(service) as unknown as (...args: unknown[]) => Promise<unknown>
    await (auth ? update(auth, options) : update(options))
  } catch (error) {
    throw new OperationError(`the update of service ${name} was refused: ${errorMessage(error)}`)
  }
  const state = await waitForConvergence(deps, service, started, target.tag)
  if (state.ok) {
    log.info('service updated', {to: target.tag})
    return outcome
  }
  log.warn('service update failed', {state: state.state, message: state.message})
  return {
    ...outcome,
    result: state.state.startsWith('rollback') ? 'rolled_back' : 'failed',
    error: state.state.startsWith('rollback')
      ? `the update failed and Swarm rolled back to ${ref.tag ?? current}${state.message ? `: ${state.message}` : ''}`
      : `the update did not converge (${state.state}${state.message ? `: ${state.message}` : ''})`,
  }
}

/**
 * Waits for Swarm to finish the update or its rollback, and then for the tasks themselves: Swarm calls an
 * update done once it has started its last task, and a rolled-back task on another node may still be starting.
 * Done means every task the service wants runs its spec now, by the same rule as a GitOps deploy.
 */
async function waitForConvergence(
  deps: ApplyDeps,
  service: ReturnType<Docker['getService']>,
  started: number,
  version: string,
): Promise<{ok: boolean; state: string; message?: string}> {
  const timeoutMs = deps.timeoutMs ?? 120_000
  const deadline = Date.now() + timeoutMs
  const seconds = Math.round(timeoutMs / 1000)
  let done: {state: string; tasks: string} | undefined
  while (Date.now() < deadline) {
    if (deps.signal?.aborted)
      return {ok: false, state: 'aborted', message: 'homeops is stopping; the update continues in Swarm'}
    await sleep(500)
    const info = (await service.inspect()) as ServiceInfo
    const status = info.UpdateStatus
    if (!status?.State) continue
    // Ignore the status of an earlier update.
    if (status.StartedAt && Date.parse(status.StartedAt) < started - 2000) continue
    if (['rollback_paused', 'paused'].includes(status.State))
      return {ok: false, state: status.State, message: status.Message}
    if (status.State !== 'completed' && status.State !== 'rollback_completed') continue
    const tasks = (await deps.docker.listTasks({
      filters: {service: [info.ID], 'desired-state': ['running']},
    })) as TaskInfo[]
    const count = countTasks(info, tasks)
    if (count.settled) return {ok: status.State === 'completed', state: status.State, message: status.Message}
    done = {state: status.State, tasks: `${count.onSpec.length} of ${count.desired} tasks run`}
  }
  if (done?.state === 'rollback_completed')
    return {ok: false, state: done.state, message: `only ${done.tasks} it after ${seconds} s`}
  return {
    ok: false,
    state: 'timeout',
    message: done
      ? `Swarm completed the update, but only ${done.tasks} ${version} after ${seconds} s`
      : `not converged within ${seconds} s`,
  }
}

/**
 * Pulls `target` and recreates the container with the same configuration
 * through the shared `recreateContainer` (monitor's code): the old container
 * comes back if the new one does not start.
 */
export async function updateContainer(
  deps: ApplyDeps,
  nameOrId: string,
  target: ApplyTarget,
  by: UpdateBy,
): Promise<ApplyOutcome> {
  const {ContainerReplacedError, SelfUpdateError, recreateContainer} = await import('../docker/recreate.js')
  if (deps.journal && deps.lockDir && deps.journal.list().length > 0) {
    // An update killed half-way leaves the container under its aside name: repair that first.
    const {recoverInterruptedUpdates} = await import('../docker/update-recovery.js')
    await recoverInterruptedUpdates(deps.docker, deps.journal, {lockDir: deps.lockDir, logger: deps.logger})
  }
  let info
  try {
    info = await deps.docker.getContainer(nameOrId).inspect()
  } catch (error) {
    if ((error as {statusCode?: number}).statusCode === 404) throw new UserError(`no container named "${nameOrId}"`)
    throw new OperationError(`cannot inspect the container ${nameOrId}: ${errorMessage(error)}`)
  }
  const name = info.Name.replace(/^\//, '')
  const current = info.Config.Image
  const ref = parseImageReference(current)
  const base = imageName(current)
  const image = `${base}:${target.tag}`
  const previousImage = await deps.docker
    .getImage(info.Image)
    .inspect()
    .catch(() => undefined)
  const outcome: ApplyOutcome = {
    workload: name,
    kind: 'container',
    image: base,
    previousVersion: ref.tag ?? 'latest',
    newVersion: target.tag,
    previousDigest: localDigestsFor(ref, previousImage?.RepoDigests ?? [])[0] ?? null,
    newDigest: null,
    result: 'applied',
    error: null,
    by,
  }
  try {
    const result = await recreateContainer(deps.docker, name, {
      expectId: info.Id,
      image,
      pull: true,
      healthTimeoutMs: deps.timeoutMs ?? 120_000,
      logger: deps.logger,
      signal: deps.signal,
      registryAuth: await registryAuthFor(deps.client, image),
      self: deps.self,
      lockDir: deps.lockDir,
      journal: deps.journal,
      onStep: deps.onStep,
    })
    const created = await deps.docker.getContainer(result.newId).inspect()
    const newImage = await deps.docker
      .getImage(created.Image)
      .inspect()
      .catch(() => undefined)
    outcome.newDigest = localDigestsFor(parseImageReference(image), newImage?.RepoDigests ?? [])[0] ?? null
    return outcome
  } catch (error) {
    // Another process is updating this container right now: nothing was done, nothing to record (exit 5).
    if (error instanceof UserError || error instanceof LockedError || error instanceof ContainerReplacedError)
      throw error
    // Nothing was touched: recorded as refused, not as a rollback that never happened.
    if (error instanceof SelfUpdateError) return {...outcome, result: 'refused', error: error.message}
    return {...outcome, result: 'rolled_back', error: errorMessage(error)}
  }
}
