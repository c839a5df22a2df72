import type {Migration} from '../state/migrations.js'

/** Image check results, applied updates, notifications sent and used apply-link nonces. */
export const imagesMigrations: Migration[] = [
  {
    area: 'images',
    version: 1,
    description: 'image check results, update history, notifications, apply-link nonces',
    sql: `
      CREATE TABLE images_checks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        checked_at TEXT NOT NULL,
        workload TEXT NOT NULL,
        kind TEXT NOT NULL,
        image TEXT NOT NULL,
        current_tag TEXT,
        current_digest TEXT,
        remote_digest TEXT,
        newest_allowed TEXT,
        newest_overall TEXT,
        mode TEXT NOT NULL,
        strategy TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT
      );
      CREATE INDEX images_checks_workload ON images_checks (workload, id);
      CREATE INDEX images_checks_time ON images_checks (checked_at);
      CREATE TABLE images_updates (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        workload TEXT NOT NULL,
        kind TEXT NOT NULL,
        image TEXT NOT NULL,
        previous_version TEXT,
        new_version TEXT NOT NULL,
        previous_digest TEXT,
        new_digest TEXT,
        by TEXT NOT NULL CHECK (by IN ('auto', 'manual', 'link')),
        result TEXT NOT NULL CHECK (result IN ('applied', 'failed', 'rolled_back')),
        error TEXT
      );
      CREATE INDEX images_updates_workload ON images_updates (workload, id);
      CREATE TABLE images_notifications (
        workload TEXT NOT NULL,
        version TEXT NOT NULL,
        notified_at TEXT NOT NULL,
        PRIMARY KEY (workload, version)
      );
      CREATE TABLE images_link_nonces (
        nonce TEXT PRIMARY KEY,
        workload TEXT NOT NULL,
        version TEXT NOT NULL,
        used_at TEXT NOT NULL
      );
    `,
  },
  {
    area: 'images',
    version: 2,
    description: "update result 'refused' (homeops's own container is never recreated by itself)",
    // SQLite cannot change a CHECK constraint in place: the table is rebuilt, rows and ids kept.
    sql: `
      CREATE TABLE images_updates_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        workload TEXT NOT NULL,
        kind TEXT NOT NULL,
        image TEXT NOT NULL,
        previous_version TEXT,
        new_version TEXT NOT NULL,
        previous_digest TEXT,
        new_digest TEXT,
        by TEXT NOT NULL CHECK (by IN ('auto', 'manual', 'link')),
        result TEXT NOT NULL CHECK (result IN ('applied', 'failed', 'rolled_back', 'refused')),
        error TEXT
      );
      INSERT INTO images_updates_v2 (id, at, workload, kind, image, previous_version, new_version, previous_digest, new_digest, by, result, error)
        SELECT id, at, workload, kind, image, previous_version, new_version, previous_digest, new_digest, by, result, error
        FROM images_updates;
      DROP TABLE images_updates;
      ALTER TABLE images_updates_v2 RENAME TO images_updates;
      CREATE INDEX images_updates_workload ON images_updates (workload, id);
    `,
  },
]
