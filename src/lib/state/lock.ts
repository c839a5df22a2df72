import {closeSync, fchmodSync, linkSync, lstatSync, openSync, unlinkSync, writeSync} from 'node:fs'

import {LockedError, UserError, errnoCode, errorMessage} from '../errors.js'
import {readBoundedText} from '../fs/read-file.js'

export interface Lock {
  readonly path: string
  release(): void
}

/** Who holds a lock: the pid, and (Linux) the boot and the process start time that make the pid unambiguous. */
export interface LockHolder {
  pid: number
  bootId?: string
  /** Field 22 of `/proc/<pid>/stat`: clock ticks since boot when the process started. */
  startTime?: string
}

export interface LockOptions {
  /** `/proc` (tests point it elsewhere). */
  procRoot?: string
}

/**
 * An exclusive lock file naming its holder: the pid, the boot id and the
 * process start time, written completely before the file appears (written
 * beside it, then hard-linked into place, which fails if the lock exists), so
 * two processes cannot both win and nobody ever reads a half-written lock.
 *
 * A lock is held only while that exact process lives: same boot, same start
 * time, and a node/homeops process. A pid reused after a reboot or by an
 * unrelated program (a stale lock) is taken over; a genuine holder gives exit
 * 5 with its pid. Locks are per scope (`swarm`, `ddns`, `images`) so a long
 * reconcile does not hold up the ddns timer. Lock files are 0600.
 */
const heldHere = new Set<string>()

export function acquireLock(path: string, what: string, options: LockOptions = {}): Lock {
  const proc = options.procRoot ?? '/proc'
  // In `homeops serve` one process runs several modes: the file alone cannot tell two holders apart.
  if (heldHere.has(path)) {
    throw new LockedError(`another ${what} is running in this process (pid ${process.pid}, lock ${path})`, process.pid)
  }
  const me = describeProcess(process.pid, proc)
  for (let attempt = 0; attempt < 3; attempt++) {
    if (create(path, formatHolder(me))) {
      heldHere.add(path)
      return {
        path,
        release() {
          heldHere.delete(path)
          const text = readLockText(path)
          if (text !== undefined && parseHolder(text)?.pid === process.pid) removeIfUnchanged(path, text)
        },
      }
    }
    checkRegular(path)
    const text = readLockText(path)
    const holder = text === undefined ? undefined : parseHolder(text)
    if (holder !== undefined && holder.pid !== process.pid && holds(holder, proc, writtenAt(path))) {
      throw new LockedError(`another ${what} is running (pid ${holder.pid}, lock ${path})`, holder.pid, {
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
    throw cannotCreate(path, error)
  } finally {
    try {
      unlinkSync(temp)
    } catch {
      // already gone
    }
  }
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

export function formatHolder(holder: LockHolder): string {
  const lines = [String(holder.pid)]
  if (holder.bootId) lines.push(`boot ${holder.bootId}`)
  if (holder.startTime) lines.push(`start ${holder.startTime}`)
  return lines.join('\n') + '\n'
}

/** The first line is the pid (the only line in locks of older versions). */
export function parseHolder(text: string): LockHolder | undefined {
  const [first, ...rest] = text.split('\n')
  const pid = Number.parseInt(first!.trim(), 10)
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  const holder: LockHolder = {pid}
  for (const line of rest) {
    const [key, value] = line.trim().split(/\s+/, 2)
    if (key === 'boot' && value) holder.bootId = value
    if (key === 'start' && value) holder.startTime = value
  }
  return holder
}

function readLockText(path: string): string | undefined {
  try {
    return readBoundedText(path, {maxBytes: 4096})
  } catch {
    return undefined
  }
}

/** This process, or another one, as `/proc` shows it now. */
export function describeProcess(pid: number, proc = '/proc'): LockHolder {
  return {pid, bootId: readProc(`${proc}/sys/kernel/random/boot_id`)?.trim(), startTime: startTimeOf(pid, proc)}
}

function startTimeOf(pid: number, proc: string): string | undefined {
  const stat = readProc(`${proc}/${pid}/stat`)
  if (stat === undefined) return undefined
  // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so count fields after the last `)`.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return fields[22 - 3]
}

function commandOf(pid: number, proc: string): string | undefined {
  const cmdline = readProc(`${proc}/${pid}/cmdline`)
  const comm = readProc(`${proc}/${pid}/comm`)?.trim()
  if (cmdline === undefined && comm === undefined) return undefined
  return `${comm ?? ''} ${(cmdline ?? '').split('\0').join(' ')}`
}

function readProc(path: string): string | undefined {
  try {
    return readBoundedText(path, {maxBytes: 64 * 1024})
  } catch {
    return undefined
  }
}

/**
 * True when `holder` still holds the lock. A lock naming its boot and start
 * time: that very process, alive, running node/homeops. A lock of an older
 * version (pid only): the pid is alive, the file was written during this boot
 * and the process started before it was written (not a pid reused since).
 */
function holds(holder: LockHolder, proc: string, mtimeMs: number | undefined): boolean {
  if (!isAlive(holder.pid)) return false
  const bootId = readProc(`${proc}/sys/kernel/random/boot_id`)?.trim()
  // Without /proc (not Linux) a live pid is all there is to go on.
  if (bootId === undefined) return true
  const startTime = startTimeOf(holder.pid, proc)
  if (holder.bootId === undefined || holder.startTime === undefined) {
    const bootedAt = bootTimeMs(proc)
    if (mtimeMs === undefined || bootedAt === undefined) return true
    if (mtimeMs < bootedAt - SLACK_MS) return false
    if (startTime === undefined) return true
    return bootedAt + (Number(startTime) * 1000) / CLOCK_TICKS <= mtimeMs + SLACK_MS
  }
  if (holder.bootId !== bootId) return false
  if (startTime === undefined) return true // hidden by hidepid: assume it is the holder
  if (holder.startTime !== startTime) return false
  const command = commandOf(holder.pid, proc)
  if (command === undefined) return true
  return /(^|[\s/])(node|nodejs)(\s|$)/.test(command) || command.includes('homeops')
}

/** USER_HZ: 100 on every Linux architecture node runs on. */
const CLOCK_TICKS = 100
/** Clock granularity and the time between linking the lock and reading it back. */
const SLACK_MS = 2000

function bootTimeMs(proc: string): number | undefined {
  const uptime = Number.parseFloat(readProc(`${proc}/uptime`) ?? '')
  return Number.isFinite(uptime) ? Date.now() - uptime * 1000 : undefined
}

function writtenAt(path: string): number | undefined {
  try {
    return lstatSync(path).mtimeMs
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
