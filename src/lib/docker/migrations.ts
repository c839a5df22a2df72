import type {Migration} from '../state/migrations.js'

/** The journal of container recreations in progress (`docker/update-journal.ts`). */
export const dockerMigrations: Migration[] = [
  {
    area: 'docker',
    version: 1,
    description: 'journal of container updates in progress, to finish or roll back one that was interrupted',
    sql: `
      CREATE TABLE docker_update_journal (
        name TEXT PRIMARY KEY,
        container_id TEXT NOT NULL,
        aside_name TEXT NOT NULL,
        image TEXT NOT NULL,
        previous_image TEXT NOT NULL,
        was_running INTEGER NOT NULL CHECK (was_running IN (0, 1)),
        step TEXT NOT NULL,
        new_id TEXT,
        pid INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
    `,
  },
]
