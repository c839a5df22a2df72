import {spawn} from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {LockedError, UserError} from '../../../src/lib/errors.js'
import {openState} from '../../../src/lib/state/database.js'
import {acquireLock} from '../../../src/lib/state/lock.js'
import {allMigrations} from '../../../src/lib/state/registry.js'

const dir = mkdtempSync(join(tmpdir(), 'homeops-state-robust-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('state database against unlucky files', () => {
  it('moves a corrupt database aside (bytes kept, 0600), starts a fresh one and says so', async () => {
    const path = join(dir, 'corrupt', 'homeops.db')
    mkdirSync(join(dir, 'corrupt'))
    const garbage = Buffer.from('this is not SQLite at all '.repeat(200))
    writeFileSync(path, garbage, {mode: 0o644})
    const warnings: Record<string, string>[] = []
    const db = await openState({path, migrations: allMigrations, onWarning: (_m, fields) => warnings.push(fields)})
    expect(db.prepare('SELECT count(*) AS n FROM schema_migrations').get()).toEqual({n: allMigrations.length})
    db.close()
    expect(warnings).toHaveLength(1)
    const aside = warnings[0]!.movedTo!
    expect(aside).toMatch(/homeops\.db\.corrupt-\d{4}-\d\d-\d\dT/)
    expect(readFileSync(aside)).toEqual(garbage)
    expect(statSync(aside).mode & 0o777).toBe(0o600)
  })

  it('refuses a database written by a newer homeops and leaves it untouched', async () => {
    const path = join(dir, 'newer.db')
    const db = await openState({path, migrations: allMigrations})
    db.prepare("INSERT INTO schema_migrations (area, version, description) VALUES ('core', 99, 'future')").run()
    db.close()
    const before = readFileSync(path)
    await expect(openState({path, migrations: allMigrations})).rejects.toThrow(
      `this database (${path}) was written by a newer homeops (area core version 99 > 1)`,
    )
    expect(readFileSync(path)).toEqual(before)
  })

  it.each([
    ['/dev/null', /the state database \/dev\/null is a character device, expected a regular file/],
    ['/dev/full', /the state database \/dev\/full is a character device/],
    ['/proc/homeops-x/db', /the state database directory \/proc\/homeops-x cannot be created/],
  ])('refuses %s clearly and at once', async (path, message) => {
    const started = Date.now()
    await expect(openState({path, migrations: allMigrations})).rejects.toThrow(message)
    expect(Date.now() - started).toBeLessThan(5000)
    expect(existsSync('/dev/full-journal')).toBe(false)
  })

  it('refuses a directory where the database should be', async () => {
    const path = join(dir, 'is-a-dir.db')
    mkdirSync(path)
    await expect(openState({path, migrations: allMigrations})).rejects.toThrow(
      /is a directory, expected a regular file/,
    )
  })

  it('keeps the database, -wal and -shm at 0600 (an older 0644 database too)', async () => {
    const path = join(dir, 'modes.db')
    writeFileSync(path, '', {mode: 0o644})
    const db = await openState({path, migrations: allMigrations})
    db.prepare("INSERT INTO settings (key, value) VALUES ('k', 'v')").run()
    for (const file of [path, `${path}-wal`, `${path}-shm`]) expect(statSync(file).mode & 0o777, file).toBe(0o600)
    db.close()
  })
})

describe('locks held only by the process that wrote them', () => {
  const bootedAt = Date.now() - Number.parseFloat(readFileSync('/proc/uptime', 'utf8')) * 1000
  const lockNaming = (name: string, pid: number, writtenAt?: number) => {
    const path = join(dir, name)
    writeFileSync(path, `${pid}\n`)
    if (writtenAt !== undefined) utimesSync(path, writtenAt / 1000, writtenAt / 1000)
    return path
  }
  const started = async (command: string, args: string[]) => {
    const child = spawn(command, args, {stdio: 'ignore'})
    await new Promise((resolve) => child.once('spawn', resolve))
    return child
  }

  it('takes over a lock written before this boot, even when its pid is alive (a stale lock after a reboot)', () => {
    const path = lockNaming('other-boot.lock', 1, bootedAt - 3_600_000)
    acquireLock(path, 'run').release()
    expect(existsSync(path)).toBe(false)
  })

  it('takes over a lock naming pid 1 (not homeops, running long before the lock was written)', () => {
    // pid 1 is the host's or container's init here; were it node, it could be homeops itself.
    expect(readFileSync('/proc/1/comm', 'utf8')).not.toMatch(/^node/)
    const path = lockNaming('pid-1.lock', 1)
    acquireLock(path, 'run').release()
  })

  it('takes over a lock whose pid was reused by a process started after the lock was written', async () => {
    const other = await started('sleep', ['30'])
    try {
      acquireLock(lockNaming('reused.lock', other.pid!, Date.now() - 60_000), 'run').release()
    } finally {
      other.kill()
    }
  })

  it('gives exit 5 naming the pid while the homeops (node) process that wrote it runs', async () => {
    const holder = await started(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'])
    try {
      const path = lockNaming('held.lock', holder.pid!)
      expect(() => acquireLock(path, 'homeops ddns run')).toThrow(LockedError)
      expect(() => acquireLock(path, 'homeops ddns run')).toThrow(`(pid ${holder.pid}, lock ${path})`)
    } finally {
      holder.kill()
    }
  })

  it('writes its own lock 0600 holding only its pid, and leaves no temporary file', () => {
    const mine = join(dir, 'mine.lock')
    const lock = acquireLock(mine, 'run')
    expect(statSync(mine).mode & 0o777).toBe(0o600)
    expect(readFileSync(mine, 'utf8')).toBe(`${process.pid}\n`)
    lock.release()
    expect(existsSync(mine)).toBe(false)
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })

  it('says the lock path is a directory instead of a raw EISDIR', () => {
    const path = join(dir, 'dir.lock')
    mkdirSync(path)
    expect(() => acquireLock(path, 'run')).toThrow(UserError)
    expect(() => acquireLock(path, 'run')).toThrow(`the lock file ${path} is a directory, expected a regular file`)
  })
})
