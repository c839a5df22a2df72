import {type DriftEntry, describeDrift} from './drift.js'
import type {Prepared} from './prepare.js'
import {PRUNE_HINT, pruneRefusal} from './prune-guard.js'
import type {PlanAction, StackResult} from './reconcile-report.js'
import {changedParts, recordedParts} from './stack-hash.js'
import type {StackRow} from './store.js'

/**
 * Planning: what a reconcile changes and why, decided from facts gathered beforehand (the state
 * rows, what the Swarm runs, the rendered stacks). Pure: no I/O here; what reads files (rendering,
 * secrets) or the Swarm reaches the planner as functions it calls only when the decision needs them,
 * so an unchanged stack is never rendered.
 */
export interface StackPlan {
  result: StackResult
  prepared?: Prepared
  /** false for stacks homeops does not own (another repository's, or not deployed by homeops): no state row is written. */
  record?: boolean
  /** The stack runs and nothing of it was recorded to compare with: what runs becomes the drift baseline. */
  baseline?: boolean
}

export interface PlannedRepository {
  id: number
  name: string
  url: string
}

/** What the planner knows about one stack listed in a repository's `stacks.yaml`. */
export interface StackFacts {
  stack: string
  repository: PlannedRepository
  /** homeops's record of the stack (any repository's). */
  row?: StackRow
  /** The name of the repository that owns `row`, when another one does. */
  ownerName?: string
  /** The repository URLs its services in the Swarm say they were deployed from ('' for none); undefined: not in the Swarm. */
  deployedFrom?: Set<string>
  /** Another repository of this run that lists the same (unowned) stack first. */
  rival?: string
  force: boolean
  /** The recorded hash when it provably still holds, computed without rendering; else undefined. */
  reuse(): string | undefined
  /** Renders the stack (everything its hash covers), or says why it cannot be. */
  prepare(): Prepared | {error: string}
  /**
   * What runs differently from the recorded deploy: undefined when nothing of it runs, 'unrecorded'
   * when it runs but nothing was recorded to compare with.
   */
  drift(): DriftEntry[] | 'unrecorded' | undefined
  driftPolicy: 'heal' | 'report'
}

export function failPlan(stack: string, repository: string, error: string, record = true): StackPlan {
  return {result: {stack, repository, action: 'fail', reason: error, outcome: 'failed', error}, record}
}

/** A row that gives the stack to a repository (a removed one belongs to nobody). */
export function ownedBy(row: StackRow | undefined): number | undefined {
  return row !== undefined && row.repositoryId !== null && row.status !== 'removed' ? row.repositoryId : undefined
}

function isPrepared(value: Prepared | {error: string}): value is Prepared {
  return !('error' in value)
}

export function planStack(facts: StackFacts): StackPlan {
  const {stack, repository, row, deployedFrom, force} = facts
  if (facts.rival) {
    return failPlan(
      stack,
      repository.name,
      `stack "${stack}" is also listed by repository ${facts.rival}, which deploys it first; remove it from one of the two stacks.yaml`,
      false,
    )
  }
  const inSwarm = deployedFrom !== undefined
  // Deployed by this very repository before an `unwatch` that kept it running: adopted again.
  const adopting =
    inSwarm && (!row || row.status === 'removed') && deployedFrom.size === 1 && deployedFrom.has(repository.url)
  const owner = ownedBy(row)
  if (owner !== undefined && owner !== repository.id) {
    const name = facts.ownerName ?? 'another repository'
    return failPlan(
      stack,
      repository.name,
      `stack "${stack}" is owned by repository ${name}, which deployed it first; remove it from this repository's stacks.yaml (or unwatch ${name})`,
      false,
    )
  }
  if (inSwarm && !adopting && (!row || row.status === 'removed' || row.status === 'stopped')) {
    const others = [...deployedFrom].filter(Boolean)
    return failPlan(
      stack,
      repository.name,
      others.length > 0
        ? `a stack named "${stack}" already runs in the Swarm, deployed by homeops from ${others.join(', ')}; refusing to take it over`
        : `a stack named "${stack}" already runs in the Swarm and was not deployed by homeops from this repository; refusing to take it over`,
      false,
    )
  }
  if (!force && inSwarm && row) {
    const hash = facts.reuse()
    if (hash) {
      const plan = {
        result: {stack, repository: repository.name, outcome: 'planned' as const, hash},
      }
      return checkDrift(facts, {result: {...plan.result, action: 'unchanged', reason: 'hash unchanged'}})
    }
  }
  const prepared = facts.prepare()
  if (!isPrepared(prepared)) return failPlan(stack, repository.name, prepared.error)
  const base = {stack, repository: repository.name, outcome: 'planned' as const, hash: prepared.hash}
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
      const changed = changedParts(recordedParts(row), prepared.parts)
      return {action: 'update', reason: changed.length > 0 ? `changed: ${changed.join(', ')}` : 'hash changed'}
    }
    if (!inSwarm) return {action: 'update', reason: 'missing from the Swarm'}
    if (force) return {action: 'update', reason: '--force'}
    return {action: 'unchanged', reason: 'hash unchanged'}
  }
  const plan: StackPlan = {result: {...base, ...decide()}, prepared}
  return plan.result.action === 'unchanged' ? checkDrift(facts, plan) : plan
}

/**
 * A stack whose hash is unchanged may still have been changed in the Swarm (`docker service update`,
 * `images update`): compared with what homeops deployed (drift.ts), it is redeployed from git
 * (`swarm.driftPolicy: heal`, Argo CD's self-heal) or only reported (`report`). A stack deployed by an
 * older homeops has nothing to compare with: what runs now becomes its baseline.
 */
function checkDrift(facts: StackFacts, plan: StackPlan): StackPlan {
  const drift = facts.drift()
  if (drift === undefined) return plan
  if (drift === 'unrecorded') return {...plan, baseline: true}
  if (drift.length === 0) return plan
  const what = describeDrift(drift)
  if (facts.driftPolicy === 'report') {
    return {
      ...plan,
      result: {...plan.result, drift, reason: `drifted, left as it runs (swarm.driftPolicy: report): ${what}`},
    }
  }
  const prepared = plan.prepared ?? facts.prepare()
  if (!isPrepared(prepared)) {
    const failed = failPlan(facts.stack, facts.repository.name, prepared.error)
    return {...failed, result: {...failed.result, drift}}
  }
  return {
    result: {
      ...plan.result,
      drift,
      action: 'update',
      hash: prepared.hash,
      reason: `drifted, redeployed from git: ${what}`,
    },
    prepared,
  }
}

/** The recorded stacks of a repository that its `stacks.yaml` no longer lists: removed from the Swarm. */
export function removalPlans(repository: string, recorded: StackRow[], listed: Set<string>): StackPlan[] {
  return recorded
    .filter((row) => !listed.has(row.name) && row.status !== 'removed')
    .map((row) => ({
      result: {
        stack: row.name,
        repository,
        action: 'remove' as const,
        reason: row.status === 'stopped' ? 'no longer in stacks.yaml (already stopped)' : 'no longer in stacks.yaml',
        outcome: 'planned' as const,
      },
    }))
}

/**
 * Refuses the whole repository when its plan removes too many of its stacks (see prune-guard.ts):
 * nothing of it is applied this run, and the plan (also under --dry-run) says why.
 */
export function guardPrune(
  plans: StackPlan[],
  {
    repository,
    recorded,
    listed,
    maxShare,
  }: {repository: string; recorded: StackRow[]; listed: number; maxShare: number},
): {plans: StackPlan[]; error?: string} {
  const active = new Set(recorded.filter((s) => s.status !== 'removed' && s.status !== 'stopped').map((s) => s.name))
  const removing = plans
    .filter((p) => p.result.action === 'remove' && active.has(p.result.stack))
    .map((p) => p.result.stack)
  const refusal = pruneRefusal({deployed: [...active], removing, listed, maxShare})
  if (!refusal) return {plans}
  return {
    error: `${refusal} (${PRUNE_HINT})`,
    plans: plans.map((p) =>
      p.result.action === 'remove'
        ? failPlan(p.result.stack, repository, `removal refused: ${refusal}`, false)
        : {
            result: {
              ...p.result,
              action: 'skip',
              reason: 'not applied: the repository would remove too many stacks',
              outcome: 'skipped',
            },
            record: false,
            baseline: p.baseline,
          },
    ),
  }
}

/** `2 unchanged, 1 update`, in the order actions first appear; `no stacks` for none. */
export function planSummary(plans: StackPlan[]): string {
  const counts = new Map<string, number>()
  for (const p of plans) counts.set(p.result.action, (counts.get(p.result.action) ?? 0) + 1)
  return [...counts].map(([a, n]) => `${n} ${a}`).join(', ') || 'no stacks'
}
