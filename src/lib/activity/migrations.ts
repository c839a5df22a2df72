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
  {
    area: 'activity',
    version: 2,
    description: "state 'skipped': a run that did not start because another run held the lock",
    // SQLite cannot change a CHECK constraint in place: the table is rebuilt, rows and ids kept.
    sql: `
      CREATE TABLE activity_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        by TEXT NOT NULL,
        started TEXT NOT NULL,
        touched TEXT NOT NULL,
        finished TEXT,
        state TEXT NOT NULL CHECK (state IN ('running', 'ok', 'failed', 'skipped')),
        step TEXT,
        steps TEXT NOT NULL DEFAULT '[]',
        message TEXT
      );
      INSERT INTO activity_v2 (id, action, target, by, started, touched, finished, state, step, steps, message)
        SELECT id, action, target, by, started, touched, finished, state, step, steps, message FROM activity;
      DROP TABLE activity;
      ALTER TABLE activity_v2 RENAME TO activity;
    `,
  },
]
