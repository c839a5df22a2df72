import {existsSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {ExitCode, type ExitCodeValue, UserError} from '../errors.js'
import {cleanImages, removeStacks} from './apply.js'
import {type SwarmEnv, cacheDir, fetchRepository, requireRepository} from './env.js'
import {reconcile} from './reconcile.js'
import type {ImageCleanup, ReconcileReport} from './reconcile-report.js'
import {RepositoryUrl} from './repository-url.js'
import type {SwarmStore} from './store.js'

/** Repository management: `swarm watch`, `swarm unwatch` and `swarm stop`. */
export interface WatchOptions {
  url: string
  branch?: string
  name?: string
}

/** What `swarm watch` did: the repository registered (or found already watched) and its first reconcile. */
export interface RepositoryWatchReport {
  repository: {url: string; name: string; branch: string | null}
  alreadyWatched: boolean
  reconcile: ReconcileReport
}

export async function watch(env: SwarmEnv, options: WatchOptions): Promise<RepositoryWatchReport> {
  const parsed = RepositoryUrl.parse(options.url)
  const url = parsed.value
  const {store, context} = env
  const existing = store.repositoryByUrl(url)
  if (existing) {
    context.logger.info(`${url} is already watched as ${existing.name}: reconciling it`)
    if (options.branch && options.branch !== existing.branch) {
      // Fetched before it is recorded: a branch that does not exist leaves the repository as it was.
      await fetchRepository(env, {...existing, branch: options.branch})
      store.setBranch(existing.id, options.branch)
    }
    // Watching again re-arms stacks stopped by `swarm stop`.
    for (const stack of store.stacksOf(existing.id))
      if (stack.status === 'stopped') store.recordRemoved(stack.name, 'removed')
    const report = await reconcile(env, {repo: url})
    return {
      repository: {url, name: existing.name, branch: options.branch ?? existing.branch},
      alreadyWatched: true,
      reconcile: report,
    }
  }
  const name = options.name ?? parsed.name
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw new UserError(`repository name "${name}" may only hold letters, digits, . _ and -`)
  }
  const taken = store.repositoryByName(name)
  if (taken) {
    throw new UserError(`the name "${name}" is already used by ${taken.url}`, {hint: 'choose another with --name'})
  }
  const cloneDir = join(cacheDir(context), name)
  if (existsSync(cloneDir)) rmSync(cloneDir, {recursive: true, force: true})
  // Clone before registering: a URL that cannot be fetched is not watched.
  const group = env.progress.begin([`clone ${url}`])
  try {
    group.steps[0]!.start()
    const fetched = await fetchRepository(env, {url, cloneDir, branch: options.branch ?? null})
    group.steps[0]!.done(`clone ${url}: ${fetched.branch} at ${fetched.commit.slice(0, 7)}`)
  } finally {
    await group.end()
  }
  store.addRepository({url, name, branch: options.branch ?? null, cloneDir})
  const report = await reconcile(env, {repo: url})
  return {
    repository: {url, name, branch: report.repositories[0]?.branch ?? null},
    alreadyWatched: false,
    reconcile: report,
  }
}

export interface UnwatchReport {
  repository: {url: string; name: string}
  removedStacks: string[]
  forgottenStacks: string[]
  failedStacks: {stack: string; error: string}[]
  images: ImageCleanup
  exitCode: ExitCodeValue
}

export async function unwatch(env: SwarmEnv, options: {url: string; removeStacks?: boolean}): Promise<UnwatchReport> {
  const {store, context} = env
  const row = requireRepository(store, options.url)
  const report: UnwatchReport = {
    repository: {url: row.url, name: row.name},
    removedStacks: [],
    forgottenStacks: [],
    failedStacks: [],
    images: {removed: [], kept: []},
    exitCode: ExitCode.ok,
  }
  const active = store.stacksOf(row.id).filter((s) => s.status !== 'removed' && s.status !== 'stopped')
  if (options.removeStacks) {
    const results = await removeStacks(
      env,
      active.map((s) => s.name),
      'removed',
    )
    report.removedStacks = results.removed
    report.failedStacks = results.failed
    if (results.failed.length > 0) {
      report.exitCode = ExitCode.failure
      return report
    }
    store.deleteStacksOf(row.id)
    report.images = await cleanImages(env)
  } else {
    report.forgottenStacks = active.map((s) => s.name)
    store.forgetStacksOf(row.id)
  }
  store.removeRepository(row.id)
  rmSync(row.cloneDir, {recursive: true, force: true})
  context.logger.info(`unwatched ${row.url}`, {
    removed: report.removedStacks.join(',') || undefined,
    leftRunning: report.forgottenStacks.join(',') || undefined,
  })
  return report
}

export interface StopReport {
  stopped: string[]
  failed: {stack: string; error: string}[]
  images: ImageCleanup
  exitCode: ExitCodeValue
}

/** The stacks `stop` would act on: the named ones (each must be homeops-managed), or all managed ones. */
export function stopTargets(store: SwarmStore, names: string[]): string[] {
  const managed = store.stacks().filter((s) => s.status !== 'removed' && s.status !== 'stopped')
  if (names.length === 0) return managed.map((s) => s.name)
  const known = new Set(managed.map((s) => s.name))
  const unknown = names.filter((n) => !known.has(n))
  if (unknown.length > 0) {
    throw new UserError(`not a running stack deployed by homeops: ${unknown.join(', ')}; nothing was stopped`, {
      hint: 'homeops never touches stacks it did not deploy; see `homeops swarm status`',
    })
  }
  return [...new Set(names)]
}

export async function stop(env: SwarmEnv, names: string[]): Promise<StopReport> {
  const targets = stopTargets(env.store, names)
  const {removed, failed} = await removeStacks(env, targets, 'stopped')
  const images = await cleanImages(env)
  return {stopped: removed, failed, images, exitCode: failed.length > 0 ? ExitCode.failure : ExitCode.ok}
}
