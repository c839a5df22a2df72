import type {Database} from '../state/database.js'

/**
 * What a container update is about to do next, written before each step so an
 * interrupted update (SIGKILL, a crash, dockerd killed) can be finished or
 * rolled back by the next run:
 * - `rename`: the current container is renamed aside (`NAME-homeops-old-<ms>`);
 * - `stop`: the aside container is stopped;
 * - `create`: the replacement is created under NAME;
 * - `start`: it is connected to its networks, started and watched until ready;
 * - `ready`: it is ready; the aside container is removed next;
 * - `rollback`: the update failed and so did its rollback.
 */
export const UPDATE_STEPS = ['rename', 'stop', 'create', 'start', 'ready', 'rollback'] as const
export type UpdateStep = (typeof UPDATE_STEPS)[number]

export interface JournalEntry {
  /** The container's name, which the update must keep. */
  name: string
  /** The container being replaced. */
  containerId: string
  asideName: string
  /** The image of the replacement. */
  image: string
  previousImage: string
  wasRunning: boolean
  step: UpdateStep
  /** The replacement, once created. */
  newId: string | null
  /** The process doing the update. */
  pid: number
  startedAt: string
  /** When `step` was written (ISO time). */
  updatedAt: string
}

export interface UpdateJournal {
  begin(entry: Omit<JournalEntry, 'step' | 'newId' | 'pid' | 'startedAt' | 'updatedAt'>): void
  step(name: string, step: UpdateStep, fields?: {newId?: string}): void
  /** The update finished, or was rolled back completely. */
  finish(name: string): void
  list(): JournalEntry[]
}

interface Row {
  name: string
  container_id: string
  aside_name: string
  image: string
  previous_image: string
  was_running: number
  step: string
  new_id: string | null
  pid: number
  started_at: string
  updated_at: string
}

/** The journal in the state database (table `docker_update_journal`, one row per update in progress). */
export function stateJournal(db: Database): UpdateJournal {
  return {
    begin(entry) {
      const now = new Date().toISOString()
      db.prepare(
        `INSERT OR REPLACE INTO docker_update_journal
          (name, container_id, aside_name, image, previous_image, was_running, step, new_id, pid, started_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 'rename', NULL, ?, ?, ?)`,
      ).run(
        entry.name,
        entry.containerId,
        entry.asideName,
        entry.image,
        entry.previousImage,
        entry.wasRunning ? 1 : 0,
        process.pid,
        now,
        now,
      )
    },
    step(name, step, fields = {}) {
      db.prepare(
        'UPDATE docker_update_journal SET step = ?, new_id = COALESCE(?, new_id), updated_at = ? WHERE name = ?',
      ).run(step, fields.newId ?? null, new Date().toISOString(), name)
    },
    finish(name) {
      db.prepare('DELETE FROM docker_update_journal WHERE name = ?').run(name)
    },
    list() {
      return db
        .prepare<[], Row>('SELECT * FROM docker_update_journal ORDER BY started_at, name')
        .all()
        .map((row) => ({
          name: row.name,
          containerId: row.container_id,
          asideName: row.aside_name,
          image: row.image,
          previousImage: row.previous_image,
          wasRunning: row.was_running === 1,
          step: (UPDATE_STEPS as readonly string[]).includes(row.step) ? (row.step as UpdateStep) : 'rollback',
          newId: row.new_id,
          pid: row.pid,
          startedAt: row.started_at,
          updatedAt: row.updated_at,
        }))
    },
  }
}
