import {coreMigrations, type Migration} from './migrations.js'
import {swarmMigrations} from '../swarm/migrations.js'
import {ddnsMigrations} from '../ddns/migrations.js'
import {imagesMigrations} from '../images/migrations.js'
import {dockerMigrations} from '../docker/migrations.js'
import {activityMigrations} from '../activity/migrations.js'

/**
 * Every area's migrations. Areas register theirs here with one import line;
 * the lists are plain data, cheap to load.
 */
export const allMigrations: readonly Migration[] = [
  ...coreMigrations,
  ...swarmMigrations,
  ...ddnsMigrations,
  ...imagesMigrations,
  ...dockerMigrations,
  ...activityMigrations,
]
