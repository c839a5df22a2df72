import {chmodSync, closeSync, constants, existsSync, fchmodSync, openSync, renameSync, statSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {createRequire} from 'node:module'
import type BetterSqlite3 from 'better-sqlite3'

import {UserError, errnoCode, errorMessage} from '../errors.js'
import {ensureStateDirectory} from './directory.js'
import type {Migration} from './migrations.js'

export type Database = BetterSqlite3.Database

export interface OpenStateOptions {
  path: string
  migrations: readonly Migration[]
  readonly?: boolean
  /** Told when a corrupt database was moved aside (the caller logs it loudly). */
  onWarning?: (message: string, fields: Record<string, string>) => void
}

/** Files beside the database that SQLite creates; all 0600 like the database (they hold the same data). */
const SIDE_FILES = ['-wal', '-shm', '-journal'] as const

/**
 * Opens (creating if needed) the SQLite state database: WAL so readers never
 * block the writer, a busy timeout so a second process waits instead of
 * failing, then pending migrations, each in its own transaction.
 *
 * What it refuses or repairs, each with the path in the message:
 * - a path that is not a regular file (`/dev/null`, `/dev/full`, a FIFO, a directory): refused;
 * - a directory that cannot hold it (`/proc/x`): created level by level, never by a recursive mkdir that can spin;
 * - a file that is not a SQLite database or is corrupt: moved aside to `<path>.corrupt-<time>` (nothing is
 *   deleted) and a fresh database created, with a warning through `onWarning`;
 * - a database written by a newer homeops (an area's migrations beyond the ones known here): refused, untouched.
 * The database and its `-wal`/`-shm` are 0600 whatever the umask: they hold the apply-link HMAC key.
 */
export async function openState(options: OpenStateOptions): Promise<Database> {
  const {path} = options
  if (!options.readonly) ensureStateDirectory(dirname(path))
  checkRegularFile(path)
  if (!options.readonly) createPrivate(path)
  // require, not import(): better-sqlite3 is CommonJS, and importing it as an ES module makes node scan
  // its nine files for exports first (~4 ms of every `ddns update` timer run, scripts/bench/ddns.mjs).
  const require = createRequire(import.meta.url)
  const Sqlite = require('better-sqlite3') as typeof BetterSqlite3
  const nativeBinding = addonPath(require)
  let db: Database
  try {
    db = prepare(new Sqlite(path, {readonly: options.readonly ?? false, nativeBinding}), options)
  } catch (error) {
    if (!isCorrupt(error) || options.readonly) throw openFailure(path, error)
    const aside = moveAside(path)
    options.onWarning?.('the state database was corrupt: moved it aside and started a fresh one', {
      path,
      movedTo: aside,
      error: errorMessage(error),
    })
    createPrivate(path)
    try {
      db = prepare(new Sqlite(path, {nativeBinding}), options)
    } catch (again) {
      throw openFailure(path, again)
    }
  }
  if (!options.readonly) tightenModes(path)
  return db
}

function prepare(db: Database, options: OpenStateOptions): Database {
  try {
    db.pragma('busy_timeout = 5000')
    // Reads the schema before anything is written: a file that is not a database or has a damaged header fails
    // here, and a newer homeops' database is refused before even its journal mode changes.
    db.prepare('SELECT count(*) FROM sqlite_master').get()
    refuseNewer(db, options.path, options.migrations)
    if (!options.readonly) {
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = NORMAL')
    }
    db.pragma('foreign_keys = ON')
    if (!options.readonly) migrate(db, options.migrations)
    return db
  } catch (error) {
    db.close()
    throw error
  }
}

function isCorrupt(error: unknown): boolean {
  const code = errnoCode(error)
  return code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT'
}

function openFailure(path: string, error: unknown): UserError {
  if (error instanceof UserError) return error
  if (isCorrupt(error)) {
    return new UserError(`the state database ${path} is corrupt (${errorMessage(error)})`, {
      hint: `restore it from a backup, or move it aside (mv ${path} ${path}.bad) to start afresh`,
    })
  }
  return new UserError(`cannot open the state database ${path}: ${errorMessage(error)}`, {
    hint: 'set HOMEOPS_DB_PATH (or state.path) to a writable location',
  })
}

/** `<path>.corrupt-<time>`, with its -wal/-shm beside it: nothing the user had is deleted. */
function moveAside(path: string): string {
  const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`
  try {
    renameSync(path, aside)
  } catch (error) {
    throw new UserError(`the state database ${path} is corrupt and could not be moved aside: ${errorMessage(error)}`, {
      hint: `move it away by hand (mv ${path} ${path}.bad) or set HOMEOPS_DB_PATH elsewhere`,
    })
  }
  for (const suffix of ['', ...SIDE_FILES]) {
    try {
      if (suffix !== '') renameSync(path + suffix, aside + suffix)
      chmodSync(aside + suffix, 0o600)
    } catch {
      // absent: nothing to keep
    }
  }
  return aside
}

/** Only a regular file (or nothing yet) can be the database: `/dev/null` would lie, `/dev/full` leave a journal. */
function checkRegularFile(path: string): void {
  for (const file of [path, ...SIDE_FILES.map((s) => path + s)]) {
    let kind: string | undefined
    try {
      const info = statSync(file)
      if (info.isFile()) continue
      kind = info.isDirectory()
        ? 'a directory'
        : info.isCharacterDevice()
          ? 'a character device'
          : info.isFIFO()
            ? 'a named pipe (FIFO)'
            : info.isSocket()
              ? 'a socket'
              : 'not a regular file'
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') continue
      if (errnoCode(error) === 'ENOTDIR') {
        throw new UserError(`the state database directory ${dirname(path)} is not a directory`, {
          hint: 'set HOMEOPS_DB_PATH to a file in a writable directory',
        })
      }
      throw openFailure(path, error)
    }
    throw new UserError(`the state database ${file} is ${kind}, expected a regular file`, {
      hint: 'set HOMEOPS_DB_PATH (or state.path) to a file such as /var/lib/homeops/homeops.db',
    })
  }
}

/** Creates the file 0600 when it does not exist yet, so SQLite (which copies its mode to -wal/-shm) never widens it. */
function createPrivate(path: string): void {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600)
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') return
    throw openFailure(path, error)
  }
  try {
    fchmodSync(fd, 0o600)
  } finally {
    closeSync(fd)
  }
}

/** 0600 on the database and the files SQLite made beside it, whatever the umask was (also fixes older installs). */
function tightenModes(path: string): void {
  for (const file of [path, ...SIDE_FILES.map((s) => path + s)]) {
    try {
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600)
    } catch {
      // absent, or not ours to change (a read-only mount we could still open)
    }
  }
}

/** Refuses a database whose migrations go beyond what this homeops knows, before anything is written to it. */
function refuseNewer(db: Database, path: string, migrations: readonly Migration[]): void {
  const known = new Map<string, number>()
  for (const m of migrations) known.set(m.area, Math.max(known.get(m.area) ?? 0, m.version))
  const table = db
    .prepare<[], {n: number}>(
      "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
    )
    .get()
  if (!table || table.n === 0) return
  const applied = db
    .prepare<[], {area: string; version: number}>(
      'SELECT area, max(version) AS version FROM schema_migrations GROUP BY area',
    )
    .all()
  for (const {area, version} of applied) {
    const max = known.get(area)
    if (max !== undefined && version > max) {
      throw new UserError(
        `this database (${path}) was written by a newer homeops (area ${area} version ${version} > ${max})`,
        {hint: 'upgrade homeops, or point HOMEOPS_DB_PATH at another database; this one was left untouched'},
      )
    }
  }
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

/**
 * The addon where npm builds it: handing its path to better-sqlite3 skips the search of the `bindings`
 * package (a dozen candidate paths from a stack trace, ~2 ms of a timer run). Undefined (let it search)
 * when it is elsewhere.
 */
function addonPath(require: NodeJS.Require): string | undefined {
  try {
    const path = join(
      dirname(require.resolve('better-sqlite3/package.json')),
      'build',
      'Release',
      'better_sqlite3.node',
    )
    return existsSync(path) ? path : undefined
  } catch {
    return undefined
  }
}
