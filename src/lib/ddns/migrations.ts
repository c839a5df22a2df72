import type {Migration} from '../state/migrations.js'

/**
 * ddns state (docs/architecture.md "State"): per record and family the last address the
 * provider accepted, the last result and the persisted back-off; per record the
 * blocked state with the fingerprint of the configuration that was refused;
 * every attempt that reached a provider (or was refused locally) as history.
 * Never credentials: fingerprints are hashes.
 */
export const ddnsMigrations: Migration[] = [
  {
    area: 'ddns',
    version: 1,
    description: 'ddns records state, blocks and attempt history',
    sql: `
      CREATE TABLE ddns_state (
        record TEXT NOT NULL,
        family INTEGER NOT NULL CHECK (family IN (4, 6)),
        hostname TEXT NOT NULL,
        provider TEXT NOT NULL,
        target TEXT NOT NULL,
        last_ip TEXT,
        last_ip_at TEXT,
        last_detected_ip TEXT,
        last_result TEXT,
        last_message TEXT,
        last_result_at TEXT,
        last_success_at TEXT,
        last_checked_at TEXT,
        failures INTEGER NOT NULL DEFAULT 0,
        not_before TEXT,
        PRIMARY KEY (record, family)
      );
      CREATE TABLE ddns_blocks (
        record TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        message TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        blocked_at TEXT NOT NULL
      );
      CREATE TABLE ddns_attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        record TEXT NOT NULL,
        family INTEGER NOT NULL,
        hostname TEXT NOT NULL,
        provider TEXT NOT NULL,
        ip TEXT,
        previous_ip TEXT,
        action TEXT NOT NULL,
        result TEXT NOT NULL,
        answer TEXT,
        http_status INTEGER,
        tries INTEGER NOT NULL DEFAULT 1,
        duration_ms INTEGER
      );
      CREATE INDEX ddns_attempts_record_at ON ddns_attempts (record, at);
    `,
  },
  {
    area: 'ddns',
    version: 2,
    description: 'ddns exit code of the last answer (a deferred record keeps the code of the answer that deferred it)',
    sql: `ALTER TABLE ddns_state ADD COLUMN last_exit_code INTEGER;`,
  },
]
