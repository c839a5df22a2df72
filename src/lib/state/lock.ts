import {closeSync, fchmodSync, linkSync, lstatSync, openSync, unlinkSync, writeSync} from 'node:fs'

import {LockedError, UserError, errnoCode, errorMessage} from '../errors.js'
import {readBoundedText} from '../fs/read-file.js'

export interface Lock {
  readonly path: string
  release(): void
}

/**
 * An exclusive lock file holding the owner's pid (only the pid, as always:
 * scripts and older versions read it), written completely before it appears
 * (written beside it, then hard-linked into place, which fails if the lock
 * exists), so two processes cannot both win and nobody reads a half-written
 * lock. Lock files are 0600. Locks are per scope (`swarm`, `ddns`, `images`)
 * so a long reconcile does not hold up the ddns timer.
 *
 * A pid alone is ambiguous after a reboot or once reused, so the holder is the
 * pid at the time the lock was written (its mtime): a lock is held only by a
 * live process that started during this boot before the lock was written, and
 * that is homeops (node) or was started just before the lock appeared (a
 * launcher). A lock from a previous boot, naming a pid reused since, or naming
 * a long-running program that is not homeops (pid 1 after a reboot) is taken
 * over; a genuine holder gives exit 5 with its pid.
 */
const heldHere = new Set<string>()

export function acquireLock(path: string, what: string): Lock {
  // In `homeops serve` one process runs several modes: the file alone cannot tell two holders apart.
  if (heldHere.has(path)) {
    throw new LockedError(`another ${what} is running in this process (pid ${process.pid}, lock ${path})`, process.pid)
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    if (create(path, `${process.pid}\n`)) {
      heldHere.add(path)
      return {
        path,
        release() {
          heldHere.delete(path)
          const text = readLockText(path)
          if (text !== undefined && parsePid(text) === process.pid) removeIfUnchanged(path, text)
        },
      }
    }
    checkRegular(path)
    const text = readLockText(path)
    const holder = text === undefined ? undefined : parsePid(text)
    if (holder !== undefined && holder !== process.pid && holds(holder, writtenAt(path))) {
      throw new LockedError(`another ${what} is running (pid ${holder}, lock ${path})`, holder, {
        hint: 'wait for it to finish; the lock is released when it exits',
      })
    }
    if (holder === undefined && Date.now() - (writtenAt(path) ?? 0) < SLACK_MS) {
      // Being written right now by another run (file systems without hard links): that run holds it.
      throw new LockedError(`another ${what} is starting (lock ${path})`, 0, {
        hint: 'wait for it to finish; the lock is released when it exits',
      })
    }
    if (text !== undefined) removeIfUnchanged(path, text)
  }
  throw new LockedError(`could not take the lock ${path}: another process keeps re-creating it`, 0)
}

/** Writes `text` to a private file beside `path`, then links it into place: false when the lock exists. */
function create(path: string, text: string): boolean {
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`
  let fd: number
  try {
    fd = openSync(temp, 'wx', 0o600)
  } catch (error) {
    throw cannotCreate(path, error)
  }
  try {
    fchmodSync(fd, 0o600)
    writeSync(fd, text)
  } finally {
    closeSync(fd)
  }
  try {
    linkSync(temp, path)
    return true
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') return false
    if (!NO_HARD_LINKS.has(errnoCode(error) ?? '')) throw cannotCreate(path, error)
    return createInPlace(path, text)
  } finally {
    try {
      unlinkSync(temp)
    } catch {
      // already gone
    }
  }
}

/** File systems without hard links (vfat, some FUSE mounts) answer these. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'])

/** The fallback: O_EXCL creation, then the content (a reader may briefly see it empty, and then waits its turn). */
function createInPlace(path: string, text: string): boolean {
  let fd: number
  try {
    fd = openSync(path, 'wx', 0o600)
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') return false
    throw cannotCreate(path, error)
  }
  try {
    fchmodSync(fd, 0o600)
    writeSync(fd, text)
  } finally {
    closeSync(fd)
  }
  return true
}

function cannotCreate(path: string, error: unknown): UserError {
  return new UserError(`cannot create the lock file ${path}: ${errorMessage(error)}`, {
    hint: 'the state directory must be writable (run as root or set HOMEOPS_DB_PATH)',
  })
}

/** A directory (or device) where the lock file should be: a clear error instead of EISDIR. */
function checkRegular(path: string): void {
  let info
  try {
    info = lstatSync(path)
  } catch {
    return
  }
  if (info.isFile()) return
  const kind = info.isDirectory() ? 'a directory' : info.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'
  throw new UserError(`the lock file ${path} is ${kind}, expected a regular file`, {
    hint: `remove it (homeops creates the lock file itself), or set HOMEOPS_DB_PATH elsewhere`,
  })
}

function parsePid(text: string): number | undefined {
  const pid = Number.parseInt(text.split('\n', 1)[0]!.trim(), 10)
  return Number.isInteger(pid) && pid > 0 ? pid : undefined
}

function readLockText(path: string): string | undefined {
  try {
    return readBoundedText(path, {maxBytes: 4096})
  } catch {
    return undefined
  }
}

function writtenAt(path: string): number | undefined {
  try {
    return lstatSync(path).mtimeMs
  } catch {
    return undefined
  }
}

/** USER_HZ: 100 on every Linux architecture node runs on. */
const CLOCK_TICKS = 100
/** Clock granularity and the time between linking the lock and reading it back. */
const SLACK_MS = 2000
/** A launcher (a shell, sudo, a supervisor) that started homeops: its lock appears within this time. */
const LAUNCHER_MS = 60_000

/** True when `pid`, alive, is the process that wrote a lock at `mtimeMs` (see acquireLock). */
function holds(pid: number, mtimeMs: number | undefined): boolean {
  if (!isAlive(pid)) return false
  const uptime = Number.parseFloat(readProc('/proc/uptime') ?? '')
  // Without /proc (not Linux) a live pid is all there is to go on.
  if (!Number.isFinite(uptime) || mtimeMs === undefined) return true
  const bootedAt = Date.now() - uptime * 1000
  if (mtimeMs < bootedAt - SLACK_MS) return false
  const started = startedAt(pid, bootedAt)
  if (started === undefined) return true // hidden by hidepid: assume it is the holder
  if (started > mtimeMs + SLACK_MS) return false
  return isHomeops(pid) !== false || started > mtimeMs - LAUNCHER_MS
}

/** When `pid` started (ms since the epoch): field 22 of `/proc/<pid>/stat`, clock ticks after boot. */
function startedAt(pid: number, bootedAt: number): number | undefined {
  const stat = readProc(`/proc/${pid}/stat`)
  if (stat === undefined) return undefined
  // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so count fields after the last `)`.
  const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3])
  return Number.isFinite(ticks) ? bootedAt + (ticks * 1000) / CLOCK_TICKS : undefined
}

function isHomeops(pid: number): boolean | undefined {
  const cmdline = readProc(`/proc/${pid}/cmdline`)
  const comm = readProc(`/proc/${pid}/comm`)?.trim()
  if (cmdline === undefined && comm === undefined) return undefined
  const command = `${comm ?? ''} ${(cmdline ?? '').split('\0').join(' ')}`
  return /(^|[\s/])(node|nodejs)(\s|$)/.test(command) || command.includes('homeops')
}

function readProc(path: string): string | undefined {
  try {
    return readBoundedText(path, {maxBytes: 64 * 1024})
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

function removeIfUnchanged(path: string, expected: string): void {
  // Re-check right before unlinking so we never remove a lock a new owner just took.
  if (readLockText(path) !== expected) return
  try {
    unlinkSync(path)
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error
  }
}
