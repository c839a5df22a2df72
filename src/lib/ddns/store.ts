import type {Database} from '../state/database.js'
import type {Family} from './address.js'

export interface RecordState {
  record: string
  family: Family
  hostname: string
  provider: string
  target: string
  lastIp: string | null
  lastIpAt: string | null
  lastDetectedIp: string | null
  lastResult: string | null
  lastMessage: string | null
  lastResultAt: string | null
  lastSuccessAt: string | null
  lastCheckedAt: string | null
  failures: number
  notBefore: string | null
  /** Exit code of the last answer: a deferred run exits with the code of the answer that deferred it. */
  lastExitCode: number | null
}

export interface BlockState {
  record: string
  reason: string
  message: string
  fingerprint: string
  blockedAt: string
}

export interface AttemptRow {
  id: number
  at: string
  record: string
  family: Family
  hostname: string
  provider: string
  ip: string | null
  previousIp: string | null
  action: string
  result: string
  answer: string | null
  httpStatus: number | null
  tries: number
  durationMs: number | null
}

export interface AttemptInput {
  at: string
  record: string
  family: Family
  hostname: string
  provider: string
  target: string
  ip: string
  previousIp: string | null
  result: string
  answer: string
  httpStatus?: number
  tries: number
  durationMs: number
  exitCode: number
}

/** Attempts kept in `ddns_attempts` (all records together). */
export const HISTORY_KEEP = 5000

const STATE_COLUMNS = `record, family, hostname, provider, target, last_ip AS lastIp, last_ip_at AS lastIpAt,
  last_detected_ip AS lastDetectedIp, last_result AS lastResult, last_message AS lastMessage,
  last_result_at AS lastResultAt, last_success_at AS lastSuccessAt, last_checked_at AS lastCheckedAt,
  failures, not_before AS notBefore, last_exit_code AS lastExitCode`

/** All SQL of the ddns area. Every change that touches several rows is one transaction. */
export class DdnsStore {
  constructor(
    private readonly db: Database,
    private readonly historyKeep = HISTORY_KEEP,
  ) {}

  state(record: string, family: Family): RecordState | undefined {
    return this.db
      .prepare<[string, number], RecordState>(`SELECT ${STATE_COLUMNS} FROM ddns_state WHERE record = ? AND family = ?`)
      .get(record, family)
  }

  states(): RecordState[] {
    return this.db.prepare<[], RecordState>(`SELECT ${STATE_COLUMNS} FROM ddns_state ORDER BY record, family`).all()
  }

  block(record: string): BlockState | undefined {
    return this.db
      .prepare<[string], BlockState>(
        'SELECT record, reason, message, fingerprint, blocked_at AS blockedAt FROM ddns_blocks WHERE record = ?',
      )
      .get(record)
  }

  blocks(): BlockState[] {
    return this.db
      .prepare<[], BlockState>('SELECT record, reason, message, fingerprint, blocked_at AS blockedAt FROM ddns_blocks')
      .all()
  }

  clearBlock(record: string): void {
    this.db.prepare('DELETE FROM ddns_blocks WHERE record = ?').run(record)
  }

  /** The detected address equals what the provider holds: note the check, nothing else. */
  checked(key: {record: string; family: Family}, detectedIp: string, at: string): void {
    this.db
      .prepare('UPDATE ddns_state SET last_detected_ip = ?, last_checked_at = ? WHERE record = ? AND family = ?')
      .run(detectedIp, at, key.record, key.family)
  }

  /** The provider holds `ip` now: remember it, clear back-off. */
  succeeded(attempt: AttemptInput): void {
    this.db.transaction(() => {
      this.insertAttempt(attempt, 'sent')
      this.upsert(attempt, {
        last_ip: attempt.ip,
        last_ip_at: attempt.at,
        last_success_at: attempt.at,
        failures: 0,
        not_before: null,
      })
    })()
  }

  /** A refusal that needs a human: history, state, and the block with the refused config's fingerprint. */
  blocked(attempt: AttemptInput, fingerprint: string): void {
    this.db.transaction(() => {
      this.insertAttempt(attempt, 'sent')
      this.upsert(attempt, {failures: this.failures(attempt) + 1, not_before: null})
      this.db
        .prepare(
          `INSERT INTO ddns_blocks (record, reason, message, fingerprint, blocked_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(record) DO UPDATE SET reason = excluded.reason, message = excluded.message,
             fingerprint = excluded.fingerprint, blocked_at = excluded.blocked_at`,
        )
        .run(attempt.record, attempt.result, attempt.answer, fingerprint, attempt.at)
    })()
  }

  /** A failure to retry later: history, one more failure, and the persisted "not before". */
  failed(attempt: AttemptInput, notBefore: string): void {
    this.db.transaction(() => {
      this.insertAttempt(attempt, 'sent')
      this.upsert(attempt, {failures: this.failures(attempt) + 1, not_before: notBefore})
    })()
  }

  /**
   * No answer to act on: nothing reached the provider, or the outcome is unknown (timeout, stopped). History and
   * one more failure, but no "not before": back-off applies only to answers the provider gave.
   */
  unsettled(attempt: AttemptInput): void {
    this.db.transaction(() => {
      this.insertAttempt(attempt, 'sent')
      this.upsert(attempt, {failures: this.failures(attempt) + 1, not_before: null})
    })()
  }

  /** DNS shows the provider holds `ip` after an unknown outcome: a success, noted `confirmed` in history. */
  confirmed(attempt: AttemptInput): void {
    this.db.transaction(() => {
      this.insertAttempt(attempt, 'confirmed')
      this.upsert(attempt, {
        last_ip: attempt.ip,
        last_ip_at: attempt.at,
        last_success_at: attempt.at,
        failures: 0,
        not_before: null,
      })
    })()
  }

  /** Consecutive failures of this record and family against its current target. */
  failures(key: {record: string; family: Family; target: string}): number {
    const state = this.state(key.record, key.family)
    return state && state.target === key.target ? state.failures : 0
  }

  history(options: {limit: number; record?: string}): AttemptRow[] {
    const where = options.record ? 'WHERE record = ?' : ''
    const params: (string | number)[] = options.record ? [options.record, options.limit] : [options.limit]
    return this.db
      .prepare<(string | number)[], AttemptRow>(
        `SELECT id, at, record, family, hostname, provider, ip, previous_ip AS previousIp, action, result, answer,
           http_status AS httpStatus, tries, duration_ms AS durationMs
         FROM ddns_attempts ${where} ORDER BY id DESC LIMIT ?`,
      )
      .all(...params)
  }

  private insertAttempt(attempt: AttemptInput, action: string): void {
    const inserted = this.db
      .prepare(
        `INSERT INTO ddns_attempts (at, record, family, hostname, provider, ip, previous_ip, action, result, answer,
           http_status, tries, duration_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        attempt.at,
        attempt.record,
        attempt.family,
        attempt.hostname,
        attempt.provider,
        attempt.ip,
        attempt.previousIp,
        action,
        attempt.result,
        attempt.answer,
        attempt.httpStatus ?? null,
        attempt.tries,
        attempt.durationMs,
      )
    // History is for people: keep the newest entries, never let a flapping record grow the database without bound.
    // Ids only grow (AUTOINCREMENT), so the newest N rows are those above `id - N`.
    this.db.prepare('DELETE FROM ddns_attempts WHERE id <= ?').run(Number(inserted.lastInsertRowid) - this.historyKeep)
  }

  private upsert(attempt: AttemptInput, changes: Record<string, string | number | null>): void {
    // A record now pointing elsewhere (new hostname, provider or server): what the old target held means nothing.
    const retargeted = this.state(attempt.record, attempt.family)?.target !== attempt.target
    const base: Record<string, string | number | null> = {
      ...(retargeted ? {last_ip: null, last_ip_at: null, last_success_at: null} : {}),
      hostname: attempt.hostname,
      provider: attempt.provider,
      target: attempt.target,
      last_detected_ip: attempt.ip,
      last_result: attempt.result,
      last_message: attempt.answer,
      last_result_at: attempt.at,
      last_checked_at: attempt.at,
      last_exit_code: attempt.exitCode,
      ...changes,
    }
    const columns = Object.keys(base)
    this.db
      .prepare(
        `INSERT INTO ddns_state (record, family, ${columns.join(', ')}) VALUES (?, ?, ${columns.map(() => '?').join(', ')})
         ON CONFLICT(record, family) DO UPDATE SET ${columns.map((c) => `${c} = excluded.${c}`).join(', ')}`,
      )
      .run(attempt.record, attempt.family, ...Object.values(base))
  }
}
