import {activityMigrations} from '../activity/migrations.js'
import {AREAS} from '../areas.js'
import {dockerMigrations} from '../docker/migrations.js'
import {coreMigrations, type Migration} from './migrations.js'

/**
 * Every migration: the core's, the shared layers' (Docker, the activity history), then each area's (declared in
 * its `area.ts`). The lists are plain data, cheap to load.
 */
export const allMigrations: readonly Migration[] = [
  ...coreMigrations,
  ...dockerMigrations,
  ...activityMigrations,
  ...AREAS.flatMap((area) => area.migrations),
]
