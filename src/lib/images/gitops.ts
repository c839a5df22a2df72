import type {Context} from '../context.js'
import {LockedError, errorMessage} from '../errors.js'
import {redact} from '../log/redact.js'
import type {ManagedServiceRow} from '../swarm/store.js'
import type {ApplyOutcome, ApplyTarget} from './apply.js'
import type {CheckResult, GitopsOwner} from './checker.js'
import type {UpdateBy} from './history.js'

/*
 * Swarm services homeops deploys from git (`homeops swarm watch`): git is their truth, so `images`
 * never changes them behind its back. It says where their image is written; an update is refused with
 * the file to change (`images.gitops: refuse`, the default), or committed to the repository, pushed and
 * deployed by a reconcile (`images.gitops: commit`). The owner's shape (`GitopsOwner`) is part of a
 * check result (checker.ts).
 */

/** Service name → where git keeps it; empty when nothing is watched. */
export async function gitopsOwners(
  context: Context,
): Promise<Map<string, {owner: GitopsOwner; row: ManagedServiceRow}>> {
  const {SwarmStore} = await import('../swarm/store.js')
  const rows = new SwarmStore(await context.state()).managedServices()
  return new Map(
    rows.map((row) => [
      row.service,
      {
        owner: {
          repository: row.repositoryName,
          url: row.repositoryUrl,
          stack: row.stack,
          service: row.composeService,
          file: row.composeFile,
        },
        row,
      },
    ]),
  )
}

/** `managed by git (repo homelab, hello/compose.yml)`. */
export function managedText(owner: GitopsOwner): string {
  return `managed by git (repo ${owner.repository}, ${owner.file ?? `stack ${owner.stack}`})`
}

type Workload = Pick<CheckResult, 'workload' | 'kind' | 'image' | 'reference' | 'currentTag' | 'currentDigest'>

/** What `images update` / AUTO_UPDATE do with a service git manages; the outcome is recorded by the caller. */
export async function gitopsUpdate(
  context: Context,
  workload: Workload,
  managed: {owner: GitopsOwner; row: ManagedServiceRow},
  target: ApplyTarget,
  by: UpdateBy,
): Promise<ApplyOutcome> {
  const {owner, row} = managed
  const outcome: ApplyOutcome = {
    workload: workload.workload,
    kind: 'service',
    image: workload.image,
    previousVersion: workload.currentTag,
    newVersion: target.tag,
    previousDigest: workload.currentDigest,
    newDigest: target.digest ?? null,
    result: 'refused',
    error: null,
    by,
  }
  const where = owner.file ?? `the compose file of stack ${owner.stack}`
  if (context.config.images.gitops !== 'commit') {
    return {
      ...outcome,
      error: `${workload.workload} is ${managedText(owner)}: an update here would be undone by the next reconcile; change services.${owner.service}.image to ${workload.image}:${target.tag} in ${where} of ${owner.url} and push (homeops swarm reconcile deploys it), or set images.gitops: commit to let homeops commit it`,
    }
  }
  const lock = await context.lock('swarm')
  try {
    const [{openSwarm, reconcile}, {commitImageBump}] = await Promise.all([
      import('../swarm/reconcile.js'),
      import('../swarm/image-bump.js'),
    ])
    const env = await openSwarm(context)
    const bump = await commitImageBump(env, {
      owner: row,
      runningImage: workload.reference,
      tag: target.tag,
      from: workload.currentTag,
    })
    context.logger.info(`committed ${bump.commit.slice(0, 7)} "${bump.message}" to ${bump.repository}`, {
      file: bump.file,
      branch: bump.branch,
    })
    const report = await reconcile(env, {repo: owner.url})
    const stack = report.stacks.find((s) => s.stack === owner.stack)
    if (stack?.outcome === 'deployed') return {...outcome, result: 'applied', error: null}
    return {
      ...outcome,
      result: 'failed',
      error: `committed ${bump.commit.slice(0, 7)} to ${bump.repository}, but the reconcile did not deploy it: ${stack?.error ?? stack?.reason ?? report.repositories[0]?.error ?? 'stack not planned'}`,
    }
  } catch (error) {
    if (error instanceof LockedError) throw error
    return {...outcome, result: 'failed', error: redact(errorMessage(error))}
  } finally {
    lock.release()
  }
}
