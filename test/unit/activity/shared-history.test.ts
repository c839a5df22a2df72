import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {ActivityLog} from '../../../src/lib/activity/log.js'
import {settled} from '../../../src/lib/images/pending.js'
import type {UpdateRecord} from '../../../src/lib/images/history.js'
import {registerSecret} from '../../../src/lib/log/redact.js'
import {openState} from '../../../src/lib/state/database.js'
import {allMigrations} from '../../../src/lib/state/registry.js'

const dir = mkdtempSync(join(tmpdir(), 'hotest-activity-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('the shared activity history in the state database', () => {
  it('shows an action started by one process, with its steps, to every other one', async () => {
    const path = join(dir, 'shared.db')
    const serve = await openState({path, migrations: allMigrations})
    const cli = await openState({path, migrations: allMigrations})
    try {
      const record = new ActivityLog(cli).begin('update', 'web', 'command line')
      record.step('pulling')
      const page = new ActivityLog(serve)
      expect(page.list()[0]).toMatchObject({target: 'web', by: 'command line', state: 'running', step: 'pulling'})
      record.step('health check')
      record.finish(true, 'web updated to app:1.1')
      expect(page.list()[0]).toMatchObject({
        state: 'ok',
        steps: ['pulling', 'health check'],
        message: 'web updated to app:1.1',
        finished: expect.any(String),
      })
    } finally {
      serve.close()
      cli.close()
    }
  })

  it('calls an action whose process stopped long ago interrupted, keeps no secret and stays bounded', async () => {
    const db = await openState({path: join(dir, 'bounded.db'), migrations: allMigrations})
    try {
      let now = Date.parse('2026-01-01T00:00:00Z')
      const log = new ActivityLog(db, () => now)
      log.begin('update', 'killed', 'API 10.0.0.2').step('stopping')
      now += 16 * 60_000
      expect(log.list()[0]).toMatchObject({state: 'failed', message: expect.stringMatching(/^interrupted/)})
      const secret = registerSecret('s3cret-registry-password-1')
      log.begin('update', 'x', 'web').finish(false, 'pull failed: unauthorized for s3cret-registry-password-1')
      expect(log.list()[0]!.message).not.toContain('s3cret')
      secret.release()
      for (let i = 0; i < 1100; i++) log.begin('prune images', 'y'.repeat(1000), 'web').finish(true, 'z'.repeat(5000))
      expect(db.prepare('SELECT count(*) AS n FROM activity').get()).toEqual({n: 1000})
      const all = log.list(10_000)
      expect(all).toHaveLength(200)
      expect(all[0]!.target).toHaveLength(200)
      expect(all[0]!.message).toHaveLength(500)
    } finally {
      db.close()
    }
  })
})

describe('pending image updates', () => {
  const base = {
    checkedAt: '2026-01-01T10:00:00.000Z',
    workload: 'web',
    kind: 'container',
    image: 'registry/app',
    currentTag: '1.0.0',
    newestAllowed: '1.0.1',
    newestOverall: '2.0.0',
    mode: 'NOTIFICATION',
    strategy: 'PATCH',
    status: 'update_available',
    update: {type: 'version' as const, tag: '1.0.1'},
    error: null,
    note: null,
  }
  const record = (over: Partial<UpdateRecord>): UpdateRecord => ({
    at: '2026-01-01T10:05:00.000Z',
    workload: 'web',
    kind: 'container',
    image: 'registry/app',
    previousVersion: '1.0.0',
    newVersion: '1.0.1',
    previousDigest: null,
    newDigest: null,
    by: 'manual',
    result: 'applied',
    error: null,
    ...over,
  })

  it('leave "pending" as soon as an update to them is applied, from any page or the CLI', () => {
    const after = settled(base, [record({})])
    expect(after).toMatchObject({status: 'up_to_date', currentTag: '1.0.1', update: null})
    expect(after.note).toMatch(/updated to 1\.0\.1 by hand/)
  })

  it('stay pending when the update is older than the check, or moved elsewhere (a re-pull of the same tag)', () => {
    expect(settled(base, [record({at: '2026-01-01T09:00:00.000Z'})]).status).toBe('update_available')
    expect(settled(base, [record({newVersion: '1.0.0'})])).toMatchObject({status: 'update_available'})
    // A new build of the same tag, pulled again from Containers: settled.
    const digest = {...base, newestAllowed: null, update: {type: 'digest' as const, tag: '1.0.0', digest: 'sha256:b'}}
    expect(settled(digest, [record({newVersion: '1.0.0'})]).status).toBe('up_to_date')
  })
})
