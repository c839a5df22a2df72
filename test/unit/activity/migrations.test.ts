import {describe, expect, it} from 'vitest'

import {ActivityLog} from '../../../src/lib/activity/log.js'
import {activityMigrations} from '../../../src/lib/activity/migrations.js'
import {migrate} from '../../../src/lib/state/database.js'
import {tempDatabase} from '../../support/temp-database.js'

describe('activity migrations', () => {
  it("adds the 'skipped' state and keeps the history of a version-1 database, ids and all", () => {
    const {db, close} = tempDatabase()
    try {
      migrate(
        db,
        activityMigrations.filter((m) => m.version === 1),
      )
      const v1 = new ActivityLog(db)
      const update = v1.begin('update', 'web', 'command line')
      update.step('pulling')
      update.finish(false, 'rolled back')
      expect(() => v1.begin('reconcile', 'every watched repository', 'Swarm page').skip('locked')).toThrow(
        /CHECK constraint/,
      )

      migrate(db, activityMigrations)
      const log = new ActivityLog(db)
      log.begin('reconcile', 'every watched repository', 'Swarm page').skip('another run holds the lock')
      const [skipped, ...older] = log.list()
      expect(skipped).toMatchObject({state: 'skipped', message: 'another run holds the lock'})
      expect(skipped!.finished).toBeDefined()
      // The row the failed insert above left running, then the version-1 update as it was.
      expect(older.at(-1)).toMatchObject({
        id: 1,
        action: 'update',
        state: 'failed',
        steps: ['pulling'],
        message: 'rolled back',
      })
      expect(() => db.prepare("UPDATE activity SET state = 'exploded' WHERE id = 1").run()).toThrow(/CHECK constraint/)
    } finally {
      close()
    }
  })
})
