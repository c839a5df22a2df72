import {accessSync, constants, mkdirSync, statSync} from 'node:fs'
import {dirname} from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'

import {UserError, errnoCode, errorMessage} from '../errors.js'
import type {Migration} from './migrations.js'

export type Database = BetterSqlite3.Database

export interface OpenStateOptions {
  path: string
  migrations: readonly Migration[]
  readonly?: boolean
}

/**
 * Opens (creating if needed) the SQLite state database: WAL so readers never
 * block the writer, a busy timeout so a second process waits instead of
 * failing, then pending migrations, each in its own transaction.
 */
export async function openState(options: OpenStateOptions): Promise<Database> {
  ensureWritableDirectory(options.path)
  const {default: Sqlite} = await import('better-sqlite3')
  let db: Database
  try {
    db = new Sqlite(options.path, {readonly: options.readonly ?? false})
  } catch (error) {
    throw new UserError(`cannot open the state database ${options.path}: ${errorMessage(error)}`, {
      hint: 'set HOMEOPS_DB_PATH (or state.path) to a writable location',
    })
  }
  db.pragma('busy_timeout = 5000')
  if (!options.readonly) {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
  }
  db.pragma('foreign_keys = ON')
  if (!options.readonly) migrate(db, options.migrations)
  return db
}

function ensureWritableDirectory(path: string): void {
  const dir = dirname(path)
  try {
    mkdirSync(dir, {recursive: true, mode: 0o700})
  } catch (error) {
    throw notWritable(dir, error)
  }
  try {
    if (!statSync(dir).isDirectory()) throw new UserError(`the state database directory ${dir} is not a directory`)
    accessSync(dir, constants.W_OK)
  } catch (error) {
    if (error instanceof UserError) throw error
    throw notWritable(dir, error)
  }
}

function notWritable(dir: string, error: unknown): UserError {
  const reason =
    errnoCode(error) === 'EACCES' || errnoCode(error) === 'EROFS'
      ? 'is not writable'
      : `cannot be created (${errorMessage(error)})`
  return new UserError(`the state database directory ${dir} ${reason}`, {
    hint: 'run as root, or set HOMEOPS_DB_PATH to a file in a writable directory',
  })
}

export function migrate(db: Database, migrations: readonly Migration[]): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    area TEXT NOT NULL,
    version INTEGER NOT NULL,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    PRIMARY KEY (area, version)
  )`)
  const applied = new Set(
    db
      .prepare<[], {area: string; version: number}>('SELECT area, version FROM schema_migrations')
      .all()
      .map((r) => `${r.area}:${r.version}`),
  )
  const record = db.prepare('INSERT INTO schema_migrations (area, version, description) VALUES (?, ?, ?)')
  const pending = [...migrations]
    .filter((m) => !applied.has(`${m.area}:${m.version}`))
    .sort((a, b) => a.area.localeCompare(b.area) || a.version - b.version)
  for (const m of pending) {
    db.transaction(() => {
      db.exec(m.sql)
      record.run(m.area, m.version, m.description)
    })()
  }
}

/** Small typed access to the `settings` table. */
export function getSetting(db: Database, key: string): string | undefined {
  return db.prepare<[string], {value: string}>('SELECT value FROM settings WHERE key = ?').get(key)?.value
}

export function setSetting(db: Database, key: string, value: string): void {
  db.prepare(
    `INSERT INTO settings (key, value) VALUES (?, ?)
     ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')`,
  ).run(key, value)
}
