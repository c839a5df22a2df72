import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import Database from 'better-sqlite3'

/**
 * A fresh SQLite database file in a directory of its own, for a migration test that must run one area's
 * migrations step by step. `close()` closes it and removes the directory.
 */
export function tempDatabase(): {db: Database.Database; close: () => void} {
  const dir = mkdtempSync(join(tmpdir(), 'hotest-runtime-'))
  const db = new Database(join(dir, 'homeops.db'))
  return {
    db,
    close: () => {
      db.close()
      rmSync(dir, {recursive: true, force: true})
    },
  }
}
