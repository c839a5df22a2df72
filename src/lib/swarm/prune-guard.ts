/**
 * The guard against a repository that suddenly drops its stacks (an emptied or truncated
 * `stacks.yaml`, a bad merge): removing stacks is what GitOps does, removing most of them at once
 * is almost always a mistake whose cost is every service going down. Pure: the reconcile decides
 * what to do with the refusal.
 */
export interface PruneGuardInput {
  /** Stacks of the repository that are deployed (or failed/deploying: still in the Swarm). */
  deployed: string[]
  /** The subset the plan would remove. */
  removing: string[]
  /** How many stacks `stacks.yaml` lists now. */
  listed: number
  /** `swarm.pruneMaxShare`: 0..1 */
  maxShare: number
}

/** The reason the removals are refused, or undefined when they may go ahead. */
export function pruneRefusal(input: PruneGuardInput): string | undefined {
  const {deployed, removing, listed, maxShare} = input
  if (removing.length === 0) return undefined
  const names = removing.join(', ')
  if (listed === 0) {
    return `stacks.yaml lists no stacks any more, which would remove all ${removing.length} deployed from this repository (${names}); refusing`
  }
  // A share of the deployed stacks, and always one (renaming the only stack of a repository is normal).
  const allowed = maxShare === 0 ? 0 : Math.max(1, Math.floor(maxShare * deployed.length))
  if (removing.length <= allowed) return undefined
  return `this change would remove ${removing.length} of the ${deployed.length} stacks deployed from this repository (${names}), more than swarm.pruneMaxShare (${Math.round(maxShare * 100)} %) allows; refusing`
}

export const PRUNE_HINT =
  'if that is intended, run `homeops swarm reconcile --allow-prune-all` once (or set swarm.pruneProtection: false)'
