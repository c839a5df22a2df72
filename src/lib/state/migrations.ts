/**
 * Numbered schema migrations, per area, applied in order at open. Each area
 * owns its list (so groups evolve independently); a migration never changes
 * once released: add a new one instead.
 */
export interface Migration {
  area: string
  version: number
  description: string
  sql: string
}

export const coreMigrations: Migration[] = [
  {
    area: 'core',
    version: 1,
    description: 'key/value settings',
    sql: `CREATE TABLE settings (
      key TEXT PRIMARY KEY,
      value TEXT NOT NULL,
      updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
    )`,
  },
]
