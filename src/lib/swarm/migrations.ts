import type {Migration} from '../state/migrations.js'

/**
 * Swarm GitOps state (docs/architecture.md "State", "swarm"). Never holds a secret: repository
 * URLs are stored without credentials, secret values only as part of an HMAC
 * inside a stack's hash.
 */
export const swarmMigrations: Migration[] = [
  {
    area: 'swarm',
    version: 1,
    description: 'watched repositories, managed stacks and image references',
    sql: `
    CREATE TABLE swarm_repositories (
      id INTEGER PRIMARY KEY,
      url TEXT NOT NULL UNIQUE,
      name TEXT NOT NULL UNIQUE,
      branch TEXT,
      clone_dir TEXT NOT NULL,
      last_commit TEXT,
      last_fetched_at TEXT,
      last_run_at TEXT,
      last_result TEXT,
      last_error TEXT,
      created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
    );
    CREATE TABLE swarm_stacks (
      id INTEGER PRIMARY KEY,
      repository_id INTEGER REFERENCES swarm_repositories(id) ON DELETE SET NULL,
      name TEXT NOT NULL UNIQUE,
      hash TEXT,
      hash_parts TEXT,
      status TEXT NOT NULL,
      deployed_commit TEXT,
      last_error TEXT,
      deployed_at TEXT,
      attempted_at TEXT,
      created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
      updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
    );
    CREATE TABLE swarm_images (
      reference TEXT PRIMARY KEY,
      pulled_by_homeops INTEGER NOT NULL DEFAULT 0,
      first_seen_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
    );
    CREATE TABLE swarm_stack_images (
      stack_id INTEGER NOT NULL REFERENCES swarm_stacks(id) ON DELETE CASCADE,
      reference TEXT NOT NULL REFERENCES swarm_images(reference) ON DELETE CASCADE,
      PRIMARY KEY (stack_id, reference)
    );
    CREATE INDEX swarm_stack_images_reference ON swarm_stack_images(reference);
    `,
  },
  {
    area: 'swarm',
    version: 2,
    description: 'what a stack was rendered from (commit, clone, NFS root, homeops version), to skip re-rendering it',
    sql: `ALTER TABLE swarm_stacks ADD COLUMN render_key TEXT;`,
  },
  {
    area: 'swarm',
    version: 3,
    description: 'the branch last fetched, apart from the branch the user asked for (null: follow the default)',
    sql: `ALTER TABLE swarm_repositories ADD COLUMN fetched_branch TEXT;
    UPDATE swarm_repositories SET fetched_branch = branch;`,
  },
  {
    area: 'swarm',
    version: 4,
    description:
      'what each managed service ran right after its deploy (drift detection; secret-bearing values as HMACs)',
    sql: `
    CREATE TABLE swarm_deployed_services (
      stack_id INTEGER NOT NULL REFERENCES swarm_stacks(id) ON DELETE CASCADE,
      service TEXT NOT NULL,
      compose_file TEXT,
      compose_service TEXT NOT NULL,
      fingerprint TEXT NOT NULL,
      recorded_at TEXT NOT NULL,
      PRIMARY KEY (stack_id, service)
    );
    CREATE INDEX swarm_deployed_services_service ON swarm_deployed_services(service);
    `,
  },
]
