import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {type Database, openState} from '../../../src/lib/state/database.js'
import {allMigrations} from '../../../src/lib/state/registry.js'
import {SwarmStore} from '../../../src/lib/swarm/store.js'

let dir: string
let db: Database
let store: SwarmStore

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hotest-swarm-store-'))
  db = await openState({path: join(dir, 'state.db'), migrations: allMigrations})
  store = new SwarmStore(db)
})
afterEach(() => {
  db.close()
  rmSync(dir, {recursive: true, force: true})
})

function repo(name: string) {
  return store.addRepository({url: `/srv/${name}`, name, branch: 'main', cloneDir: `/cache/${name}`})
}

describe('SwarmStore', () => {
  it('generates the HMAC key once, and never writes it on a dry run', () => {
    const dry = store.hashKey(false)
    expect(store.hashKey(false)).not.toBe(dry)
    const key = store.hashKey()
    expect(key).toMatch(/^[0-9a-f]{64}$/)
    expect(store.hashKey()).toBe(key)
    expect(store.hashKey(false)).toBe(key)
  })

  it('keeps the previous hash while deploying and after a failure', () => {
    const r = repo('a')
    store.markDeploying(r.id, 'web')
    store.recordDeployed('web', 'sha256:one', '{}', 'c1', ['img:1'])
    store.markDeploying(r.id, 'web')
    expect(store.stack('web')).toMatchObject({status: 'deploying', hash: 'sha256:one', deployedCommit: 'c1'})
    store.recordFailed(r.id, 'web', 'boom', ['img:2'])
    expect(store.stack('web')).toMatchObject({
      status: 'failed',
      hash: 'sha256:one',
      deployedCommit: 'c1',
      lastError: 'boom',
    })
    // A failed deploy never drops a reference: the Swarm may run either image.
    expect(store.images().map((i) => [i.reference, i.references])).toEqual([
      ['img:1', 1],
      ['img:2', 1],
    ])
    store.recordDeployed('web', 'sha256:two', '{}', 'c2', ['img:2'])
    expect(store.stack('web')).toMatchObject({status: 'deployed', hash: 'sha256:two', lastError: null})
    expect(store.images().find((i) => i.reference === 'img:1')!.references).toBe(0)
  })

  it('keeps a render key with the deployed hash only, and forgets it with the stack', () => {
    const r = repo('a')
    store.markDeploying(r.id, 'web')
    store.recordDeployed('web', 'sha256:one', '{}', 'c1', [], 'key-1')
    expect(store.stack('web')!.renderKey).toBe('key-1')
    store.noteRendered('web', 'sha256:other', 'key-2')
    expect(store.stack('web')!.renderKey).toBe('key-1')
    store.noteRendered('web', 'sha256:one', 'key-2')
    expect(store.stack('web')!.renderKey).toBe('key-2')
    store.markDeploying(r.id, 'web')
    store.noteRendered('web', 'sha256:one', 'key-3')
    expect(store.stack('web')!.renderKey).toBe('key-2')
    store.recordDeployed('web', 'sha256:two', '{}', 'c2', [])
    expect(store.stack('web')!.renderKey).toBeNull()
    store.recordDeployed('web', 'sha256:two', '{}', 'c2', [], 'key-4')
    store.recordRemoved('web', 'stopped')
    expect(store.stack('web')).toMatchObject({status: 'stopped', hash: null, hashParts: null, renderKey: null})
  })

  it('counts image references across repositories and releases only pulled images at zero', () => {
    const a = repo('a')
    const b = repo('b')
    store.markDeploying(a.id, 'a-web')
    store.recordDeployed('a-web', 'h', '{}', 'c', ['shared:1', 'own:1'])
    store.markDeploying(b.id, 'b-web')
    store.recordDeployed('b-web', 'h', '{}', 'c', ['shared:1'])
    store.notePulled('shared:1')
    store.notePulled('own:1')
    expect(store.images().find((i) => i.reference === 'shared:1')).toMatchObject({
      references: 2,
      stacks: ['a-web', 'b-web'],
    })
    store.recordRemoved('a-web', 'removed')
    expect(store.releasableImages()).toEqual(['own:1'])
    store.recordRemoved('b-web', 'removed')
    expect(store.releasableImages()).toEqual(['own:1', 'shared:1'])
  })

  it('never releases an image homeops did not pull', () => {
    const a = repo('a')
    store.markDeploying(a.id, 'web')
    store.recordDeployed('web', 'h', '{}', 'c', ['users-own:1'])
    store.recordRemoved('web', 'stopped')
    expect(store.releasableImages()).toEqual([])
  })

  it('hands images over when a repository is unwatched without removing its stacks', () => {
    const a = repo('a')
    const b = repo('b')
    store.markDeploying(a.id, 'a-web')
    store.recordDeployed('a-web', 'h', '{}', 'c', ['shared:1', 'own:1'])
    store.markDeploying(b.id, 'b-web')
    store.recordDeployed('b-web', 'h', '{}', 'c', ['shared:1'])
    store.notePulled('shared:1')
    store.notePulled('own:1')
    expect(store.forgetStacksOf(a.id)).toEqual(['a-web'])
    expect(store.stack('a-web')).toBeUndefined()
    expect(store.images().map((i) => i.reference)).toEqual(['shared:1'])
    expect(store.releasableImages()).toEqual([])
  })

  it('stores repository URLs exactly as given (without credentials, checked before)', () => {
    const r = repo('a')
    store.recordFetch(r.id, 'abc', 'trunk')
    store.recordRun(r.id, 'ok', null)
    expect(store.repositoryByUrl('/srv/a')).toMatchObject({
      lastCommit: 'abc',
      branch: 'main',
      fetchedBranch: 'trunk',
      lastResult: 'ok',
    })
  })
})
