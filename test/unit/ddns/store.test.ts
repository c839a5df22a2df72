import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {DdnsStore} from '../../../src/lib/ddns/store.js'
import {openState} from '../../../src/lib/state/database.js'
import {allMigrations} from '../../../src/lib/state/registry.js'

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, {recursive: true, force: true})
})
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'homeops-ddns-store-'))
  dirs.push(dir)
  return dir
}

const attempt = (i: number, target = 't1') => ({
  at: new Date(1_700_000_000_000 + i * 1000).toISOString(),
  record: 'home',
  family: 4 as const,
  hostname: 'home.example.org',
  provider: 'dyndns2',
  target,
  ip: `84.16.66.${i % 250}`,
  previousIp: null,
  result: 'good',
  answer: 'good',
  tries: 1,
  durationMs: 3,
  exitCode: 0,
})

describe('ddns store', () => {
  it('keeps the newest attempts only', async () => {
    const db = await openState({
      path: join(tempDir(), 'h.db'),
      migrations: allMigrations,
    })
    const store = new DdnsStore(db, 50)
    for (let i = 0; i < 53; i++) store.succeeded(attempt(i))
    const count = db.prepare<[], {n: number}>('SELECT COUNT(*) AS n FROM ddns_attempts').get()!.n
    expect(count).toBe(50)
    expect(store.history({limit: 100}).map((e) => e.at)).toEqual(Array.from({length: 50}, (_, i) => attempt(52 - i).at))
    db.close()
  })

  it('forgets the accepted address when the record now points at another target', async () => {
    const db = await openState({
      path: join(tempDir(), 'h.db'),
      migrations: allMigrations,
    })
    const store = new DdnsStore(db)
    store.succeeded(attempt(1))
    expect(store.state('home', 4)).toMatchObject({lastIp: '84.16.66.1', target: 't1', failures: 0})
    store.failed({...attempt(2, 't2'), result: '911'}, new Date().toISOString())
    expect(store.state('home', 4)).toMatchObject({lastIp: null, target: 't2', failures: 1})
    expect(store.failures({record: 'home', family: 4, target: 't1'})).toBe(0)
    db.close()
  })
})
