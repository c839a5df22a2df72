import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, rmSync, statSync} from 'node:fs'
import {isAbsolute, join, relative, resolve} from 'node:path'

import type {Context} from '../context.js'
import type {DockerEngine} from '../docker/engine.js'
import {ExitCode, type ExitCodeValue, OperationError, TransientError, UserError, errorMessage} from '../errors.js'
import {redact, registerSecret} from '../log/redact.js'
import {FileReadError, readBoundedText} from '../fs/read-file.js'
import {stateDir} from '../paths.js'
import {runTasks, type Task} from '../ui/terminal.js'
import {digestBinding, readBinding, syncBinding} from './bindings.js'
import {
  type CliOptions,
  MAX_ENV_ENTRY_BYTES,
  MAX_ENV_TOTAL_BYTES,
  checkVolumes,
  deployEnvironment,
  imageExists,
  pruneStackObjects,
  pullImage,
  stackTaskErrors,
  stackVolumes,
  removeImage,
  STACK_LABEL,
  stackDeploy,
  stackServices,
  stackRemove,
  stackTaskIds,
  supportsDetach,
  waitConverged,
  waitRemoved,
  watchPermanentFailure,
} from './docker.js'
import {type FetchResult, authFor, checkRepositoryUrl, repositoryName, syncClone} from './git.js'
import {LayoutError, type RepositoryLayout, type StackLayout, readLayout, resolveInside} from './layout.js'
import {
  CONTENT_LABEL,
  REPOSITORY_LABEL,
  type RenderedStack,
  nfsPath,
  renderStack,
  stackObjectNames,
  withDeployLabels,
  withServiceLabels,
} from './render.js'
import {references, undefinedReferences} from './interpolation.js'
import {PRUNE_HINT, pruneRefusal} from './prune-guard.js'
import {recordFingerprints, servicesByStack, snapshotStack, stackDrift} from './deployed-specs.js'
import {type DriftEntry, type ServiceSpec, describeDrift} from './drift.js'
import {type HashParts, changedParts, hashOfParts, secretsHmac, stackHash} from './stack-hash.js'
import {type RepositoryRow, type StackRow, SwarmStore} from './store.js'

/**
 * One reconcile (DESIGN.md §5.6): fetch every watched repository into its
 * cached clone, compute each stack's hash, deploy only what changed, remove
 * stacks dropped from `stacks.yaml`, then release images nothing references.
 * A failing stack never stops the others; a repository whose layout is broken
 * or whose remote is unreachable keeps everything it has deployed.
 */
export type PlanAction = 'create' | 'update' | 'unchanged' | 'remove' | 'skip' | 'fail'

export interface StackResult {
  stack: string
  repository: string
  action: PlanAction
  reason: string
  /** What happened: `planned` under --dry-run; `drifted`: changed in the Swarm, left so (driftPolicy: report). */
  outcome: 'deployed' | 'unchanged' | 'drifted' | 'removed' | 'skipped' | 'failed' | 'planned'
  hash?: string
  /** What runs differently from what homeops deployed (drift.ts), when it does. */
  drift?: DriftEntry[]
  error?: string
  durationMs?: number
}

export interface RepositoryResult {
  url: string
  name: string
  branch: string | null
  commit: string | null
  previousCommit: string | null
  result: 'ok' | 'failed' | 'unreachable'
  error?: string
}

export interface ImageCleanup {
  removed: string[]
  kept: {reference: string; reason: string}[]
}

export interface ReconcileReport {
  dryRun: boolean
  repositories: RepositoryResult[]
  stacks: StackResult[]
  images: ImageCleanup
  exitCode: ExitCodeValue
  durationMs: number
}

export interface ReconcileOptions {
  force?: boolean
  dryRun?: boolean
  /** Only this repository (URL as watched, or its name). */
  repo?: string
  /** Lets this run remove more stacks than `swarm.pruneMaxShare` (or all of them). */
  allowPruneAll?: boolean
}

interface Prepared {
  layout: StackLayout
  rendered: RenderedStack
  hash: string
  parts: HashParts
  secrets: Record<string, string>
  bindings: {volumeId: string; target: string; content: ReturnType<typeof readBinding>}[]
}

interface RepoWork {
  row: RepositoryRow
  result: RepositoryResult
  fetch?: FetchResult
  layout?: RepositoryLayout
  /** See `renderKey`: the same for every stack of the repository in this run. */
  renderKey?: string
  plans: {result: StackResult; prepared?: Prepared; record?: boolean}[]
}

export interface SwarmEnv {
  context: Context
  store: SwarmStore
  engine: DockerEngine
  cli: CliOptions
}

export async function openSwarm(context: Context): Promise<SwarmEnv> {
  const [db, engine] = await Promise.all([context.state(), context.engine()])
  return {
    context,
    store: new SwarmStore(db),
    engine,
    cli: {cli: context.config.swarm.dockerCli, address: engine.address, signal: context.signal},
  }
}

export function cacheDir(context: Context): string {
  return context.config.swarm.cacheDir ?? join(stateDir(context.statePath), 'swarm', 'repos')
}

/** A local path given to `watch` is stored absolute, so cron runs from any directory find it. */
export function normaliseUrl(url: string): string {
  const trimmed = url.trim()
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) || /^[^/]+@[^/]+:/.test(trimmed)) return trimmed.replace(/\/+$/, '')
  return isAbsolute(trimmed) ? trimmed.replace(/\/+$/, '') : resolve(trimmed)
}

export function findRepository(store: SwarmStore, urlOrName: string): RepositoryRow | undefined {
  return (
    store.repositoryByUrl(urlOrName) ??
    store.repositoryByUrl(normaliseUrl(urlOrName)) ??
    store.repositoryByName(urlOrName)
  )
}

function tokens(context: Context) {
  const s = context.config.swarm
  return {githubToken: s.githubToken, githubTokenHosts: s.githubTokenHosts, repositories: s.repositories}
}

export async function fetchRepository(
  env: SwarmEnv,
  row: Pick<RepositoryRow, 'url' | 'cloneDir' | 'branch'>,
): Promise<FetchResult> {
  return syncClone({
    url: row.url,
    dir: row.cloneDir,
    branch: row.branch,
    auth: authFor(row.url, tokens(env.context)),
    signal: env.context.signal,
    timeoutMs: env.context.config.swarm.gitTimeoutSeconds * 1000,
    onWarning: (message, fields) => env.context.logger.warn(`${repositoryName(row.url)}: ${message}`, fields),
  })
}

export async function reconcile(env: SwarmEnv, options: ReconcileOptions = {}): Promise<ReconcileReport> {
  const started = Date.now()
  const {context, store} = env
  const dryRun = options.dryRun ?? false
  let rows = store.repositories()
  if (options.repo !== undefined) {
    const row = findRepository(store, options.repo)
    if (!row) {
      throw new UserError(`${options.repo} is not watched`, {
        hint: 'see `homeops swarm status` for watched repositories',
      })
    }
    rows = [row]
  }
  const hmacKey = store.hashKey(!dryRun)
  const work: RepoWork[] = rows.map((row) => ({
    row,
    plans: [],
    result: {
      url: row.url,
      name: row.name,
      branch: row.branch,
      commit: row.lastCommit,
      previousCommit: row.lastCommit,
      result: 'ok',
    },
  }))
  const term = context.terminal
  const log = context.logger

  // 1. fetch: every repository at once (network-bound), reported one task each.
  const fetches = new Map(work.map((w) => [w, fetchRepository(env, w.row)] as const))
  for (const promise of fetches.values()) promise.catch(() => {})
  // Which stacks exist in the Swarm (for the plan): one service listing, no task listing (that is for
  // status), asked while the remotes answer.
  const services = stackServices(env.engine)
  services.catch(() => {})
  await runTasks(
    term,
    log,
    work.map<Task<null>>((w) => ({
      title: `fetch ${w.row.name}`,
      run: async (_ctx, setTitle) => {
        try {
          const fetched = await fetches.get(w)!
          w.fetch = fetched
          w.result.commit = fetched.commit
          w.result.branch = fetched.branch
          if (!dryRun) store.recordFetch(w.row.id, fetched.commit, fetched.branch)
          const moved =
            fetched.previous && fetched.previous !== fetched.commit ? ` (was ${fetched.previous.slice(0, 7)})` : ''
          setTitle(
            `fetch ${w.row.name}: ${fetched.branch} at ${fetched.commit.slice(0, 7)}${fetched.cloned ? ' (cloned)' : moved}`,
          )
        } catch (error) {
          w.result.result = error instanceof TransientError ? 'unreachable' : 'failed'
          w.result.error = redact(errorMessage(error))
          setTitle(`fetch ${w.row.name}: failed, keeping what is deployed: ${w.result.error}`)
          if (!term.interactive) log.error(`fetch ${w.row.name} failed`, {error: w.result.error})
        }
      },
    })),
    null,
  )

  // 2. plan
  // Stack name → the repositories its services say they were deployed from ('' for none).
  const swarmStacks = new Map<string, Set<string>>()
  const listed = await services
  const running = servicesByStack(listed)
  for (const service of listed) {
    const stackName = service.Spec?.Labels?.[STACK_LABEL]
    if (!stackName) continue
    const from = swarmStacks.get(stackName) ?? new Set<string>()
    from.add(service.Spec?.Labels?.[REPOSITORY_LABEL] ?? '')
    swarmStacks.set(stackName, from)
  }
  const claimed = new Map<string, string>()
  const environment = deployEnvironment(env.cli.address)
  let legacy: Map<string, string> | undefined
  for (const w of work) {
    if (!w.fetch) continue
    try {
      w.layout = {...readLayout(w.row.cloneDir), namespace: w.row.name}
    } catch (error) {
      w.result.result = 'failed'
      w.result.error = redact(errorMessage(error))
      continue
    }
    // Volumes without a path hold their data in Docker: one an older homeops created under its bare id
    // for a stack of this repository keeps that name (a new name would be a new, empty volume).
    const pathless = w.layout.volumes.filter((v) => v.type === 'volume' && !v.path)
    if (pathless.length > 0) {
      legacy ??= await stackVolumes(env.engine).catch(() => new Map<string, string>())
      const own = new Set(w.layout.stacks.map((s) => s.name))
      w.layout.legacyVolumes = pathless.filter((v) => own.has(legacy!.get(v.id) ?? '')).map((v) => v.id)
    }
    w.renderKey = renderKey(context.version, w.fetch.commit, w.layout, environment)
    for (const stack of w.layout.stacks) {
      // A stack belongs to the repository that deployed it first (its row says which); planStack
      // refuses it to any other. One nobody owns yet goes to the first repository of this run.
      const row = store.stack(stack.name)
      const owned = row !== undefined && row.repositoryId !== null && row.status !== 'removed'
      const rival = owned ? undefined : claimed.get(stack.name)
      const plan = rival
        ? failPlan(
            stack.name,
            w.row.name,
            `stack "${stack.name}" is also listed by repository ${rival}, which deploys it first; remove it from one of the two stacks.yaml`,
            false,
          )
        : planStack(
            env,
            w,
            stack,
            {hmacKey, force: options.force ?? false, dryRun, environment},
            swarmStacks.get(stack.name),
          )
      if (!owned && !rival) claimed.set(stack.name, w.row.name)
      if (plan.result.action === 'unchanged')
        checkDrift(env, w, stack, plan, running.get(stack.name) ?? [], {hmacKey, dryRun, environment})
      w.plans.push(plan)
    }
    const listed = new Set(w.layout.stacks.map((s) => s.name))
    for (const row of store.stacksOf(w.row.id)) {
      if (listed.has(row.name) || row.status === 'removed') continue
      w.plans.push({
        result: {
          stack: row.name,
          repository: w.row.name,
          action: 'remove',
          reason: row.status === 'stopped' ? 'no longer in stacks.yaml (already stopped)' : 'no longer in stacks.yaml',
          outcome: 'planned',
        },
      })
    }
    if (context.config.swarm.pruneProtection && !options.allowPruneAll) guardPrune(env, w)
  }
  await runTasks(
    term,
    log,
    work
      .filter((w) => w.fetch)
      .map<Task<null>>((w) => ({
        title: `plan ${w.row.name}`,
        run: async (_ctx, setTitle) => {
          if (!w.layout) {
            setTitle(`plan ${w.row.name}: invalid repository, nothing changed: ${w.result.error}`)
            if (!term.interactive) log.error(`plan ${w.row.name} failed`, {error: w.result.error})
            return
          }
          const counts = new Map<string, number>()
          for (const p of w.plans) counts.set(p.result.action, (counts.get(p.result.action) ?? 0) + 1)
          const summary = [...counts].map(([a, n]) => `${n} ${a}`).join(', ') || 'no stacks'
          setTitle(`plan ${w.row.name}: ${summary}`)
          if (!term.interactive) {
            for (const p of w.plans) log.info(`plan ${p.result.stack}: ${p.result.action}`, {reason: p.result.reason})
          }
        },
      })),
    null,
  )

  const results = work.flatMap((w) => w.plans.map((p) => p.result))
  if (dryRun) {
    for (const r of results) if (r.action !== 'fail') r.outcome = 'planned'
    for (const r of results) if (r.action === 'fail') r.outcome = 'failed'
    return finish(started, true, work, results, {removed: [], kept: []})
  }

  // 3. deploy
  const useDetach = work.some((w) => w.plans.some((p) => p.prepared && ['create', 'update'].includes(p.result.action)))
    ? await supportsDetach(env.cli)
    : false
  const deployTasks: Task<null>[] = []
  for (const w of work) {
    for (const plan of w.plans) {
      const r = plan.result
      if (r.action === 'unchanged' || r.action === 'skip') {
        r.outcome = r.action === 'skip' ? 'skipped' : r.drift ? 'drifted' : 'unchanged'
        continue
      }
      if (r.action === 'fail') {
        r.outcome = 'failed'
        if (plan.record !== false) store.recordFailed(w.row.id, r.stack, r.error ?? r.reason)
        if (!term.interactive) log.error(`stack ${r.stack} failed`, {repository: w.row.name, error: r.error})
        continue
      }
      if (r.action !== 'create' && r.action !== 'update') continue
      deployTasks.push({
        title: `deploy ${r.stack}`,
        run: async (_ctx, setTitle) => {
          const t0 = Date.now()
          try {
            await deployStack(env, w, plan.prepared!, useDetach)
            r.outcome = 'deployed'
            setTitle(
              `deploy ${r.stack}: ${r.action === 'create' ? 'created' : 'updated'} (${r.reason}) in ${seconds(Date.now() - t0)}`,
            )
          } catch (error) {
            r.outcome = 'failed'
            r.error = redact(errorMessage(error))
            store.recordFailed(w.row.id, r.stack, r.error, plan.prepared!.rendered.images)
            setTitle(`deploy ${r.stack}: failed: ${r.error}`)
            if (!term.interactive) log.error(`stack ${r.stack} failed`, {repository: w.row.name, error: r.error})
          } finally {
            r.durationMs = Date.now() - t0
          }
        },
      })
    }
  }
  // Stacks are independent (each owns its services, volumes, bindings and state row): a bounded
  // pool deploys them side by side, so a run takes about as long as its slowest stacks.
  if (deployTasks.length > 0) {
    await runTasks(term, log, deployTasks, null, {concurrency: context.config.swarm.deployConcurrency})
  }

  // 4. prune
  const removals = results.filter((r) => r.action === 'remove')
  if (removals.length > 0) {
    await runTasks(
      term,
      log,
      removals.map<Task<null>>((r) => ({
        title: `remove ${r.stack}`,
        run: async (_ctx, setTitle) => {
          const t0 = Date.now()
          try {
            const row = store.stack(r.stack)
            if (row?.status !== 'stopped') await removeStack(env, r.stack)
            store.recordRemoved(r.stack, 'removed')
            r.outcome = 'removed'
            setTitle(`remove ${r.stack}: removed from the Swarm (${r.reason})`)
          } catch (error) {
            r.outcome = 'failed'
            r.error = redact(errorMessage(error))
            store.recordRemoveFailed(r.stack, r.error)
            setTitle(`remove ${r.stack}: failed: ${r.error}`)
            if (!term.interactive) log.error(`removing stack ${r.stack} failed`, {error: r.error})
          } finally {
            r.durationMs = Date.now() - t0
          }
        },
      })),
      null,
    )
  }

  for (const w of work) {
    const failed = w.result.result !== 'ok' || w.plans.some((p) => p.result.outcome === 'failed')
    if (w.result.result === 'ok' && failed) w.result.result = 'failed'
    store.recordRun(w.row.id, w.result.result, w.result.error ?? null)
  }

  // 5. images
  const images = await cleanImages(env)
  return finish(started, false, work, results, images)
}

function finish(
  started: number,
  dryRun: boolean,
  work: RepoWork[],
  stacks: StackResult[],
  images: ImageCleanup,
): ReconcileReport {
  const anyFailed = stacks.some((s) => s.outcome === 'failed') || work.some((w) => w.result.result === 'failed')
  const anyUnreachable = work.some((w) => w.result.result === 'unreachable')
  return {
    dryRun,
    repositories: work.map((w) => w.result),
    stacks,
    images,
    exitCode: anyFailed ? ExitCode.failure : anyUnreachable ? ExitCode.temporary : ExitCode.ok,
    durationMs: Date.now() - started,
  }
}

/**
 * Refuses the whole repository when its plan removes too many of its stacks (see prune-guard.ts):
 * nothing of it is applied this run, and the plan (also under --dry-run) says why.
 */
function guardPrune(env: SwarmEnv, w: RepoWork): void {
  const active = env.store.stacksOf(w.row.id).filter((s) => s.status !== 'removed' && s.status !== 'stopped')
  const activeNames = new Set(active.map((s) => s.name))
  const removing = w.plans
    .filter((p) => p.result.action === 'remove' && activeNames.has(p.result.stack))
    .map((p) => p.result.stack)
  const refusal = pruneRefusal({
    deployed: [...activeNames],
    removing,
    listed: w.layout?.stacks.length ?? 0,
    maxShare: env.context.config.swarm.pruneMaxShare,
  })
  if (!refusal) return
  const error = `${refusal} (${PRUNE_HINT})`
  w.result.result = 'failed'
  w.result.error = error
  w.plans = w.plans.map((p) =>
    p.result.action === 'remove'
      ? failPlan(p.result.stack, w.row.name, `removal refused: ${refusal}`, false)
      : {
          result: {
            ...p.result,
            action: 'skip',
            reason: 'not applied: the repository would remove too many stacks',
            outcome: 'skipped',
          },
          record: false,
        },
  )
}

/** `record: false` for stacks homeops does not own (another repository's, or not deployed by homeops). */
function failPlan(
  stack: string,
  repository: string,
  error: string,
  record = true,
): {result: StackResult; record: boolean} {
  return {result: {stack, repository, action: 'fail', reason: error, outcome: 'failed', error}, record}
}

function planStack(
  env: SwarmEnv,
  w: RepoWork,
  stack: StackLayout,
  {
    hmacKey,
    force,
    dryRun,
    environment,
  }: {hmacKey: string; force: boolean; dryRun: boolean; environment: Record<string, string>},
  deployedFrom: Set<string> | undefined,
): {result: StackResult; prepared?: Prepared; record?: boolean} {
  const row = env.store.stack(stack.name)
  const inSwarm = deployedFrom !== undefined
  // Deployed by this very repository before an `unwatch` that kept it running: adopted again.
  const adopting =
    inSwarm && (!row || row.status === 'removed') && deployedFrom.size === 1 && deployedFrom.has(w.row.url)
  if (row && row.repositoryId !== w.row.id && row.repositoryId !== null && row.status !== 'removed') {
    const owner = env.store.repositories().find((r) => r.id === row.repositoryId)?.name ?? 'another repository'
    return failPlan(
      stack.name,
      w.row.name,
      `stack "${stack.name}" is owned by repository ${owner}, which deployed it first; remove it from this repository's stacks.yaml (or unwatch ${owner})`,
      false,
    )
  }
  if (inSwarm && !adopting && (!row || row.status === 'removed' || row.status === 'stopped')) {
    const others = [...deployedFrom].filter(Boolean)
    return failPlan(
      stack.name,
      w.row.name,
      others.length > 0
        ? `a stack named "${stack.name}" already runs in the Swarm, deployed by homeops from ${others.join(', ')}; refusing to take it over`
        : `a stack named "${stack.name}" already runs in the Swarm and was not deployed by homeops from this repository; refusing to take it over`,
      false,
    )
  }
  if (!force && inSwarm && row) {
    const hash = reusedHash(row, w.renderKey, w.layout!, stack, hmacKey)
    if (hash) {
      const result = {stack: stack.name, repository: w.row.name, outcome: 'planned' as const, hash}
      return {result: {...result, action: 'unchanged', reason: 'hash unchanged'}}
    }
  }
  let prepared: Prepared
  try {
    prepared = prepareStack(w.layout!, stack, hmacKey, environment)
  } catch (error) {
    return failPlan(stack.name, w.row.name, redact(errorMessage(error)))
  }
  if (
    !dryRun &&
    w.renderKey &&
    row?.status === 'deployed' &&
    row.hash === prepared.hash &&
    row.renderKey !== w.renderKey
  ) {
    env.store.noteRendered(stack.name, prepared.hash, w.renderKey)
  }
  const base = {stack: stack.name, repository: w.row.name, outcome: 'planned' as const, hash: prepared.hash}
  const decide = (): {action: PlanAction; reason: string} => {
    if (adopting) return {action: 'update', reason: 'adopted: deployed from this repository before it was unwatched'}
    if (!row || row.status === 'removed') return {action: 'create', reason: 'new stack'}
    if (row.status === 'stopped') {
      return force
        ? {action: 'update', reason: 'stopped by `swarm stop`, restarted by --force'}
        : {action: 'skip', reason: 'stopped by `swarm stop` (run `swarm watch` again or reconcile --force to start it)'}
    }
    if (row.status === 'deploying') return {action: 'update', reason: 'the previous run was interrupted mid-deploy'}
    if (row.status === 'failed') return {action: 'update', reason: 'retrying the failed deploy'}
    if (row.hash !== prepared.hash) {
      const changed = changedParts(parseParts(row), prepared.parts)
      return {action: 'update', reason: changed.length > 0 ? `changed: ${changed.join(', ')}` : 'hash changed'}
    }
    if (!inSwarm) return {action: 'update', reason: 'missing from the Swarm'}
    if (force) return {action: 'update', reason: '--force'}
    return {action: 'unchanged', reason: 'hash unchanged'}
  }
  return {result: {...base, ...decide()}, prepared}
}

/**
 * What a stack's compose and binding parts are a function of: the commit (the clone is pristine at
 * it, so every file of the repository is that commit's), where the clone and the NFS root are (the
 * rendered compose holds their paths), and the homeops version (the rendering may change with it).
 * Secret values are not in it: they are read on every run.
 */
export function renderKey(
  version: string,
  commit: string,
  layout: RepositoryLayout,
  environment: Record<string, string> = {},
): string {
  const env = Object.entries(environment).sort(([a], [b]) => a.localeCompare(b))
  return createHash('sha256')
    .update(
      JSON.stringify({
        version,
        commit,
        root: layout.root,
        nfs: layout.nfs?.path ?? null,
        env,
        legacy: layout.legacyVolumes ?? [],
      }),
    )
    .digest('hex')
}

/**
 * The hash of a deployed stack whose parts were computed under this render key, recomputed from
 * those parts and the current secret values without parsing or rendering anything; undefined
 * unless it equals the recorded hash (a secret changed, the key moved, anything unreadable): the
 * stack is then prepared in full, which also reports any problem.
 */
function reusedHash(
  row: StackRow,
  key: string | undefined,
  layout: RepositoryLayout,
  stack: StackLayout,
  hmacKey: string,
): string | undefined {
  if (row.status !== 'deployed' || !row.hash || !key || row.renderKey !== key || stack.error) return undefined
  const parts = parseParts(row)
  if (!parts) return undefined
  let secrets: Record<string, string>
  try {
    secrets = readSecrets(layout, stack)
  } catch {
    return undefined
  }
  const hash = hashOfParts(stack.name, {...parts, secrets: secretsHmac(hmacKey, secrets)})
  return hash === row.hash ? hash : undefined
}

function parseParts(row: StackRow): HashParts | undefined {
  if (!row.hashParts) return undefined
  try {
    return JSON.parse(row.hashParts) as HashParts
  } catch {
    return undefined
  }
}

/**
 * Everything a stack's hash covers, read from the clone and the NFS root; no side effects.
 * `environment` is what the docker CLI child gets besides the secrets (see `deployEnvironment`).
 */
export function prepareStack(
  layout: RepositoryLayout,
  stack: StackLayout,
  hmacKey: string,
  environment: Record<string, string> = {},
): Prepared {
  if (stack.error) throw new LayoutError(stack.error)
  const rendered = renderStack(layout, stack)
  const bindings: Prepared['bindings'] = []
  const digests: {id: string; path: string; digest: string}[] = []
  for (const volume of rendered.volumes) {
    if (volume.type !== 'binding') continue
    const content = readBinding(layout.root, volume.path!, `volumes.yaml entry "${volume.id}"`)
    digests.push({id: volume.id, path: volume.path!, digest: digestBinding(content)})
    bindings.push({volumeId: volume.id, target: nfsPath(layout, volume), content})
  }
  const secrets = readSecrets(layout, stack)
  const interpolated = checkInterpolation(layout, stack, rendered.compose, secrets, environment)
  const {hash, parts} = stackHash(
    {
      name: stack.name,
      compose: rendered.compose,
      bindings: digests,
      volumesText: layout.volumesText,
      nfsText: layout.nfsText,
      secrets,
      environment: interpolated,
      files: rendered.files,
    },
    hmacKey,
  )
  return {layout: stack, rendered, hash, parts, secrets, bindings}
}

/**
 * Every variable the compose interpolates must be a declared secret of the stack or part of the
 * CLI's minimal environment (or have a fallback): returns the non-secret ones with their values
 * (they go into the hash, so every process that deploys renders the same).
 */
function checkInterpolation(
  layout: RepositoryLayout,
  stack: StackLayout,
  compose: string,
  secrets: Record<string, string>,
  environment: Record<string, string>,
): Record<string, string> {
  const display = relative(layout.root, stack.composeFile!)
  const missing = undefinedReferences(compose, new Set([...Object.keys(secrets), ...Object.keys(environment)]))
  if (missing.length > 0) {
    const declared = Object.keys(secrets)
    throw new LayoutError(
      `${display}: ${missing.map((n) => `\${${n}}`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} not defined: a compose file interpolates only its stack's secrets (${declared.length > 0 ? declared.join(', ') : 'none declared'} in ${stack.name}/secrets.yaml), never homeops's own environment; declare it in secrets.yaml, give it a default (\${NAME:-value}) or write $$ for a literal $`,
    )
  }
  const used: Record<string, string> = {}
  for (const ref of references(compose)) {
    if (!(ref.name in secrets) && environment[ref.name] !== undefined) used[ref.name] = environment[ref.name]!
  }
  let total = 0
  for (const [k, v] of Object.entries({...environment, ...secrets})) total += Buffer.byteLength(`${k}=${v}`) + 1
  if (total > MAX_ENV_TOTAL_BYTES) {
    throw new LayoutError(
      `${stack.name}/secrets.yaml: the secrets take ${total} bytes of environment, more than the ${MAX_ENV_TOTAL_BYTES} bytes docker stack deploy can be given (E2BIG)`,
    )
  }
  return used
}

/** A stack's secret values (env name → value) from `{nfs.path}/secret/{id}`, registered for redaction. */
function readSecrets(layout: RepositoryLayout, stack: StackLayout): Record<string, string> {
  const secrets: Record<string, string> = {}
  for (const secret of stack.secrets) {
    const file = resolveInside(
      layout.nfs!.path,
      join('secret', secret.id),
      `${stack.name}/secrets.yaml entry "${secret.id}"`,
    )
    let value: string
    let size: number
    try {
      value = readBoundedText(file, {maxBytes: MAX_ENV_ENTRY_BYTES}).replace(/\r?\n$/, '')
      size = Buffer.byteLength(value)
    } catch (error) {
      // Too large for the environment: refused below with the size, never read whole.
      if (error instanceof FileReadError && error.code === 'EFBIG') {
        value = ''
        size = statSync(file).size
      } else {
        const why =
          error instanceof FileReadError && error.code !== 'ENOENT' && error.code !== 'EACCES'
            ? error.reason
            : 'is missing or unreadable'
        throw new LayoutError(
          `${stack.name}/secrets.yaml entry "${secret.id}" (env ${secret.env}): secret file ${file} ${why}`,
          {hint: 'write the value to that file (mode 0600) on the NFS share'},
        )
      }
    }
    const where = `${stack.name}/secrets.yaml entry "${secret.id}" (env ${secret.env})`
    const bytes = Math.max(size, Buffer.byteLength(`${secret.env}=${value}`) + 1)
    if (bytes > MAX_ENV_ENTRY_BYTES) {
      throw new LayoutError(
        `${where}: secret file ${file} holds ${size} bytes, too large for the environment of docker stack deploy (Linux allows at most ${MAX_ENV_ENTRY_BYTES} bytes per variable, E2BIG); mount large values through a binding or a Docker secret file instead`,
      )
    }
    if (value === '') {
      throw new LayoutError(
        `${where}: secret file ${file} is empty; refusing to deploy an empty value (write the value, or remove the entry)`,
      )
    }
    registerSecret(value)
    secrets[secret.env] = value
  }
  return secrets
}

async function deployStack(env: SwarmEnv, w: RepoWork, prepared: Prepared, useDetach: boolean): Promise<void> {
  const {store, context} = env
  const name = prepared.layout.name
  store.markDeploying(w.row.id, name)
  // Bindings and volume folders on NFS first, so the new tasks find their files.
  for (const binding of prepared.bindings) {
    syncBinding(binding.content, w.layout!.nfs!.path, binding.target, `binding "${binding.volumeId}"`)
  }
  for (const volume of prepared.rendered.volumes) {
    if (volume.type === 'volume' && volume.path) mkdirSync(nfsPath(w.layout!, volume), {recursive: true, mode: 0o755})
  }
  const recreated = await checkVolumes(env.engine, prepared.rendered.volumeSpecs)
  if (recreated.length > 0) {
    context.logger.warn(`stack ${name}: recreated volumes whose options had changed (no container used them)`, {
      volumes: recreated.join(','),
    })
  }
  await pullImages(env, prepared.rendered.images)
  const timeoutMs = context.config.swarm.convergeTimeoutSeconds * 1000
  try {
    await deployAndWait(env, w, prepared, useDetach, timeoutMs)
  } catch (error) {
    // The CLI of Docker 23+ waits itself and says only that it gave up: add what the tasks said.
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
    w.result.commit,
    prepared.rendered.images,
    w.renderKey,
  )
  await snapshotStack(store, env.engine, name, composeFileOf(w.layout!, prepared.layout), store.hashKey()).catch(
    (error: unknown) => {
      // The previous record would report this deploy as drift: dropped, the next run takes a new baseline.
      store.recordServiceFingerprints(name, null, [])
      context.logger.warn(`stack ${name}: could not record its services for drift detection`, {
        error: errorMessage(error),
      })
    },
  )
}

function composeFileOf(layout: RepositoryLayout, stack: StackLayout): string | null {
  return stack.composeFile ? relative(layout.root, stack.composeFile) : null
}

/**
 * A stack whose hash is unchanged may still have been changed in the Swarm (`docker service update`,
 * `images update`): compared with what homeops deployed (drift.ts), it is redeployed from git
 * (`swarm.driftPolicy: heal`, Argo CD's self-heal) or only reported (`report`). A stack deployed by an
 * older homeops has nothing to compare with: what runs now becomes its baseline.
 */
function checkDrift(
  env: SwarmEnv,
  w: RepoWork,
  stack: StackLayout,
  plan: RepoWork['plans'][number],
  running: ServiceSpec[],
  {hmacKey, dryRun, environment}: {hmacKey: string; dryRun: boolean; environment: Record<string, string>},
): void {
  const {store, context} = env
  if (running.length === 0) return
  const drift = stackDrift(store, stack.name, running, hmacKey)
  if (drift === undefined) {
    if (dryRun) return
    recordFingerprints(store, stack.name, composeFileOf(w.layout!, stack), running, hmacKey)
    context.logger.info(`stack ${stack.name}: drift baseline taken from the running services`)
    return
  }
  if (drift.length === 0) return
  const what = describeDrift(drift)
  plan.result.drift = drift
  if (context.config.swarm.driftPolicy === 'report') {
    plan.result.reason = `drifted, left as it runs (swarm.driftPolicy: report): ${what}`
    if (!context.terminal.interactive) context.logger.warn(`stack ${stack.name} drifted`, {drift: what})
    return
  }
  try {
    plan.prepared ??= prepareStack(w.layout!, stack, hmacKey, environment)
  } catch (error) {
    Object.assign(plan, failPlan(stack.name, w.row.name, redact(errorMessage(error))))
    plan.result.drift = drift
    return
  }
  plan.result.action = 'update'
  plan.result.hash = plan.prepared.hash
  plan.result.reason = `drifted, redeployed from git: ${what}`
}

/** `docker stack deploy`, then the wait for convergence (the only wait with a CLI older than 23). */
async function deployAndWait(
  env: SwarmEnv,
  w: RepoWork,
  prepared: Prepared,
  useDetach: boolean,
  timeoutMs: number,
): Promise<void> {
  const {context} = env
  const name = prepared.layout.name
  const contentDigest = createHash('sha256')
    .update(JSON.stringify([prepared.parts.bindings, prepared.parts.volumes, prepared.parts.nfs]))
    .digest('hex')
    .slice(0, 16)
  // Tasks that exist now are the previous deploy's: their errors say nothing about this one.
  const before = await stackTaskIds(env.engine, name)
  // The CLI of Docker 23+ waits itself, for ever on a task rejected again and again: watch beside it
  // and stop it as soon as a task failed in a way waiting cannot fix.
  const done = new AbortController()
  const signal = context.signal ? AbortSignal.any([context.signal, done.signal]) : done.signal
  const watcher = useDetach ? watchPermanentFailure(env.engine, name, before, done.signal) : undefined
  watcher?.catch(() => {})
  const deploy = stackDeploy({
    ...env.cli,
    signal,
    stack: name,
    compose: withDeployLabels(
      prepared.bindings.length > 0
        ? withServiceLabels(prepared.rendered.compose, {[CONTENT_LABEL]: contentDigest})
        : prepared.rendered.compose,
      {[REPOSITORY_LABEL]: w.row.url},
    ),
    cwd: prepared.layout.dir,
    secrets: prepared.secrets,
    timeoutMs,
    useDetach,
  })
  try {
    await (watcher ? Promise.race([deploy, watcher.then(() => deploy)]) : deploy)
  } finally {
    done.abort()
    deploy.catch(() => {})
  }
  await waitConverged(env.engine, name, useDetach ? Math.min(timeoutMs, 30_000) : timeoutMs, context.signal, before)
}

/** `always`: pull before every deploy; `ifnotpresent`: only images missing here. Records what homeops pulled. */
async function pullImages(env: SwarmEnv, images: string[]): Promise<void> {
  const always = env.context.config.swarm.pullPolicy === 'always'
  for (const reference of images) {
    const present = await imageExists(env.engine, reference)
    if (present && !always) continue
    try {
      await pullImage({...env.cli, reference})
    } catch (error) {
      if (!present) throw error
      env.context.logger.warn(`pull ${reference} failed, deploying the local image`, {error: errorMessage(error)})
      continue
    }
    if (!present) env.store.notePulled(reference)
  }
}

export async function removeStack(env: SwarmEnv, name: string): Promise<void> {
  await stackRemove({...env.cli, stack: name})
  const gone = await waitRemoved(env.engine, name, 120_000)
  if (!gone) env.context.logger.warn(`stack ${name}: containers still shutting down after 120 s`)
}

/** Removes images homeops pulled that no stack of any repository references and no container uses. */
export async function cleanImages(env: SwarmEnv): Promise<ImageCleanup> {
  const out: ImageCleanup = {removed: [], kept: []}
  await runTasks(
    env.context.terminal,
    env.context.logger,
    [
      {
        title: 'images',
        run: async (_ctx, setTitle) => {
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
          const kept =
            out.kept.length > 0 ? `; kept ${out.kept.map((k) => `${k.reference} (${k.reason})`).join(', ')}` : ''
          setTitle(`images: ${removed}${kept}`)
        },
      },
    ],
    null,
  )
  return out
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

// ---- watch / unwatch / stop -----------------------------------------------

export interface WatchOptions {
  url: string
  branch?: string
  name?: string
}

export interface WatchReport {
  repository: {url: string; name: string; branch: string | null}
  alreadyWatched: boolean
  reconcile: ReconcileReport
}

export async function watch(env: SwarmEnv, options: WatchOptions): Promise<WatchReport> {
  checkRepositoryUrl(options.url)
  const url = normaliseUrl(options.url)
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
  const name = options.name ?? repositoryName(url)
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
  await runTasks(
    context.terminal,
    context.logger,
    [
      {
        title: `clone ${url}`,
        run: async (_ctx, setTitle) => {
          const fetched = await fetchRepository(env, {url, cloneDir, branch: options.branch ?? null})
          setTitle(`clone ${url}: ${fetched.branch} at ${fetched.commit.slice(0, 7)}`)
        },
      },
    ],
    null,
  )
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
  const row = findRepository(store, options.url)
  if (!row)
    throw new UserError(`${options.url} is not watched`, {hint: 'see `homeops swarm status` for watched repositories'})
  const report: UnwatchReport = {
    repository: {url: row.url, name: row.name},
    removedStacks: [],
    forgottenStacks: [],
    failedStacks: [],
    images: {removed: [], kept: []},
    exitCode: ExitCode.ok,
  }
  if (options.removeStacks) {
    const active = store.stacksOf(row.id).filter((s) => s.status !== 'removed' && s.status !== 'stopped')
    const results = await removeMany(
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
    report.forgottenStacks = store
      .stacksOf(row.id)
      .filter((s) => s.status !== 'removed' && s.status !== 'stopped')
      .map((s) => s.name)
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

async function removeMany(
  env: SwarmEnv,
  names: string[],
  status: 'removed' | 'stopped',
): Promise<{removed: string[]; failed: {stack: string; error: string}[]}> {
  const removed: string[] = []
  const failed: {stack: string; error: string}[] = []
  if (names.length === 0) return {removed, failed}
  await runTasks(
    env.context.terminal,
    env.context.logger,
    names.map<Task<null>>((name) => ({
      title: `remove ${name}`,
      run: async (_ctx, setTitle) => {
        try {
          await removeStack(env, name)
          env.store.recordRemoved(name, status)
          removed.push(name)
          setTitle(`remove ${name}: removed from the Swarm`)
        } catch (error) {
          const message = redact(errorMessage(error))
          env.store.recordRemoveFailed(name, message)
          failed.push({stack: name, error: message})
          setTitle(`remove ${name}: failed: ${message}`)
        }
      },
    })),
    null,
  )
  return {removed, failed}
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
  const {removed, failed} = await removeMany(env, targets, 'stopped')
  const images = await cleanImages(env)
  return {stopped: removed, failed, images, exitCode: failed.length > 0 ? ExitCode.failure : ExitCode.ok}
}
