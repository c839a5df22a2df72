import {spawn} from 'node:child_process'
import {once} from 'node:events'
import {existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {clearStaleGitLocks} from '../../../src/lib/swarm/stale-lock.js'
import {git} from './fixtures.js'

let dir: string
afterEach(() => rmSync(dir, {recursive: true, force: true}))

function lockedClone(): string {
  dir = mkdtempSync(join(tmpdir(), 'hotest-swarm-lock-'))
  git(dir, 'init', '-q')
  mkdirSync(join(dir, '.git'), {recursive: true})
  writeFileSync(join(dir, '.git', 'index.lock'), '')
  return join(dir, '.git', 'index.lock')
}

describe('clearStaleGitLocks', () => {
  it('removes a lock no git process holds', () => {
    const lock = lockedClone()
    expect(clearStaleGitLocks(dir)).toEqual({removed: [lock], heldBy: []})
    expect(existsSync(lock)).toBe(false)
  })

  it('leaves the lock of a git process still running in the clone', async () => {
    const lock = lockedClone()
    const child = spawn('git', ['cat-file', '--batch'], {cwd: dir, stdio: ['pipe', 'ignore', 'ignore']})
    try {
      await once(child, 'spawn') // git runs in the clone from here on
      expect(clearStaleGitLocks(dir)).toEqual({removed: [], heldBy: [child.pid]})
      expect(existsSync(lock)).toBe(true)
    } finally {
      child.kill()
    }
  })

  it('does nothing without a lock', () => {
    lockedClone()
    rmSync(join(dir, '.git', 'index.lock'))
    expect(clearStaleGitLocks(dir)).toEqual({removed: [], heldBy: []})
  })
})
