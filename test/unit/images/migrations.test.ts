import {describe, expect, it} from 'vitest'

import {recordUpdate, updateHistory} from '../../../src/lib/images/history.js'
import {imagesMigrations} from '../../../src/lib/images/migrations.js'
import {migrate} from '../../../src/lib/state/database.js'
import {tempDatabase} from '../../support/temp-database.js'

describe('images migrations', () => {
  it("adds the 'refused' update result and keeps the history of a version-1 database", () => {
    const {db, close} = tempDatabase()
    try {
      migrate(
        db,
        imagesMigrations.filter((m) => m.version === 1),
      )
      const old = {
        at: '2026-01-01T00:00:00.000Z',
        workload: 'web',
        kind: 'container' as const,
        image: 'nginx',
        previousVersion: '1.0',
        newVersion: '1.1',
        previousDigest: null,
        newDigest: null,
        by: 'manual' as const,
        result: 'rolled_back' as const,
        error: 'boom',
      }
      recordUpdate(db, old)
      expect(() => recordUpdate(db, {...old, result: 'refused'})).toThrow(/CHECK constraint/)

      migrate(db, imagesMigrations)
      recordUpdate(db, {...old, at: '2026-01-02T00:00:00.000Z', result: 'refused', error: 'self'})
      const rows = updateHistory(db)
      expect(rows.map((r) => [r.id, r.result])).toEqual([
        [2, 'refused'],
        [1, 'rolled_back'],
      ])
      expect(rows[1]).toMatchObject({workload: 'web', previousVersion: '1.0', newVersion: '1.1', error: 'boom'})
      expect(() => recordUpdate(db, {...old, result: 'exploded' as 'failed'})).toThrow(/CHECK constraint/)
    } finally {
      close()
    }
  })
})
