import type Dockerode from 'dockerode'

import {LockedError, errorMessage} from '../errors.js'
import type {Logger} from '../log/logger.js'
import type {Docker} from './client.js'
import {dockerMessage, lockContainer} from './recreate.js'
import type {JournalEntry, UpdateJournal} from './update-journal.js'

export interface RecoveryResult {
  name: string
  /**
   * - `finished`: the replacement was ready; the previous container was removed;
   * - `rolled_back`: the previous container has its name back (and runs again if it ran);
   * - `in_progress`: another process is updating it now (its lock is held);
   * - `failed`: could not be repaired; the journal entry stays, the reason says what to do.
   */
  outcome: 'finished' | 'rolled_back' | 'in_progress' | 'failed'
  detail: string
  /** The journal entry as found. */
  entry: JournalEntry
  /** `in_progress`: the holder's lock error (exit 5). */
  locked?: LockedError
}

/**
 * For a container that was not found under `name`: an update of it running
 * in another process right now throws that process's LockedError (exit 5, the
 * name is only aside for the moment); an interrupted one is repaired, so the
 * caller can look again.
 */
export async function settleUpdateOf(
  docker: Docker,
  journal: UpdateJournal,
  options: {lockDir: string; logger: Logger; name: string},
): Promise<void> {
  const results = await recoverInterruptedUpdates(docker, journal, {...options, only: options.name})
  const running = results.find((r) => r.outcome === 'in_progress')
  if (running?.locked) throw running.locked
}

/** How long after the journal's `create` step a container found under the name counts as ours (clock slack). */
const CREATED_SLACK_MS = 5000

/**
 * Finishes or rolls back every container update the journal says was
 * interrupted (the process was killed, or dockerd died under it). An update
 * whose lock is held is still running and is left alone. The decision rests on
 * what Docker shows, not on the step alone:
 * - the previous container is gone: the update had finished (the entry is closed);
 * - the replacement was ready (`ready`) and runs: the previous container is removed;
 * - otherwise: a replacement homeops created is removed, the previous container
 *   gets its name back and is started again when it was running.
 * A container under the name that homeops did not create is never touched.
 */
export async function recoverInterruptedUpdates(
  docker: Docker,
  journal: UpdateJournal,
  options: {lockDir: string; logger: Logger; only?: string},
): Promise<RecoveryResult[]> {
  const results: RecoveryResult[] = []
  for (const entry of journal.list()) {
    if (options.only !== undefined && entry.name !== options.only) continue
    let lock
    try {
      lock = lockContainer(options.lockDir, entry.name)
    } catch (error) {
      if (!(error instanceof LockedError)) throw error
      results.push({name: entry.name, outcome: 'in_progress', detail: error.message, entry, locked: error})
      continue
    }
    const log = options.logger.child({container: entry.name})
    try {
      // The entry may have been closed while we waited for nothing: read it again under the lock.
      const current = journal.list().find((e) => e.name === entry.name)
      if (!current) continue
      const result = await recoverOne(docker, journal, current)
      results.push(result)
      if (result.outcome === 'failed') log.error('cannot repair an interrupted update', {reason: result.detail})
      else
        log.warn('repaired an interrupted update', {outcome: result.outcome, step: current.step, detail: result.detail})
    } catch (error) {
      const detail = `cannot repair it now: ${dockerMessage(error)}`
      log.error('cannot repair an interrupted update', {reason: detail})
      results.push({name: entry.name, outcome: 'failed', detail, entry})
    } finally {
      lock.release()
    }
  }
  return results
}

async function recoverOne(docker: Docker, journal: UpdateJournal, entry: JournalEntry): Promise<RecoveryResult> {
  const done = (outcome: RecoveryResult['outcome'], detail: string): RecoveryResult => {
    if (outcome !== 'failed') journal.finish(entry.name)
    return {name: entry.name, outcome, detail, entry}
  }
  const previous = await inspectOrNull(docker, entry.containerId)
  const holder = await inspectOrNull(docker, entry.name)
  if (!previous) {
    if (holder) return done('finished', `the previous container was already removed; "${entry.name}" is the new one`)
    journal.finish(entry.name)
    return {
      name: entry.name,
      outcome: 'failed',
      detail: `neither the previous container (${entry.containerId.slice(0, 12)}) nor one named "${entry.name}" exists any more`,
      entry,
    }
  }

  const replacement = holder && holder.Id !== previous.Id ? holder : undefined
  if (replacement) {
    if (!createdByUs(entry, replacement)) {
      return {
        name: entry.name,
        outcome: 'failed',
        detail:
          `a container named "${entry.name}" (${replacement.Id.slice(0, 12)}) exists that this update did not create; ` +
          `the previous one is kept as "${previous.Name.replace(/^\//, '')}": rename or remove one of them with docker`,
        entry,
      }
    }
    if (entry.step === 'ready' && replacement.State.Running) {
      await docker.getContainer(previous.Id).remove({force: true, v: false})
      return done('finished', `the new container was ready; removed the previous one (${previous.Id.slice(0, 12)})`)
    }
    await docker.getContainer(replacement.Id).remove({force: true, v: false})
  }
  const container = docker.getContainer(previous.Id)
  if (previous.Name.replace(/^\//, '') !== entry.name) await container.rename({name: entry.name})
  if (entry.wasRunning && !previous.State.Running) {
    await container.start().catch((error: unknown) => {
      if ((error as {statusCode?: number}).statusCode !== 304) throw error
    })
  }
  return done(
    'rolled_back',
    `interrupted before "${entry.step}": the previous container (${entry.previousImage}) has its name back${entry.wasRunning ? ' and runs again' : ''}`,
  )
}

/** The replacement this update created: the id it recorded, or (killed before recording it) created after the `create` step began. */
function createdByUs(entry: JournalEntry, container: Dockerode.ContainerInspectInfo): boolean {
  if (entry.newId) return entry.newId === container.Id
  if (entry.step !== 'create') return false
  return Date.parse(container.Created) >= Date.parse(entry.updatedAt) - CREATED_SLACK_MS
}

async function inspectOrNull(docker: Docker, nameOrId: string): Promise<Dockerode.ContainerInspectInfo | null> {
  try {
    return await docker.getContainer(nameOrId).inspect()
  } catch (error) {
    if ((error as {statusCode?: number}).statusCode === 404) return null
    throw new Error(`cannot inspect ${nameOrId}: ${errorMessage(error)}`, {cause: error})
  }
}
