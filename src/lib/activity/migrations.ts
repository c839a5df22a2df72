import type {Migration} from '../state/migrations.js'

/** The shared history of actions (updates, prunes, settings, checks), whoever started them. */
export const activityMigrations: Migration[] = [
  {
    area: 'activity',
    version: 1,
    description: 'shared history of actions from the web UI, the APIs, apply links and the command line',
    sql: `
      CREATE TABLE activity (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        by TEXT NOT NULL,
        started TEXT NOT NULL,
        touched TEXT NOT NULL,
        finished TEXT,
        state TEXT NOT NULL CHECK (state IN ('running', 'ok', 'failed')),
        step TEXT,
        steps TEXT NOT NULL DEFAULT '[]',
        message TEXT
      );
    `,
  },
]
