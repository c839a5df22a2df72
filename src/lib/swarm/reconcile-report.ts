import {ExitCode, type ExitCodeValue} from '../errors.js'
import type {DriftEntry} from './drift.js'

/** What a reconcile reports (`--json`, `POST /reconcile`), per repository and per stack. */
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

/** The report of a run that began at `started`: a failure ranks over an unreachable remote. */
export function reconcileReport(
  started: number,
  dryRun: boolean,
  repositories: RepositoryResult[],
  stacks: StackResult[],
  images: ImageCleanup,
): ReconcileReport {
  const anyFailed = stacks.some((s) => s.outcome === 'failed') || repositories.some((r) => r.result === 'failed')
  const anyUnreachable = repositories.some((r) => r.result === 'unreachable')
  return {
    dryRun,
    repositories,
    stacks,
    images,
    exitCode: anyFailed ? ExitCode.failure : anyUnreachable ? ExitCode.temporary : ExitCode.ok,
    durationMs: Date.now() - started,
  }
}
