import {createHash} from 'node:crypto'
import {mkdirSync} from 'node:fs'

import {OperationError, errorMessage} from '../errors.js'
import {redact} from '../log/redact.js'
import {sleep} from '../time/sleep.js'
import type {RegistryClient} from '../registry/client.js'
import {syncBinding} from './bindings.js'
import {snapshotStack} from './deployed-specs.js'
import {
  checkVolumes,
  imageExists,
  pruneStackObjects,
  removeImage,
  stackDeploy,
  stackRemove,
  stackTaskErrors,
  stackTaskIds,
  waitConverged,
  waitRemoved,
} from './docker.js'
import type {SwarmEnv} from './env.js'
import type {RepositoryLayout} from './layout.js'
import {type Prepared, composeFileOf} from './prepare.js'
import type {ImageCleanup} from './reconcile-report.js'
import {
  CONTENT_LABEL,
  REPOSITORY_LABEL,
  nfsPath,
  stackObjectNames,
  withDeployLabels,
  withServiceLabels,
} from './render.js'

/**
 * Applying: what changes the Swarm, the NFS share and the state, one stack at a time (a reconcile
 * runs several side by side, see `swarm.deployConcurrency`). Each step records its outcome only once
 * it has happened: a deploy is recorded as deployed once its services converged.
 */
export interface DeployTarget {
  repositoryId: number
  repositoryUrl: string
  layout: RepositoryLayout
  /** The commit the clone sits at. */
  commit: string | null
  /** See prepare.ts `renderKey`. */
  renderKey?: string
}

/** What `startDeploy` hands to `finishDeploy`: the stack's tasks from before this deploy. */
export interface StartedDeploy {
  before: ReadonlySet<string>
}

/**
 * The part of a deploy that works: bindings and volume folders on NFS, volumes checked, images
 * pulled, `docker stack deploy` (which returns once the services are created or updated). A
 * reconcile runs this inside one of its `swarm.deployConcurrency` slots.
 */
export async function startDeploy(
  env: SwarmEnv,
  target: DeployTarget,
  prepared: Prepared,
  knowsDetach: boolean,
): Promise<StartedDeploy> {
  const {store, context} = env
  const name = prepared.layout.name
  store.markDeploying(target.repositoryId, name)
  // Bindings and volume folders on NFS first, so the new tasks find their files.
  for (const binding of prepared.bindings) {
    syncBinding(binding.content, target.layout.nfs!.path, binding.target, `binding "${binding.volumeId}"`)
  }
  for (const volume of prepared.rendered.volumes) {
    if (volume.type === 'volume' && volume.path)
      mkdirSync(nfsPath(target.layout, volume), {recursive: true, mode: 0o755})
  }
  const recreated = await checkVolumes(env.engine, prepared.rendered.volumeSpecs)
  if (recreated.length > 0) {
    context.logger.warn(`stack ${name}: recreated volumes whose options had changed (no container used them)`, {
      volumes: recreated.join(','),
    })
  }
  await pullImages(env, prepared.rendered.images)
  // Tasks that exist now are the previous deploy's: their errors say nothing about this one.
  const before = await stackTaskIds(env.engine, name)
  const contentDigest = createHash('sha256')
    .update(JSON.stringify([prepared.parts.bindings, prepared.parts.volumes, prepared.parts.nfs]))
    .digest('hex')
    .slice(0, 16)
  await stackDeploy({
    ...env.cli,
    signal: context.signal,
    stack: name,
    compose: withDeployLabels(
      prepared.bindings.length > 0
        ? withServiceLabels(prepared.rendered.compose, {[CONTENT_LABEL]: contentDigest})
        : prepared.rendered.compose,
      {[REPOSITORY_LABEL]: target.repositoryUrl},
    ),
    cwd: prepared.layout.dir,
    secrets: prepared.secrets,
    timeoutMs: context.config.swarm.convergeTimeoutSeconds * 1000,
    knowsDetach,
  })
  return {before}
}

/**
 * The part of a deploy that waits: until the services converged and their tasks stayed up `swarm.stableSeconds`
 * (5 s, what the docker CLI of Docker 23+ checks), failing at once on a task failure waiting cannot fix; then
 * the records. It holds no deploy slot: the waits of every stack run side by side.
 */
export async function finishDeploy(
  env: SwarmEnv,
  target: DeployTarget,
  prepared: Prepared,
  started: StartedDeploy,
): Promise<void> {
  const {store, context} = env
  const name = prepared.layout.name
  const timeoutMs = context.config.swarm.convergeTimeoutSeconds * 1000
  try {
    const stableMs = context.config.swarm.stableSeconds * 1000
    await waitConverged(env.engine, name, timeoutMs, context.signal, started.before, stableMs)
  } catch (error) {
    // Add what the tasks said when the wait's own message does not.
    const tasks = await stackTaskErrors(env.engine, name).catch(() => [])
    const message = errorMessage(error)
    const missing = tasks.filter((t) => !message.includes(t.slice(t.indexOf(': ') + 2)))
    if (missing.length === 0) throw error
    throw new OperationError(`${message}; ${missing.join('; ')}`)
  }
  const pruned = await pruneStackObjects(env.engine, name, stackObjectNames(prepared.rendered.compose, name)).catch(
    (error: unknown) => {
      context.logger.warn(`stack ${name}: could not list its configs and secrets`, {error: errorMessage(error)})
      return []
    },
  )
  if (pruned.length > 0)
    context.logger.info(`stack ${name}: removed replaced configs/secrets`, {names: pruned.join(',')})
  store.recordDeployed(
    name,
    prepared.hash,
    JSON.stringify(prepared.parts),
    target.commit,
    prepared.rendered.images,
    target.renderKey,
  )
  await snapshotStack(store, env.engine, name, composeFileOf(target.layout, prepared.layout), store.hashKey()).catch(
    (error: unknown) => {
      // The previous record would report this deploy as drift: dropped, the next run takes a new baseline.
      store.recordServiceFingerprints(name, null, [])
      context.logger.warn(`stack ${name}: could not record its services for drift detection`, {
        error: errorMessage(error),
      })
    },
  )
}

/** `always`: pull before every deploy; `ifnotpresent`: only images missing here. Records what homeops pulled. */
async function pullImages(env: SwarmEnv, images: string[]): Promise<void> {
  const {context} = env
  const always = context.config.swarm.pullPolicy === 'always'
  let registries: RegistryClient | undefined
  try {
    for (const reference of images) {
      const present = await imageExists(env.engine, reference)
      if (present && !always) continue
      const [{pullImage, registryAuthFor}, {createRegistryClient}] = await Promise.all([
        import('../docker/pull.js'),
        import('../registry/factory.js'),
      ])
      registries ??= createRegistryClient(context)
      try {
        const auth = await registryAuthFor(registries, reference)
        await pullImage(env.engine, reference, {auth, logger: context.logger, signal: context.signal})
      } catch (error) {
        if (!present) throw error
        context.logger.warn(`pull ${reference} failed, deploying the local image`, {error: errorMessage(error)})
        continue
      }
      if (!present) env.store.notePulled(reference)
    }
  } finally {
    await registries?.close()
  }
}

/** Docker's wording when `stack rm` reached a network while tasks on it were still shutting down. */
const NETWORK_STILL_IN_USE = /is in use by task/i

/** How long a second `stack rm` keeps trying once the stack's containers are gone. */
const LEFTOVER_RETRY_MS = 30_000

/**
 * `stack rm`, then the wait for its containers to be gone (a warning after 120 s, not a failure). A stop
 * (SIGTERM) ends the wait at once: the services are already removed, and a network left behind by the race
 * below is an error, so the stack is removed again by the next run.
 */
export async function removeStack(env: SwarmEnv, name: string): Promise<void> {
  const {logger, signal} = env.context
  const remove = () => stackRemove({...env.cli, stack: name})
  let raced = false
  try {
    await remove()
  } catch (error) {
    // `stack rm` removes the services, then at once their networks, while the tasks still stop:
    // the network refusal is a race, not a failure. What is left goes once the tasks have.
    if (!NETWORK_STILL_IN_USE.test(errorMessage(error))) throw error
    raced = true
  }
  const gone = await waitRemoved(env.engine, name, 120_000, signal)
  if (!gone && !signal?.aborted) logger.warn(`stack ${name}: containers still shutting down after 120 s`)
  if (!raced) return
  const deadline = Date.now() + LEFTOVER_RETRY_MS
  for (let delay = 500; ; delay = Math.min(delay * 2, 4000)) {
    if (signal?.aborted) throw new OperationError(`stack ${name}: stopped before its network was removed`)
    try {
      await remove()
      return
    } catch (error) {
      if (!NETWORK_STILL_IN_USE.test(errorMessage(error)) || Date.now() + delay > deadline) throw error
    }
    await sleep(delay, signal)
  }
}

/** Removes stacks one after the other, recording each as `status` (or its error); one failing stops none. */
export async function removeStacks(
  env: SwarmEnv,
  names: string[],
  status: 'removed' | 'stopped',
): Promise<{removed: string[]; failed: {stack: string; error: string}[]}> {
  const removed: string[] = []
  const failed: {stack: string; error: string}[] = []
  if (names.length === 0) return {removed, failed}
  const group = env.progress.begin(names.map((name) => `remove ${name}`))
  try {
    for (const [i, name] of names.entries()) {
      const step = group.steps[i]!
      step.start()
      try {
        await removeStack(env, name)
        env.store.recordRemoved(name, status)
        removed.push(name)
        step.done(`remove ${name}: removed from the Swarm`)
      } catch (error) {
        const message = redact(errorMessage(error))
        env.store.recordRemoveFailed(name, message)
        failed.push({stack: name, error: message})
        step.done(`remove ${name}: failed: ${message}`)
      }
    }
  } finally {
    await group.end()
  }
  return {removed, failed}
}

/** Removes images homeops pulled that no stack of any repository references and no container uses. */
export async function cleanImages(env: SwarmEnv): Promise<ImageCleanup> {
  const out: ImageCleanup = {removed: [], kept: []}
  const group = env.progress.begin(['images'])
  const step = group.steps[0]!
  step.start()
  try {
    for (const image of env.store.images()) {
      if (image.references > 0) continue
      if (!image.pulledByHomeops) {
        env.store.forgetImage(image.reference)
        continue
      }
      try {
        const result = await removeImage(env.engine, image.reference)
        if (result === 'in-use') {
          out.kept.push({reference: image.reference, reason: 'a container still uses it'})
          continue
        }
        env.store.forgetImage(image.reference)
        if (result === 'removed') out.removed.push(image.reference)
      } catch (error) {
        out.kept.push({reference: image.reference, reason: redact(errorMessage(error))})
      }
    }
    const removed = out.removed.length > 0 ? `removed ${out.removed.join(', ')}` : 'nothing to remove'
    const kept = out.kept.length > 0 ? `; kept ${out.kept.map((k) => `${k.reference} (${k.reason})`).join(', ')}` : ''
    step.done(`images: ${removed}${kept}`)
  } finally {
    await group.end()
  }
  return out
}
