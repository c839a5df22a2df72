import type {CheckResult} from './checker.js'
import type {UpdateRecord} from './history.js'

/** One workload in `GET /images/status`: its last check, settled by the updates applied since. */
export interface PublicResult {
  checkedAt: string
  workload: string
  kind: string
  image: string
  currentTag: string | null
  newestAllowed: string | null
  newestOverall: string | null
  mode: string | null
  strategy: string | null
  status: string
  update: CheckResult['update']
  error: string | null
  note: string | null
  /** Set when an update applied after the check settled it. */
  appliedAt?: string
}

/** A pending result whose update was applied after the check: now up to date (the next check confirms it). */
export function settled(r: PublicResult, applied: readonly UpdateRecord[]): PublicResult {
  if (r.status !== 'update_available') return r
  const last = applied.find((u) => u.workload === r.workload && u.at > r.checkedAt)
  if (!last) return r
  const target = r.update?.type === 'digest' ? r.currentTag : (r.update?.tag ?? r.newestAllowed)
  const who = last.by === 'link' ? 'apply link' : last.by === 'auto' ? 'automatically' : 'by hand'
  if (last.newVersion !== target) return {...r, currentTag: last.newVersion}
  return {
    ...r,
    status: 'up_to_date',
    currentTag: last.newVersion,
    update: null,
    appliedAt: last.at,
    note: `updated to ${last.newVersion} ${who} at ${last.at}; the next check confirms it`,
  }
}

/** A check result as the page shows it. */
export function publicResult(r: CheckResult, checkedAt: string): PublicResult {
  return {
    checkedAt,
    workload: r.workload,
    kind: r.kind,
    image: r.image,
    currentTag: r.currentTag,
    newestAllowed: r.newestAllowed,
    newestOverall: r.newestOverall,
    mode: r.mode,
    strategy: r.strategy,
    status: r.status,
    update: r.update,
    error: r.error,
    note: r.note,
  }
}
