import {readFileSync, readdirSync, readlinkSync, rmSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {isWithin} from './layout.js'

/**
 * Lock files a git command leaves behind when it is killed (SIGKILL, a power cut, an OOM kill):
 * with one present every later git command in the clone fails ("Unable to create
 * '.git/index.lock': File exists"), so the repository would fail on every run. homeops's own runs
 * are serialised by its lock; the only git that may legitimately hold one is a process still
 * running in the clone, which is looked for in /proc.
 */
const LOCKS = ['index.lock', 'HEAD.lock', 'config.lock', 'packed-refs.lock', 'shallow.lock']

/** Pids of git processes whose working directory is inside `dir` (Linux /proc; none elsewhere). */
export function gitProcessesIn(dir: string): number[] {
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return []
  }
  const pids: number[] = []
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const comm = readFileSync(join('/proc', entry, 'comm'), 'utf8').trim()
      if (!comm.startsWith('git')) continue
      if (isWithin(dir, readlinkSync(join('/proc', entry, 'cwd')))) pids.push(Number(entry))
    } catch {
      // gone, or not ours to read
    }
  }
  return pids
}

/**
 * Removes the lock files of `dir`'s `.git` when no git process works in the clone; returns what was
 * removed (the caller logs it). With a git process alive nothing is touched: it is that process's lock.
 */
export function clearStaleGitLocks(dir: string): {removed: string[]; heldBy: number[]} {
  const present = LOCKS.map((name) => join(dir, '.git', name)).filter((path) => {
    try {
      return statSync(path).isFile()
    } catch {
      return false
    }
  })
  if (present.length === 0) return {removed: [], heldBy: []}
  const heldBy = gitProcessesIn(dir)
  if (heldBy.length > 0) return {removed: [], heldBy}
  for (const path of present) rmSync(path, {force: true})
  return {removed: present, heldBy: []}
}
