import {randomBytes} from 'node:crypto'

import {type Database, getSetting, setSetting} from '../state/database.js'

/**
 * The swarm tables. Every write here records something that already happened
 * (a fetch, a finished deploy, a removal); multi-row changes are transactions.
 */
export type StackStatus = 'deploying' | 'deployed' | 'failed' | 'removed' | 'stopped'

export interface RepositoryRow {
  id: number
  url: string
  name: string
  /** The branch given to `watch --branch`; null: the remote's default branch is followed. */
  branch: string | null
  /** The branch the last fetch followed. */
  fetchedBranch: string | null
  cloneDir: string
  lastCommit: string | null
  lastFetchedAt: string | null
  lastRunAt: string | null
  lastResult: string | null
  lastError: string | null
}

export interface StackRow {
  id: number
  repositoryId: number | null
  name: string
  hash: string | null
  /** JSON of the hash's parts (compose, each binding, volumes, nfs, secrets HMAC), to say why a stack changed. */
  hashParts: string | null
  /**
   * What the compose and binding parts of `hashParts` were computed from (see `renderKey`): while it
   * matches, a reconcile reuses them instead of rendering the stack again. Null when unknown.
   */
  renderKey: string | null
  status: StackStatus
  deployedCommit: string | null
  lastError: string | null
  deployedAt: string | null
  attemptedAt: string | null
  updatedAt: string
}

export interface ManagedServiceRow {
  service: string
  composeService: string
  /** Relative to the repository root (`stacks/web/compose.yml`); null when unknown. */
  composeFile: string | null
  stack: string
  repositoryId: number
  repositoryUrl: string
  repositoryName: string
  cloneDir: string
}

export interface ImageRow {
  reference: string
  pulledByHomeops: boolean
  references: number
  stacks: string[]
}

const HMAC_KEY_SETTING = 'swarm.hashKey'

export function now(): string {
  return new Date().toISOString()
}

export class SwarmStore {
  constructor(readonly db: Database) {}

  /** The HMAC key for secret values, generated on first use. `create: false` (dry runs) never writes. */
  hashKey(create = true): string {
    const existing = getSetting(this.db, HMAC_KEY_SETTING)
    if (existing) return existing
    const key = randomBytes(32).toString('hex')
    if (create) setSetting(this.db, HMAC_KEY_SETTING, key)
    return key
  }

  repositories(): RepositoryRow[] {
    return this.db.prepare<[], RepositoryRow>(`${REPO_SELECT} ORDER BY name`).all()
  }

  repositoryByUrl(url: string): RepositoryRow | undefined {
    return this.db.prepare<[string], RepositoryRow>(`${REPO_SELECT} WHERE url = ?`).get(url)
  }

  repositoryByName(name: string): RepositoryRow | undefined {
    return this.db.prepare<[string], RepositoryRow>(`${REPO_SELECT} WHERE name = ?`).get(name)
  }

  addRepository(repo: {url: string; name: string; branch: string | null; cloneDir: string}): RepositoryRow {
    this.db
      .prepare('INSERT INTO swarm_repositories (url, name, branch, clone_dir) VALUES (?, ?, ?, ?)')
      .run(repo.url, repo.name, repo.branch, repo.cloneDir)
    return this.repositoryByUrl(repo.url)!
  }

  setBranch(id: number, branch: string | null): void {
    this.db.prepare('UPDATE swarm_repositories SET branch = ? WHERE id = ?').run(branch, id)
  }

  recordFetch(id: number, commit: string, branch: string): void {
    this.db
      .prepare('UPDATE swarm_repositories SET last_commit = ?, fetched_branch = ?, last_fetched_at = ? WHERE id = ?')
      .run(commit, branch, now(), id)
  }

  recordRun(id: number, result: 'ok' | 'failed' | 'unreachable', error: string | null): void {
    this.db
      .prepare('UPDATE swarm_repositories SET last_run_at = ?, last_result = ?, last_error = ? WHERE id = ?')
      .run(now(), result, error, id)
  }

  removeRepository(id: number): void {
    this.db.prepare('DELETE FROM swarm_repositories WHERE id = ?').run(id)
  }

  stacks(): StackRow[] {
    return this.db.prepare<[], StackRow>(`${STACK_SELECT} ORDER BY name`).all()
  }

  stacksOf(repositoryId: number): StackRow[] {
    return this.db
      .prepare<[number], StackRow>(`${STACK_SELECT} WHERE repository_id = ? ORDER BY name`)
      .all(repositoryId)
  }

  stack(name: string): StackRow | undefined {
    return this.db.prepare<[string], StackRow>(`${STACK_SELECT} WHERE name = ?`).get(name)
  }

  /**
   * Marks the start of a deploy: the previous hash stays, so a run killed
   * now is retried by the next one (status `deploying` never matches "unchanged").
   */
  markDeploying(repositoryId: number, name: string): StackRow {
    const t = now()
    this.db
      .prepare(
        `INSERT INTO swarm_stacks (repository_id, name, status, attempted_at, updated_at) VALUES (?, ?, 'deploying', ?, ?)
         ON CONFLICT(name) DO UPDATE SET repository_id = excluded.repository_id, status = 'deploying',
           attempted_at = excluded.attempted_at, updated_at = excluded.updated_at`,
      )
      .run(repositoryId, name, t, t)
    return this.stack(name)!
  }

  /** After the deploy converged: the only place a hash is written. */
  recordDeployed(
    name: string,
    hash: string,
    hashParts: string,
    commit: string | null,
    images: string[],
    renderKey: string | null = null,
  ): void {
    this.db.transaction(() => {
      const t = now()
      this.db
        .prepare(
          `UPDATE swarm_stacks SET hash = ?, hash_parts = ?, render_key = ?, status = 'deployed', deployed_commit = ?,
           last_error = NULL, deployed_at = ?, updated_at = ? WHERE name = ?`,
        )
        .run(hash, hashParts, renderKey, commit, t, t, name)
      const stack = this.stack(name)!
      this.db.prepare('DELETE FROM swarm_stack_images WHERE stack_id = ?').run(stack.id)
      for (const image of images) this.addReference(stack.id, image)
    })()
  }

  /**
   * A full render of a deployed stack gave its recorded hash again (a new commit that did not touch
   * it, or a first run of a new homeops version): later runs may reuse its parts under `renderKey`.
   */
  noteRendered(name: string, hash: string, renderKey: string): void {
    this.db
      .prepare(`UPDATE swarm_stacks SET render_key = ? WHERE name = ? AND status = 'deployed' AND hash = ?`)
      .run(renderKey, name, hash)
  }

  /** A failed attempt: hash and deployed commit stay as they were; references only grow (the Swarm may run either). */
  recordFailed(repositoryId: number, name: string, error: string, images: string[] = []): void {
    this.db.transaction(() => {
      const t = now()
      this.db
        .prepare(
          `INSERT INTO swarm_stacks (repository_id, name, status, last_error, attempted_at, updated_at)
           VALUES (?, ?, 'failed', ?, ?, ?)
           ON CONFLICT(name) DO UPDATE SET status = 'failed', last_error = excluded.last_error,
             attempted_at = excluded.attempted_at, updated_at = excluded.updated_at`,
        )
        .run(repositoryId, name, error, t, t)
      const stack = this.stack(name)!
      for (const image of images) this.addReference(stack.id, image)
    })()
  }

  recordRemoved(name: string, status: 'removed' | 'stopped'): void {
    this.db.transaction(() => {
      const stack = this.stack(name)
      if (!stack) return
      this.db
        .prepare(
          `UPDATE swarm_stacks SET status = ?, hash = NULL, hash_parts = NULL, render_key = NULL, last_error = NULL,
           updated_at = ? WHERE id = ?`,
        )
        .run(status, now(), stack.id)
      this.db.prepare('DELETE FROM swarm_stack_images WHERE stack_id = ?').run(stack.id)
      this.db.prepare('DELETE FROM swarm_deployed_services WHERE stack_id = ?').run(stack.id)
    })()
  }

  /** What each service of a stack runs right after its deploy (see drift.ts): replaces the stack's rows. */
  recordServiceFingerprints(
    name: string,
    composeFile: string | null,
    services: {service: string; composeService: string; fingerprint: string}[],
  ): void {
    this.db.transaction(() => {
      const stack = this.stack(name)
      if (!stack) return
      this.db.prepare('DELETE FROM swarm_deployed_services WHERE stack_id = ?').run(stack.id)
      const insert = this.db.prepare(
        `INSERT INTO swarm_deployed_services (stack_id, service, compose_file, compose_service, fingerprint, recorded_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      const t = now()
      for (const s of services) insert.run(stack.id, s.service, composeFile, s.composeService, s.fingerprint, t)
    })()
  }

  /** Service name → stored fingerprint (JSON) of one stack; empty when none was recorded. */
  serviceFingerprints(name: string): Map<string, string> {
    const rows = this.db
      .prepare<[string], {service: string; fingerprint: string}>(
        `SELECT d.service, d.fingerprint FROM swarm_deployed_services d JOIN swarm_stacks s ON s.id = d.stack_id
         WHERE s.name = ?`,
      )
      .all(name)
    return new Map(rows.map((r) => [r.service, r.fingerprint]))
  }

  /** Every service homeops deployed from git and still manages, with where it is written. */
  managedServices(): ManagedServiceRow[] {
    return this.db
      .prepare<[], ManagedServiceRow>(
        `SELECT d.service, d.compose_service AS composeService, d.compose_file AS composeFile, s.name AS stack,
           r.url AS repositoryUrl, r.name AS repositoryName, r.clone_dir AS cloneDir, r.id AS repositoryId
         FROM swarm_deployed_services d JOIN swarm_stacks s ON s.id = d.stack_id
         JOIN swarm_repositories r ON r.id = s.repository_id
         WHERE s.status NOT IN ('removed', 'stopped') ORDER BY d.service`,
      )
      .all()
  }

  recordRemoveFailed(name: string, error: string): void {
    this.db
      .prepare(`UPDATE swarm_stacks SET status = 'failed', last_error = ?, updated_at = ? WHERE name = ?`)
      .run(error, now(), name)
  }

  /** `unwatch` without removing: homeops forgets the stacks and hands their images over to the user. */
  forgetStacksOf(repositoryId: number): string[] {
    return this.db.transaction(() => {
      const names = this.stacksOf(repositoryId).map((s) => s.name)
      const orphans = this.db
        .prepare<[number, number], {reference: string}>(
          `SELECT DISTINCT si.reference FROM swarm_stack_images si JOIN swarm_stacks s ON s.id = si.stack_id
           WHERE s.repository_id = ? AND si.reference NOT IN (
             SELECT si2.reference FROM swarm_stack_images si2 JOIN swarm_stacks s2 ON s2.id = si2.stack_id
             WHERE s2.repository_id IS NOT ? )`,
        )
        .all(repositoryId, repositoryId)
      this.db.prepare('DELETE FROM swarm_stacks WHERE repository_id = ?').run(repositoryId)
      for (const {reference} of orphans) this.db.prepare('DELETE FROM swarm_images WHERE reference = ?').run(reference)
      return names
    })()
  }

  deleteStacksOf(repositoryId: number): void {
    this.db.prepare('DELETE FROM swarm_stacks WHERE repository_id = ?').run(repositoryId)
  }

  /** Remembers that homeops pulled an image (it was not on this host before). */
  notePulled(reference: string): void {
    this.db
      .prepare(
        `INSERT INTO swarm_images (reference, pulled_by_homeops) VALUES (?, 1)
         ON CONFLICT(reference) DO UPDATE SET pulled_by_homeops = 1`,
      )
      .run(reference)
  }

  private addReference(stackId: number, reference: string): void {
    this.db.prepare('INSERT INTO swarm_images (reference) VALUES (?) ON CONFLICT(reference) DO NOTHING').run(reference)
    this.db
      .prepare('INSERT INTO swarm_stack_images (stack_id, reference) VALUES (?, ?) ON CONFLICT DO NOTHING')
      .run(stackId, reference)
  }

  images(): ImageRow[] {
    const rows = this.db
      .prepare<[], {reference: string; pulledByHomeops: number; stacks: string | null}>(
        `SELECT i.reference, i.pulled_by_homeops AS pulledByHomeops, group_concat(s.name, ',') AS stacks
         FROM swarm_images i
         LEFT JOIN swarm_stack_images si ON si.reference = i.reference
         LEFT JOIN swarm_stacks s ON s.id = si.stack_id
         GROUP BY i.reference ORDER BY i.reference`,
      )
      .all()
    return rows.map((r) => {
      const stacks = r.stacks ? r.stacks.split(',').sort() : []
      return {reference: r.reference, pulledByHomeops: r.pulledByHomeops === 1, references: stacks.length, stacks}
    })
  }

  /** Images homeops pulled that no stack of any repository references any more. */
  releasableImages(): string[] {
    return this.images()
      .filter((i) => i.pulledByHomeops && i.references === 0)
      .map((i) => i.reference)
  }

  /** Drops an image row whose references are zero (after removal, or when it is no longer ours). */
  forgetImage(reference: string): void {
    this.db
      .prepare(
        'DELETE FROM swarm_images WHERE reference = ? AND NOT EXISTS (SELECT 1 FROM swarm_stack_images WHERE reference = ?)',
      )
      .run(reference, reference)
  }
}

const REPO_SELECT = `SELECT id, url, name, branch, fetched_branch AS fetchedBranch, clone_dir AS cloneDir, last_commit AS lastCommit,
  last_fetched_at AS lastFetchedAt, last_run_at AS lastRunAt, last_result AS lastResult, last_error AS lastError
  FROM swarm_repositories`

const STACK_SELECT = `SELECT id, repository_id AS repositoryId, name, hash, hash_parts AS hashParts, render_key AS renderKey,
  status, deployed_commit AS deployedCommit,
  last_error AS lastError, deployed_at AS deployedAt, attempted_at AS attemptedAt, updated_at AS updatedAt
  FROM swarm_stacks`
