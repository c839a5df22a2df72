import {existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {TransientError} from '../../../src/lib/errors.js'
import {syncClone} from '../../../src/lib/swarm/git.js'
import {RepositoryUrl} from '../../../src/lib/swarm/repository-url.js'
import {git} from './fixtures.js'

const root = mkdtempSync(join(tmpdir(), 'hotest-swarm-sync-'))
const source = join(root, 'source')
const home = join(root, 'home')
const clone = join(root, 'cache', 'stacks')
// A URL that resolves nowhere: only git's own `insteadOf` (in the user's ~/.gitconfig) makes it reachable.
const url = RepositoryUrl.parse('https://git.hotest.invalid/ops/stacks.git')
const saved = {HOME: process.env.HOME, XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME}

beforeAll(() => {
  mkdirSync(source, {recursive: true})
  mkdirSync(home, {recursive: true})
  writeFileSync(join(home, '.gitconfig'), `[url "file://${source}/.git"]\n\tinsteadOf = ${url.value}\n`)
  process.env.HOME = home
  delete process.env.XDG_CONFIG_HOME
  git(source, 'init', '-q', '-b', 'main')
  writeFileSync(join(source, 'stacks.yaml'), '- web\n')
  git(source, 'add', '-A')
  git(source, 'commit', '-q', '-m', 'one')
})

afterAll(() => {
  if (saved.HOME === undefined) delete process.env.HOME
  else process.env.HOME = saved.HOME
  if (saved.XDG_CONFIG_HOME !== undefined) process.env.XDG_CONFIG_HOME = saved.XDG_CONFIG_HOME
  rmSync(root, {recursive: true, force: true})
})

describe('syncClone through git', () => {
  it("honours git's insteadOf for the clone, the has-the-branch-moved check and the fetch", async () => {
    const first = await syncClone({url, dir: clone, branch: null, timeoutMs: 20_000})
    expect(first).toMatchObject({branch: 'main', cloned: true, commit: git(source, 'rev-parse', 'HEAD')})

    const same = await syncClone({url, dir: clone, branch: null, timeoutMs: 20_000})
    expect(same).toEqual({branch: 'main', cloned: false, commit: first.commit, previous: first.commit})

    writeFileSync(join(source, 'note.txt'), 'x')
    git(source, 'add', '-A')
    git(source, 'commit', '-q', '-m', 'two')
    writeFileSync(join(clone, 'stray.txt'), 'x')
    const moved = await syncClone({url, dir: clone, branch: 'main', timeoutMs: 20_000})
    expect(moved).toEqual({
      branch: 'main',
      cloned: false,
      commit: git(source, 'rev-parse', 'HEAD'),
      previous: first.commit,
    })
    expect(existsSync(join(clone, 'note.txt'))).toBe(true)
    expect(existsSync(join(clone, 'stray.txt'))).toBe(false)
  })

  it('names the branches of the remote when the followed one is gone, without fetching', async () => {
    await expect(syncClone({url, dir: clone, branch: 'nope', timeoutMs: 20_000})).rejects.toThrow(
      /branch "nope" does not exist in https:\/\/git\.hotest\.invalid\/ops\/stacks\.git; its branches: main/,
    )
  })

  it('reports a remote git cannot reach as temporary (exit 3), naming it without credentials', async () => {
    const other = RepositoryUrl.parse('http://127.0.0.1:9/ops/stacks.git')
    const error = await syncClone({
      url: other,
      dir: join(root, 'cache', 'other'),
      branch: null,
      timeoutMs: 20_000,
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TransientError)
    expect((error as Error).message).toMatch(/^cannot fetch http:\/\/127\.0\.0\.1:9\/ops\/stacks\.git: /)
  })
})

describe('RepositoryUrl', () => {
  it('is parsed once: stored form, token host, display form and name', () => {
    const parsed = RepositoryUrl.parse(' https://GitHub.com:443/me/homelab.git/ ')
    expect(parsed.value).toBe('https://GitHub.com:443/me/homelab.git')
    expect(parsed.host).toBe('github.com')
    expect(parsed.origin).toBe('https://github.com')
    expect(parsed.name).toBe('homelab')
    expect(parsed.sameAs('https://GitHub.com:443/me/homelab')).toBe(true)
    expect(RepositoryUrl.parse('git@github.com:me/homelab.git')).toMatchObject({host: undefined, name: 'homelab'})
    expect(RepositoryUrl.parse('ssh://github.com/me/homelab.git').host).toBeUndefined()
    expect(() => RepositoryUrl.parse('ftp://example.org/x.git')).toThrow(/unsupported repository URL scheme ftp:/)
    expect(() => RepositoryUrl.parse('https://u:p@[bad')).toThrow(/is not a valid repository URL/)
    expect(() => RepositoryUrl.parse('https://u:p@[bad')).not.toThrow(/u:p/)
  })
})
