import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {LockedError, UserError} from '../../../src/lib/errors.js'
import {getSetting, openState, setSetting} from '../../../src/lib/state/database.js'
import {acquireLock} from '../../../src/lib/state/lock.js'
import type {Migration} from '../../../src/lib/state/migrations.js'
import {allMigrations} from '../../../src/lib/state/registry.js'

const dir = mkdtempSync(join(tmpdir(), 'homeops-state-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('state database', () => {
  it('creates the directory and database in WAL mode with migrations applied once', async () => {
    const path = join(dir, 'nested', 'homeops.db')
    const db = await openState({path, migrations: allMigrations})
    expect(db.pragma('journal_mode', {simple: true})).toBe('wal')
    setSetting(db, 'k', 'v1')
    setSetting(db, 'k', 'v2')
    expect(getSetting(db, 'k')).toBe('v2')
    db.close()
    const again = await openState({path, migrations: allMigrations})
    const rows = again.prepare('SELECT area, version FROM schema_migrations WHERE area = ?').all('core')
    expect(rows).toEqual([{area: 'core', version: 1}])
    again.close()
  })

  it('applies a new migration to an existing database, in order, and keeps data', async () => {
    const path = join(dir, 'migrate.db')
    const v1: Migration = {area: 'demo', version: 1, description: 't', sql: 'CREATE TABLE demo_t (x INTEGER)'}
    const v2: Migration = {area: 'demo', version: 2, description: 'c', sql: 'ALTER TABLE demo_t ADD COLUMN y TEXT'}
    const db = await openState({path, migrations: [v1]})
    db.prepare('INSERT INTO demo_t (x) VALUES (1)').run()
    db.close()
    const upgraded = await openState({path, migrations: [v2, v1]})
    expect(upgraded.prepare('SELECT x, y FROM demo_t').all()).toEqual([{x: 1, y: null}])
    upgraded.close()
  })

  it('rolls back a failing migration and leaves it unrecorded', async () => {
    const path = join(dir, 'failing.db')
    const bad: Migration = {
      area: 'demo',
      version: 1,
      description: 'bad',
      sql: 'CREATE TABLE ok_t (x INTEGER); SELECT * FROM no_such_table',
    }
    await expect(openState({path, migrations: [bad]})).rejects.toThrow(/no_such_table/)
    const db = await openState({path, migrations: []})
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'ok_t'").all()).toEqual([])
    db.close()
  })

  it('gives a clear error when the directory is not writable', async () => {
    const parent = join(dir, 'file-not-dir')
    writeFileSync(parent, 'x')
    await expect(openState({path: join(parent, 'sub', 'homeops.db'), migrations: allMigrations})).rejects.toThrow(
      UserError,
    )
    await expect(openState({path: join(parent, 'sub', 'homeops.db'), migrations: allMigrations})).rejects.toThrow(
      /state database directory .*file-not-dir\/sub cannot be created/,
    )
  })
})

describe('locks', () => {
  it('gives exit 5 with the holder pid when another live process holds it', () => {
    const path = join(dir, 'live.lock')
    writeFileSync(path, `${process.ppid}\n`)
    try {
      acquireLock(path, 'homeops swarm run')
      throw new Error('expected LockedError')
    } catch (error) {
      expect(error).toBeInstanceOf(LockedError)
      expect((error as LockedError).exitCode).toBe(5)
      expect((error as LockedError).message).toContain(`pid ${process.ppid}`)
    }
  })

  it('takes over a stale lock left by a dead process', () => {
    const path = join(dir, 'stale.lock')
    writeFileSync(path, '999999999\n')
    const lock = acquireLock(path, 'run')
    expect(existsSync(path)).toBe(true)
    lock.release()
    expect(existsSync(path)).toBe(false)
  })

  it('is exclusive within a process too, and free again after release', () => {
    const path = join(dir, 'own.lock')
    const lock = acquireLock(path, 'run')
    expect(() => acquireLock(path, 'run')).toThrow(LockedError)
    lock.release()
    const again = acquireLock(path, 'run')
    again.release()
    expect(existsSync(path)).toBe(false)
  })
})
