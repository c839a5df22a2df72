import type {Database} from '../state/database.js'

/**
 * The last `images check` result of each container, as stored in the state database: what the monitor
 * shows beside its own digest status, so both commands give one answer without a second registry round
 * trip (docs/architecture.md "images", "monitor").
 */
export interface StoredVersion {
  checkedAt: string
  currentTag: string | null
  /** Newest version the workload's strategy allows, when newer than its tag. */
  newestAllowed: string | null
  newestOverall: string | null
  status: string
}

/** Latest result per container checked within `maxAgeMs`; older ones are not trusted. */
export function latestContainerChecks(db: Database, maxAgeMs: number, now = Date.now()): Map<string, StoredVersion> {
  const since = new Date(now - maxAgeMs).toISOString()
  const rows = db
    .prepare<[string], StoredVersion & {workload: string}>(
      `SELECT c.workload, c.checked_at AS checkedAt, c.current_tag AS currentTag, c.newest_allowed AS newestAllowed,
         c.newest_overall AS newestOverall, c.status
       FROM images_checks c
       JOIN (SELECT workload, max(id) AS id FROM images_checks WHERE kind = 'container' GROUP BY workload) l ON l.id = c.id
       WHERE c.checked_at >= ?`,
    )
    .all(since)
  return new Map(rows.map(({workload, ...rest}) => [workload, rest]))
}

/** The tag of an image reference as written (`repo:1.2`, `host:5000/repo:1.2@sha256:…`); `latest` when none. */
export function tagOf(reference: string): string {
  const noDigest = reference.replace(/@[^@]+$/, '')
  const slash = noDigest.lastIndexOf('/')
  const colon = noDigest.lastIndexOf(':')
  return colon > slash ? noDigest.slice(colon + 1) : 'latest'
}
