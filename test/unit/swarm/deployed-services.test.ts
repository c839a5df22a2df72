import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {latestContainerChecks, tagOf} from '../../../src/lib/images/stored-checks.js'
import {type Database, openState} from '../../../src/lib/state/database.js'
import {allMigrations} from '../../../src/lib/state/registry.js'
import {recordFingerprints, stackDrift} from '../../../src/lib/swarm/deployed-specs.js'
import type {ServiceSpec} from '../../../src/lib/swarm/drift.js'
import {SwarmStore} from '../../../src/lib/swarm/store.js'

let dir: string
let db: Database
let store: SwarmStore

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hotest-gitops-store-'))
  db = await openState({path: join(dir, 'state.db'), migrations: allMigrations})
  store = new SwarmStore(db)
})
afterEach(() => {
  db.close()
  rmSync(dir, {recursive: true, force: true})
})

const web = (image: string, env: string[] = ['TOKEN=hunter2-secret']): ServiceSpec => ({
  Spec: {
    Name: 'hello_web',
    Labels: {'com.docker.stack.namespace': 'hello'},
    Mode: {Replicated: {Replicas: 1}},
    TaskTemplate: {ContainerSpec: {Image: image, Env: env}},
  },
})

describe('deployed services (drift baseline and GitOps ownership)', () => {
  it('records what was deployed without secret values and compares the running spec with it', () => {
    const repo = store.addRepository({url: '/srv/homelab', name: 'homelab', branch: 'main', cloneDir: '/cache/h'})
    store.markDeploying(repo.id, 'hello')
    store.recordDeployed('hello', 'h1', '{}', 'c1', [])
    const key = store.hashKey()
    expect(stackDrift(store, 'hello', [web('app:1.1.0')], key)).toBeUndefined()
    recordFingerprints(store, 'hello', 'hello/compose.yml', [web('app:1.1.0')], key)
    const stored = JSON.stringify([...store.serviceFingerprints('hello').values()])
    expect(stored).not.toContain('hunter2-secret')
    expect(stackDrift(store, 'hello', [web('app:1.1.0')], key)).toEqual([])
    expect(stackDrift(store, 'hello', [web('app:2.0.0')], key)!.map((d) => d.field)).toEqual(['image'])
    expect(store.managedServices()).toEqual([
      expect.objectContaining({
        service: 'hello_web',
        composeService: 'web',
        composeFile: 'hello/compose.yml',
        stack: 'hello',
        repositoryName: 'homelab',
      }),
    ])
  })

  it('forgets the services of a removed stack: they are no longer managed by git', () => {
    const repo = store.addRepository({url: '/srv/homelab', name: 'homelab', branch: 'main', cloneDir: '/cache/h'})
    store.markDeploying(repo.id, 'hello')
    store.recordDeployed('hello', 'h1', '{}', 'c1', [])
    recordFingerprints(store, 'hello', 'hello/compose.yml', [web('app:1.1.0')], store.hashKey())
    store.recordRemoved('hello', 'removed')
    expect(store.managedServices()).toEqual([])
    expect(store.serviceFingerprints('hello').size).toBe(0)
  })
})

describe('stored image checks for the monitor', () => {
  const insert = (workload: string, at: string, current: string, allowed: string | null, status: string) =>
    db
      .prepare(
        `INSERT INTO images_checks (run_id, checked_at, workload, kind, image, current_tag, newest_allowed, mode, strategy, status)
         VALUES ('r', ?, ?, 'container', 'app', ?, ?, 'NOTIFICATION', 'ALL', ?)`,
      )
      .run(at, workload, current, allowed, status)

  it('gives the latest fresh result per container and ignores old ones', () => {
    const now = Date.parse('2026-12-06T12:00:00Z')
    insert('web', '2026-12-06T11:00:00.000Z', '1.0.0', '1.0.1', 'update_available')
    insert('web', '2026-12-06T11:30:00.000Z', '1.0.0', '1.1.0', 'update_available')
    insert('old', '2026-12-01T11:30:00.000Z', '1.0.0', '2.0.0', 'update_available')
    const checks = latestContainerChecks(db, 3_600_000, now)
    expect([...checks.keys()]).toEqual(['web'])
    expect(checks.get('web')).toMatchObject({currentTag: '1.0.0', newestAllowed: '1.1.0'})
  })

  it('reads the tag of a reference as written', () => {
    expect(tagOf('127.0.0.1:5801/hotest/app:1.0.0')).toBe('1.0.0')
    expect(tagOf('127.0.0.1:5801/hotest/app')).toBe('latest')
    expect(tagOf('app:2@sha256:abc')).toBe('2')
  })
})
