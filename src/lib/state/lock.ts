import {closeSync, openSync, readFileSync, unlinkSync, writeSync} from 'node:fs'

import {LockedError, UserError, errnoCode, errorMessage} from '../errors.js'

export interface Lock {
  readonly path: string
  release(): void
}

/**
 * An exclusive lock file holding the owner's pid, created with O_EXCL so two
 * processes cannot both win. A lock whose pid is dead (a killed cron run) is
 * taken over. Locks are per scope (`swarm`, `ddns`, `images`) so a long
 * reconcile does not hold up the ddns timer.
 */
const heldHere = new Set<string>()

export function acquireLock(path: string, what: string): Lock {
  // In `homeops serve` one process runs several modes: the file alone cannot tell two holders apart.
  if (heldHere.has(path)) {
    throw new LockedError(`another ${what} is running in this process (pid ${process.pid}, lock ${path})`, process.pid)
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number
    try {
      fd = openSync(path, 'wx', 0o644)
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') {
        throw new UserError(`cannot create the lock file ${path}: ${errorMessage(error)}`, {
          hint: 'the state directory must be writable (run as root or set HOMEOPS_DB_PATH)',
        })
      }
      const holder = readHolder(path)
      if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
        throw new LockedError(`another ${what} is running (pid ${holder}, lock ${path})`, holder, {
          hint: 'wait for it to finish; the lock is released when it exits',
        })
      }
      removeStale(path, holder)
      continue
    }
    writeSync(fd, `${process.pid}\n`)
    closeSync(fd)
    heldHere.add(path)
    return {
      path,
      release() {
        heldHere.delete(path)
        if (readHolder(path) === process.pid) removeStale(path, process.pid)
      },
    }
  }
  throw new LockedError(`could not take the lock ${path}: another process keeps re-creating it`, 0)
}

function readHolder(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10)
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to another user, so it is alive.
    return errnoCode(error) === 'EPERM'
  }
}

function removeStale(path: string, expectedHolder: number | undefined): void {
  // Re-check right before unlinking so we never remove a lock a new owner just took.
  if (readHolder(path) !== expectedHolder) return
  try {
    unlinkSync(path)
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error
  }
}
