import type {Database} from '../state/database.js'
import type {CheckReport, CheckResult} from './checker.js'

export type UpdateBy = 'auto' | 'manual' | 'link'
/** `refused`: homeops would not touch it (its own container); nothing changed. */
export type UpdateResultKind = 'applied' | 'failed' | 'rolled_back' | 'refused'

export interface UpdateRecord {
  id?: number
  at: string
  workload: string
  kind: 'service' | 'container'
  image: string
  previousVersion: string | null
  newVersion: string
  previousDigest: string | null
  newDigest: string | null
  by: UpdateBy
  result: UpdateResultKind
  error: string | null
}

/** Stores every result of a run (one transaction) and prunes results older than `keepDays`. */
export function recordCheck(db: Database, report: CheckReport, keepDays = 90): void {
  const insert = db.prepare(`INSERT INTO images_checks
    (run_id, checked_at, workload, kind, image, current_tag, current_digest, remote_digest, newest_allowed, newest_overall, mode, strategy, status, error)
    VALUES (@runId, @checkedAt, @workload, @kind, @image, @currentTag, @currentDigest, @remoteDigest, @newestAllowed, @newestOverall, @mode, @strategy, @status, @error)`)
  db.transaction(() => {
    for (const r of report.results) {
      insert.run({
        runId: report.runId,
        checkedAt: report.checkedAt,
        workload: r.workload,
        kind: r.kind,
        image: r.image,
        currentTag: r.currentTag,
        currentDigest: r.currentDigest,
        remoteDigest: r.remoteDigest,
        newestAllowed: r.newestAllowed,
        newestOverall: r.newestOverall,
        mode: r.mode ?? 'NOTIFICATION',
        strategy: r.strategy ?? 'ALL',
        status: r.status,
        error: r.error,
      })
    }
    db.prepare('DELETE FROM images_checks WHERE checked_at < ?').run(
      new Date(Date.now() - keepDays * 86_400_000).toISOString(),
    )
  })()
}

export interface StoredCheck {
  checkedAt: string
  workload: string
  kind: string
  image: string
  currentTag: string | null
  newestAllowed: string | null
  newestOverall: string | null
  mode: string
  strategy: string
  status: string
  error: string | null
}

/** The latest stored result per workload. */
export function latestChecks(db: Database): StoredCheck[] {
  return db
    .prepare<[], StoredCheck>(
      `SELECT checked_at AS checkedAt, workload, kind, image, current_tag AS currentTag, newest_allowed AS newestAllowed,
        newest_overall AS newestOverall, mode, strategy, status, error
       FROM images_checks WHERE id IN (SELECT MAX(id) FROM images_checks GROUP BY workload) ORDER BY workload`,
    )
    .all()
}

export function recordUpdate(db: Database, record: UpdateRecord): number {
  const result = db
    .prepare(
      `INSERT INTO images_updates (at, workload, kind, image, previous_version, new_version, previous_digest, new_digest, by, result, error)
      VALUES (@at, @workload, @kind, @image, @previousVersion, @newVersion, @previousDigest, @newDigest, @by, @result, @error)`,
    )
    .run(record)
  return Number(result.lastInsertRowid)
}

export function updateHistory(db: Database, options: {workload?: string; limit?: number} = {}): UpdateRecord[] {
  const limit = Math.max(1, Math.min(options.limit ?? 100, 10_000))
  const select = `SELECT id, at, workload, kind, image, previous_version AS previousVersion, new_version AS newVersion,
      previous_digest AS previousDigest, new_digest AS newDigest, by, result, error FROM images_updates`
  return options.workload
    ? db
        .prepare<[string, number], UpdateRecord>(`${select} WHERE workload = ? ORDER BY id DESC LIMIT ?`)
        .all(options.workload, limit)
    : db.prepare<[number], UpdateRecord>(`${select} ORDER BY id DESC LIMIT ?`).all(limit)
}

/** The key a notification is remembered by: the new tag, or the new digest for same-tag rebuilds. */
export function notificationKey(result: Pick<CheckResult, 'update'>): string | undefined {
  if (!result.update) return undefined
  return result.update.type === 'version' ? result.update.tag : `${result.update.tag}@${result.update.digest}`
}

export function wasNotified(db: Database, workload: string, version: string): boolean {
  return (
    db.prepare('SELECT 1 FROM images_notifications WHERE workload = ? AND version = ?').get(workload, version) !==
    undefined
  )
}

export function markNotified(db: Database, workload: string, version: string, at = new Date()): void {
  db.prepare('INSERT OR IGNORE INTO images_notifications (workload, version, notified_at) VALUES (?, ?, ?)').run(
    workload,
    version,
    at.toISOString(),
  )
}

/** An automatic update to this version failed before: it is not retried automatically (`images update` still can). */
export function autoUpdateFailedBefore(db: Database, workload: string, version: string): boolean {
  return (
    db
      .prepare(
        "SELECT 1 FROM images_updates WHERE workload = ? AND new_version = ? AND by = 'auto' AND result != 'applied' LIMIT 1",
      )
      .get(workload, version) !== undefined
  )
}
