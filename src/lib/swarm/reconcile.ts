import {forEachLimited} from '../async/pool.js'
import {TransientError, errorMessage} from '../errors.js'
import {redact} from '../log/redact.js'
import type {ProgressNote} from '../ui/progress.js'
import {type DeployTarget, cleanImages, finishDeploy, removeStack, startDeploy} from './apply.js'
import {recordFingerprints, servicesByStack, stackDrift} from './deployed-specs.js'
import {STACK_LABEL, deployEnvironment, stackServices, stackVolumes, supportsDetach} from './docker.js'
import {type ServiceSpec, describeDrift} from './drift.js'
import {type SwarmEnv, fetchRepository, requireRepository} from './env.js'
import type {FetchResult} from './git.js'
import {type RepositoryLayout, readLayout} from './layout.js'
import {type StackPlan, guardPrune, ownedBy, planStack, planSummary, removalPlans} from './plan.js'
import {composeFileOf, prepareStack, renderKey, reusedHash} from './prepare.js'
import {type ReconcileReport, type RepositoryResult, reconcileReport} from './reconcile-report.js'
import {REPOSITORY_LABEL} from './render.js'
import type {RepositoryRow} from './store.js'

/**
 * One reconcile (docs/architecture.md "swarm"): fetch every watched repository into its cached clone, plan each
 * stack (plan.ts: from its hash, ownership, drift and the prune guard), deploy only what changed
 * (apply.ts), remove stacks dropped from `stacks.yaml`, then release images nothing references.
 * A failing stack never stops the others; a repository whose layout is broken or whose remote is
 * unreachable keeps everything it has deployed. Progress goes to `env.progress`.
 */
export interface ReconcileOptions {
  force?: boolean
  dryRun?: boolean
  /** Only this repository (URL as watched, or its name). */
  repo?: string
  /** Lets this run remove more stacks than `swarm.pruneMaxShare` (or all of them). */
  allowPruneAll?: boolean
}

interface RepoWork {
  row: RepositoryRow
  result: RepositoryResult
  fetch?: FetchResult
  layout?: RepositoryLayout
  /** See `renderKey`: the same for every stack of the repository in this run. */
  renderKey?: string
  plans: StackPlan[]
}

export async function reconcile(env: SwarmEnv, options: ReconcileOptions = {}): Promise<ReconcileReport> {
  const started = Date.now()
  const {store} = env
  const dryRun = options.dryRun ?? false
  let rows = store.repositories()
  if (options.repo !== undefined) {
    rows = [requireRepository(store, options.repo)]
  }
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

  // Which stacks exist in the Swarm (for the plan): one service listing, no task listing (that is for
  // status), asked while the remotes answer.
  const services = stackServices(env.engine)
  services.catch(() => {})
  await fetchAll(env, work, dryRun)
  const listed = (await services) as ServiceSpec[]
  await planAll(env, work, listed, options)

  const results = work.flatMap((w) => w.plans.map((p) => p.result))
  if (dryRun) {
    for (const r of results) r.outcome = r.action === 'fail' ? 'failed' : 'planned'
    return reconcileReport(
      started,
      true,
      work.map((w) => w.result),
      results,
      {removed: [], kept: []},
    )
  }
  await deployAll(env, work)
  await removeAll(env, work)
  for (const w of work) {
    const failed = w.result.result !== 'ok' || w.plans.some((p) => p.result.outcome === 'failed')
    if (w.result.result === 'ok' && failed) w.result.result = 'failed'
    store.recordRun(w.row.id, w.result.result, w.result.error ?? null)
  }
  const images = await cleanImages(env)
  return reconcileReport(
    started,
    false,
    work.map((w) => w.result),
    results,
    images,
  )
}

/** Every repository at once (network-bound); a failure keeps what that repository deployed. */
async function fetchAll(env: SwarmEnv, work: RepoWork[], dryRun: boolean): Promise<void> {
  const group = env.progress.begin(work.map((w) => `fetch ${w.row.name}`))
  try {
    await Promise.all(
      work.map(async (w, i) => {
        const step = group.steps[i]!
        step.start()
        try {
          const fetched = await fetchRepository(env, w.row)
          w.fetch = fetched
          w.result.commit = fetched.commit
          w.result.branch = fetched.branch
          if (!dryRun) env.store.recordFetch(w.row.id, fetched.commit, fetched.branch)
          const moved =
            fetched.previous && fetched.previous !== fetched.commit ? ` (was ${fetched.previous.slice(0, 7)})` : ''
          step.done(
            `fetch ${w.row.name}: ${fetched.branch} at ${fetched.commit.slice(0, 7)}${fetched.cloned ? ' (cloned)' : moved}`,
          )
        } catch (error) {
          w.result.result = error instanceof TransientError ? 'unreachable' : 'failed'
          w.result.error = redact(errorMessage(error))
          step.done(`fetch ${w.row.name}: failed, keeping what is deployed: ${w.result.error}`, [
            {level: 'error', message: `fetch ${w.row.name} failed`, fields: {error: w.result.error}},
          ])
        }
      }),
    )
  } finally {
    await group.end()
  }
}

/** What every repository's plan shares in one run. */
interface PlanRun {
  options: ReconcileOptions
  hmacKey: string
  environment: Record<string, string>
  /** Stack name → the repositories its services say they were deployed from ('' for none). */
  origins: Map<string, Set<string>>
  /** Stack name → its services as they run. */
  running: Map<string, ServiceSpec[]>
  repositoryNames: Map<number, string>
  /** Stacks nobody owns yet → the first repository of this run that lists them. */
  claimed: Map<string, string>
  /** Pathless volume id → the stack that uses it (listed once, when a repository has such volumes). */
  legacyVolumes?: Promise<Map<string, string>>
}

/** Gathers what the planner needs (layouts, state rows, what the Swarm runs) and plans every fetched repository. */
async function planAll(
  env: SwarmEnv,
  work: RepoWork[],
  listed: ServiceSpec[],
  options: ReconcileOptions,
): Promise<void> {
  const {store} = env
  const origins = new Map<string, Set<string>>()
  for (const service of listed) {
    const stackName = service.Spec?.Labels?.[STACK_LABEL]
    if (!stackName) continue
    const from = origins.get(stackName) ?? new Set<string>()
    from.add(service.Spec?.Labels?.[REPOSITORY_LABEL] ?? '')
    origins.set(stackName, from)
  }
  const run: PlanRun = {
    options,
    hmacKey: store.hashKey(!options.dryRun),
    environment: deployEnvironment(env.cli.address),
    origins,
    running: servicesByStack(listed),
    repositoryNames: new Map(store.repositories().map((r) => [r.id, r.name])),
    claimed: new Map(),
  }
  for (const w of work) if (w.fetch) await planRepository(env, w, w.fetch, run)
  await reportPlans(env, work)
}

async function planRepository(env: SwarmEnv, w: RepoWork, fetched: FetchResult, run: PlanRun): Promise<void> {
  const {context, store} = env
  const swarm = context.config.swarm
  const {options, hmacKey, environment} = run
  let layout: RepositoryLayout
  try {
    layout = {...readLayout(w.row.cloneDir), namespace: w.row.name}
  } catch (error) {
    w.result.result = 'failed'
    w.result.error = redact(errorMessage(error))
    return
  }
  w.layout = layout
  // Volumes without a path hold their data in Docker: one an older homeops created under its bare id
  // for a stack of this repository keeps that name (a new name would be a new, empty volume).
  const pathless = layout.volumes.filter((v) => v.type === 'volume' && !v.path)
  if (pathless.length > 0) {
    run.legacyVolumes ??= stackVolumes(env.engine).catch(() => new Map<string, string>())
    const legacy = await run.legacyVolumes
    const own = new Set(layout.stacks.map((s) => s.name))
    layout.legacyVolumes = pathless.filter((v) => own.has(legacy.get(v.id) ?? '')).map((v) => v.id)
  }
  const key = renderKey(context.version, fetched.commit, layout, environment)
  w.renderKey = key
  const repository = {id: w.row.id, name: w.row.name, url: w.row.url}
  for (const stack of layout.stacks) {
    // A stack belongs to the repository that deployed it first (its row says which); one nobody owns
    // yet goes to the first repository of this run that lists it.
    const row = store.stack(stack.name)
    const owner = ownedBy(row)
    const rival = owner === undefined ? run.claimed.get(stack.name) : undefined
    if (owner === undefined && !rival) run.claimed.set(stack.name, w.row.name)
    const running = run.running.get(stack.name) ?? []
    const plan = planStack({
      stack: stack.name,
      repository,
      row,
      ownerName: owner === undefined ? undefined : run.repositoryNames.get(owner),
      deployedFrom: run.origins.get(stack.name),
      rival,
      force: options.force ?? false,
      driftPolicy: swarm.driftPolicy,
      reuse: () => (row ? reusedHash(row, key, layout, stack, hmacKey) : undefined),
      prepare: () => {
        try {
          return prepareStack(layout, stack, hmacKey, environment)
        } catch (error) {
          return {error: redact(errorMessage(error))}
        }
      },
      drift: () =>
        running.length === 0 ? undefined : (stackDrift(store, stack.name, running, hmacKey) ?? 'unrecorded'),
    })
    if (!options.dryRun) {
      // Rendered again with the same hash under a new key (a new commit that does not touch it): the
      // next run reuses the hash without rendering.
      if (plan.prepared && row?.status === 'deployed' && row.hash === plan.prepared.hash && row.renderKey !== key) {
        store.noteRendered(stack.name, plan.prepared.hash, key)
      }
      if (plan.baseline) {
        recordFingerprints(store, stack.name, composeFileOf(layout, stack), running, hmacKey)
        context.logger.info(`stack ${stack.name}: drift baseline taken from the running services`)
      }
    }
    if (plan.result.drift && swarm.driftPolicy === 'report' && plan.result.action === 'unchanged') {
      env.progress.note({
        level: 'warn',
        message: `stack ${stack.name} drifted`,
        fields: {drift: describeDrift(plan.result.drift)},
      })
    }
    w.plans.push(plan)
  }
  const recorded = store.stacksOf(w.row.id)
  w.plans.push(...removalPlans(w.row.name, recorded, new Set(layout.stacks.map((s) => s.name))))
  if (swarm.pruneProtection && !options.allowPruneAll) {
    const guarded = guardPrune(w.plans, {
      repository: w.row.name,
      recorded,
      listed: layout.stacks.length,
      maxShare: swarm.pruneMaxShare,
    })
    w.plans = guarded.plans
    if (guarded.error) {
      w.result.result = 'failed'
      w.result.error = guarded.error
    }
  }
}

/** One step per fetched repository: what its plan does (and, off a terminal, a line per stack and why). */
function reportPlans(env: SwarmEnv, work: RepoWork[]): Promise<void> {
  const planned = work.filter((w) => w.fetch)
  const group = env.progress.begin(planned.map((w) => `plan ${w.row.name}`))
  for (const [i, w] of planned.entries()) {
    const step = group.steps[i]!
    if (!w.layout) {
      step.done(`plan ${w.row.name}: invalid repository, nothing changed: ${w.result.error}`, [
        {level: 'error', message: `plan ${w.row.name} failed`, fields: {error: w.result.error}},
      ])
      continue
    }
    step.done(
      `plan ${w.row.name}: ${planSummary(w.plans)}`,
      w.plans.map<ProgressNote>((p) => ({
        level: 'info',
        message: `plan ${p.result.stack}: ${p.result.action}`,
        fields: {reason: p.result.reason},
      })),
    )
  }
  return group.end()
}

/** Deploys every created or updated stack, a bounded pool of them side by side (`swarm.deployConcurrency`). */
async function deployAll(env: SwarmEnv, work: RepoWork[]): Promise<void> {
  const {store} = env
  const deploys: {target: DeployTarget; plan: StackPlan}[] = []
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
        env.progress.note({
          level: 'error',
          message: `stack ${r.stack} failed`,
          fields: {repository: w.row.name, error: r.error},
        })
        continue
      }
      if (r.action !== 'create' && r.action !== 'update') continue
      const target = {
        repositoryId: w.row.id,
        repositoryUrl: w.row.url,
        layout: w.layout!,
        commit: w.result.commit,
        renderKey: w.renderKey,
      }
      deploys.push({target, plan})
    }
  }
  if (deploys.length === 0) return
  const knowsDetach = await supportsDetach(env.cli)
  const group = env.progress.begin(deploys.map((d) => `deploy ${d.plan.result.stack}`))
  const finished = (i: number, t0: number, error?: unknown): void => {
    const {target, plan} = deploys[i]!
    const r = plan.result
    const step = group.steps[i]!
    r.durationMs = Date.now() - t0
    if (error === undefined) {
      r.outcome = 'deployed'
      step.done(
        `deploy ${r.stack}: ${r.action === 'create' ? 'created' : 'updated'} (${r.reason}) in ${seconds(r.durationMs)}`,
      )
      return
    }
    r.outcome = 'failed'
    r.error = redact(errorMessage(error))
    store.recordFailed(target.repositoryId, r.stack, r.error, plan.prepared!.rendered.images)
    step.done(`deploy ${r.stack}: failed: ${r.error}`, [
      {level: 'error', message: `stack ${r.stack} failed`, fields: {repository: r.repository, error: r.error}},
    ])
  }
  // Stacks are independent (each owns its services, volumes, bindings and state row): a bounded
  // pool hands them to Docker side by side, and each stack's convergence wait runs beside the
  // others without holding a slot, so a run takes about as long as its slowest stack.
  const waits: Promise<void>[] = []
  const startOne = async ({target, plan}: (typeof deploys)[number], i: number): Promise<void> => {
    group.steps[i]!.start()
    const t0 = Date.now()
    try {
      const started = await startDeploy(env, target, plan.prepared!, knowsDetach)
      waits.push(
        finishDeploy(env, target, plan.prepared!, started).then(
          () => finished(i, t0),
          (error: unknown) => finished(i, t0, error),
        ),
      )
    } catch (error) {
      finished(i, t0, error)
    }
  }
  try {
    await forEachLimited(deploys, env.context.config.swarm.deployConcurrency, startOne)
    await Promise.all(waits)
  } finally {
    await group.end()
  }
}

/** Removes the stacks dropped from `stacks.yaml` (one already stopped is only recorded as removed). */
async function removeAll(env: SwarmEnv, work: RepoWork[]): Promise<void> {
  const removals = work.flatMap((w) => w.plans.map((p) => p.result)).filter((r) => r.action === 'remove')
  if (removals.length === 0) return
  const group = env.progress.begin(removals.map((r) => `remove ${r.stack}`))
  try {
    for (const [i, r] of removals.entries()) {
      const step = group.steps[i]!
      step.start()
      const t0 = Date.now()
      try {
        if (env.store.stack(r.stack)?.status !== 'stopped') await removeStack(env, r.stack)
        env.store.recordRemoved(r.stack, 'removed')
        r.outcome = 'removed'
        step.done(`remove ${r.stack}: removed from the Swarm (${r.reason})`)
      } catch (error) {
        r.outcome = 'failed'
        r.error = redact(errorMessage(error))
        env.store.recordRemoveFailed(r.stack, r.error)
        step.done(`remove ${r.stack}: failed: ${r.error}`, [
          {level: 'error', message: `removing stack ${r.stack} failed`, fields: {error: r.error}},
        ])
      } finally {
        r.durationMs = Date.now() - t0
      }
    }
  } finally {
    await group.end()
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}
