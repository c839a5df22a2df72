import {LockedError, errorMessage} from '../errors.js'
import {redactText} from '../log/redact.js'
import type {Database} from '../state/database.js'

/** One action, whoever started it (a web page, Home Assistant, an apply link, the command line, a schedule). */
export interface ActivityEntry {
  id: number
  action: string
  target: string
  /** Where it came from, in words: `Containers (web 127.0.0.1)`, `API 10.0.0.5`, `command line`, `apply link`. */
  by: string
  started: string
  finished?: string
  /** `skipped`: it did not run, because another run held the lock (that run is doing the work). */
  state: 'running' | 'ok' | 'failed' | 'skipped'
  /** The step in progress, then the last one done. */
  step?: string
  steps: string[]
  message?: string
}

export interface ActivityRecord {
  step(name: string): void
  finish(ok: boolean, message: string): void
  /** It did not run: another run holds the lock and does the work. */
  skip(message: string): void
  /** It threw: `skipped` when it found its lock held by another run (a `LockedError`, exit 5), else `failed`. */
  fail(error: unknown): void
}

const MAX_ENTRIES = 200
/** Rows the database keeps (the newest); older ones are deleted as new ones arrive. */
const MAX_STORED = 1000
const MAX_TEXT = 500
const MAX_STEPS = 20
/** A running entry not touched for this long belongs to a process that stopped (killed, crashed). */
const STALE_MS = 15 * 60_000

interface StoredRow {
  id: number
  action: string
  target: string
  by: string
  started: string
  touched: string
  finished: string | null
  state: ActivityEntry['state']
  step: string | null
  steps: string
  message: string | null
}

/**
 * The bounded history of actions, newest first. With a state database it is the one history every
 * process shares (`homeops serve`, `monitor serve`, `images update` from cron or a shell): an action
 * started anywhere shows, with its steps, on every page. Without one it lives in memory.
 * Text from outside (errors of Docker, a registry) is redacted before it is kept.
 */
export class ActivityLog {
  private readonly memory: ActivityEntry[] = []
  private next = 1

  constructor(
    private readonly db?: Database,
    private readonly now: () => number = Date.now,
  ) {}

  begin(action: string, target: string, by: string): ActivityRecord {
    const entry: ActivityEntry = {
      id: 0,
      action: clip(action, 100),
      target: clip(target, 200),
      by: clip(by, 100),
      started: new Date(this.now()).toISOString(),
      state: 'running',
      steps: [],
    }
    const {db} = this
    if (db) {
      const result = db
        .prepare(
          `INSERT INTO activity (action, target, by, started, touched, state) VALUES (@action, @target, @by, @started, @started, 'running')`,
        )
        .run(entry)
      entry.id = Number(result.lastInsertRowid)
      db.prepare('DELETE FROM activity WHERE id <= ?').run(entry.id - MAX_STORED)
    } else {
      entry.id = this.next++
      this.memory.unshift(entry)
      if (this.memory.length > MAX_ENTRIES) this.memory.length = MAX_ENTRIES
    }
    const save = () =>
      db
        ?.prepare(
          `UPDATE activity SET touched = ?, finished = ?, state = ?, step = ?, steps = ?, message = ? WHERE id = ?`,
        )
        .run(
          new Date(this.now()).toISOString(),
          entry.finished ?? null,
          entry.state,
          entry.step ?? null,
          JSON.stringify(entry.steps),
          entry.message ?? null,
          entry.id,
        )
    const end = (state: ActivityEntry['state'], message: string) => {
      entry.state = state
      entry.finished = new Date(this.now()).toISOString()
      entry.message = clip(redactText(message), MAX_TEXT)
      save()
    }
    return {
      step(name) {
        entry.step = clip(name, 100)
        if (entry.steps.length < MAX_STEPS) entry.steps.push(entry.step)
        save()
      },
      finish: (ok, message) => end(ok ? 'ok' : 'failed', message),
      skip: (message) => end('skipped', message),
      fail: (error) => end(error instanceof LockedError ? 'skipped' : 'failed', errorMessage(error)),
    }
  }

  list(limit = 50): ActivityEntry[] {
    const count = Math.max(1, Math.min(Number.isFinite(limit) ? Math.floor(limit) : 50, MAX_ENTRIES))
    if (!this.db) return this.memory.slice(0, count)
    const stale = new Date(this.now() - STALE_MS).toISOString()
    return this.db
      .prepare<[number], StoredRow>('SELECT * FROM activity ORDER BY id DESC LIMIT ?')
      .all(count)
      .map((row) => {
        const entry: ActivityEntry = {
          id: row.id,
          action: row.action,
          target: row.target,
          by: row.by,
          started: row.started,
          state: row.state,
          steps: parseSteps(row.steps),
        }
        if (row.finished) entry.finished = row.finished
        if (row.step) entry.step = row.step
        if (row.message) entry.message = row.message
        if (row.state === 'running' && row.touched < stale) {
          entry.state = 'failed'
          entry.message = `interrupted: no news since ${row.touched} (the process running it stopped)`
        }
        return entry
      })
  }
}

function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max) : text
}

function parseSteps(text: string): string[] {
  try {
    const value: unknown = JSON.parse(text)
    return Array.isArray(value) ? value.filter((s): s is string => typeof s === 'string').slice(0, MAX_STEPS) : []
  } catch {
    return []
  }
}
