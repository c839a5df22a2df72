import {existsSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ExitCode} from '../../../src/lib/errors.js'
import {reconcile} from '../../../src/lib/swarm/reconcile.js'
import type {ReconcileReport} from '../../../src/lib/swarm/reconcile-report.js'
import {watch} from '../../../src/lib/swarm/repositories.js'
import {SwarmStore} from '../../../src/lib/swarm/store.js'
import {testEnv} from '../../support/testenv.js'
import {type GitRepo, Workspace, docker, removeStacks, runningTasks, serviceVersions, stackName} from './harness.js'

/**
 * One repository with two stacks on the real Swarm of the test environment,
 * walked through the life of a GitOps repository: first deploy, no-op runs,
 * binding and secret changes, every bad input of the issue, removal.
 */
const ws = new Workspace()
const WEB = stackName('web')
const API = stackName('api')
let repo: GitRepo
const created = new Set<string>([WEB, API])

async function reconcileNow(options: Parameters<typeof reconcile>[1] = {}, swarm: Record<string, unknown> = {}) {
  return reconcile(await ws.swarm(swarm), options)
}

function outcome(report: ReconcileReport, stack: string) {
  return report.stacks.find((s) => s.stack === stack)
}

async function dbStacks() {
  const store = new SwarmStore(await (await ws.context()).state())
  return Object.fromEntries(store.stacks().map((s) => [s.name, s]))
}

/** Everything a bad input must leave alone: each service's version index and each stack's recorded hash/commit. */
async function snapshot() {
  const stacks = await dbStacks()
  return {
    versions: {web: await serviceVersions(WEB), api: await serviceVersions(API)},
    hashes: Object.fromEntries(Object.entries(stacks).map(([k, v]) => [k, [v.hash, v.deployedCommit]])),
  }
}

beforeAll(async () => {
  process.env.DOCKER_CONFIG = testEnv().dockerConfigDir
  repo = ws.repo('homelab')
  repo
    .stacks([WEB, API])
    .nfsYaml()
    .write('volumes.yaml', '- id: webconf\n  type: binding\n  path: config/web\n')
    .write('config/web/index.html', 'version 1\n')
    .stack(WEB, {volumes: ['webconf:/conf:ro'], extra: {environment: {DB_PASSWORD: '${DB_PASSWORD}'}}})
    .write(`${WEB}/secrets.yaml`, '- id: web-db\n  env: DB_PASSWORD\n')
    .secret('web-db', 'first-password-value')
    .stack(API, {image: `${testEnv().registry.host}/hotest/other:1.0.0`})
    .commit('initial')
})

afterAll(async () => {
  await ws.close()
  await removeStacks([...created])
  ws.cleanup()
}, 180_000)

describe('swarm reconcile on the real Swarm', () => {
  it('first deploy: watch registers the repository and deploys every stack', async () => {
    const report = await watch(await ws.swarm(), {url: repo.dir})
    expect(report.alreadyWatched).toBe(false)
    expect(report.reconcile.exitCode).toBe(ExitCode.ok)
    expect(outcome(report.reconcile, WEB)).toMatchObject({action: 'create', outcome: 'deployed'})
    expect(outcome(report.reconcile, API)).toMatchObject({action: 'create', outcome: 'deployed'})
    expect(await runningTasks(WEB)).toBe(1)
    expect(await runningTasks(API)).toBe(1)
    const stacks = await dbStacks()
    expect(stacks[WEB]).toMatchObject({status: 'deployed', deployedCommit: report.reconcile.repositories[0]!.commit})
    expect(stacks[WEB]!.hash).toMatch(/^sha256:[0-9a-f]{64}$/)
    // The binding was copied to NFS and mounted; the secret reached the service only through the child env.
    expect(readFileSync(join(repo.nfs, 'config/web/index.html'), 'utf8')).toBe('version 1\n')
    const [service] = (await docker().listServices({
      filters: JSON.stringify({name: [`${WEB}_app`]}),
    })) as unknown as {Spec: {TaskTemplate: {ContainerSpec: {Env: string[]; Mounts: {Source: string}[]}}}}[]
    expect(service!.Spec.TaskTemplate.ContainerSpec.Env).toContain('DB_PASSWORD=first-password-value')
    expect(service!.Spec.TaskTemplate.ContainerSpec.Mounts[0]!.Source).toBe(join(repo.nfs, 'config/web'))
    // Never in logs or the database.
    expect(ws.logs.join('\n')).not.toContain('first-password-value')
    expect(readFileSync(ws.statePath).includes('first-password-value')).toBe(false)
  })

  it('watching the same URL again says so and reconciles it', async () => {
    const report = await watch(await ws.swarm(), {url: repo.dir + '/'})
    expect(report.alreadyWatched).toBe(true)
    expect(report.reconcile.stacks.map((s) => s.outcome)).toEqual(['unchanged', 'unchanged'])
  })

  it('a no-op reconcile leaves every service version index unchanged and reuses the cached clone', async () => {
    const before = await snapshot()
    const clone = join(ws.root, 'cache', 'homelab', '.git')
    const inode = statSync(clone).ino
    const report = await reconcileNow()
    expect(report.exitCode).toBe(ExitCode.ok)
    expect(report.stacks.map((s) => [s.action, s.reason])).toEqual([
      ['unchanged', 'hash unchanged'],
      ['unchanged', 'hash unchanged'],
    ])
    expect(await snapshot()).toEqual(before)
    expect(statSync(clone).ino).toBe(inode)
  })

  it('throws away anything written into the cached clone (the remote is the truth)', async () => {
    const cached = join(ws.root, 'cache', 'homelab')
    writeFileSync(join(cached, 'stray.txt'), 'x')
    writeFileSync(join(cached, 'stacks.yaml'), 'tampered: [')
    const report = await reconcileNow()
    expect(report.exitCode).toBe(ExitCode.ok)
    expect(report.stacks.map((s) => s.outcome)).toEqual(['unchanged', 'unchanged'])
    expect(existsSync(join(cached, 'stray.txt'))).toBe(false)
    expect(readFileSync(join(cached, 'stacks.yaml'), 'utf8')).toBe(readFileSync(join(repo.dir, 'stacks.yaml'), 'utf8'))
  })

  it('a changed binding file redeploys only its stack and restarts its task', async () => {
    const before = await snapshot()
    repo.write('config/web/index.html', 'version 2\n').commit('binding')
    const report = await reconcileNow()
    expect(report.exitCode).toBe(ExitCode.ok)
    expect(outcome(report, WEB)).toMatchObject({
      action: 'update',
      reason: 'changed: binding webconf',
      outcome: 'deployed',
    })
    expect(outcome(report, API)).toMatchObject({action: 'unchanged', outcome: 'unchanged'})
    const after = await snapshot()
    expect(after.versions.api).toEqual(before.versions.api)
    expect(after.versions.web[`${WEB}_app`]).toBeGreaterThan(before.versions.web[`${WEB}_app`]!)
    expect(readFileSync(join(repo.nfs, 'config/web/index.html'), 'utf8')).toBe('version 2\n')
    expect(await runningTasks(WEB)).toBe(1)
  })

  it('a secret change redeploys only its stack', async () => {
    const before = await snapshot()
    repo.secret('web-db', 'second-password-value')
    const report = await reconcileNow()
    expect(outcome(report, WEB)).toMatchObject({reason: 'changed: secrets', outcome: 'deployed'})
    expect(outcome(report, API)!.outcome).toBe('unchanged')
    const after = await snapshot()
    expect(after.versions.api).toEqual(before.versions.api)
    expect(after.versions.web).not.toEqual(before.versions.web)
    expect(ws.logs.join('\n')).not.toContain('second-password-value')
  })

  it('--dry-run prints the plan and changes nothing', async () => {
    const before = await snapshot()
    repo.write('config/web/index.html', 'version 3\n').commit('dry')
    const report = await reconcileNow({dryRun: true})
    expect(report.dryRun).toBe(true)
    expect(outcome(report, WEB)).toMatchObject({
      action: 'update',
      reason: 'changed: binding webconf',
      outcome: 'planned',
    })
    expect(outcome(report, API)).toMatchObject({action: 'unchanged', outcome: 'planned'})
    expect(await snapshot()).toEqual(before)
    expect(readFileSync(join(repo.nfs, 'config/web/index.html'), 'utf8')).toBe('version 2\n')
    // The real run then applies it.
    expect(outcome(await reconcileNow(), WEB)!.outcome).toBe('deployed')
  })

  describe('bad input leaves the Swarm and the state as they were', () => {
    async function expectRepoRejected(message: RegExp) {
      const before = await snapshot()
      const report = await reconcileNow()
      expect(report.exitCode).toBe(ExitCode.failure)
      expect(report.repositories[0]!.result).toBe('failed')
      expect(report.repositories[0]!.error).toMatch(message)
      expect(report.stacks).toEqual([])
      expect(await snapshot()).toEqual(before)
      expect(await runningTasks(WEB)).toBe(1)
      expect(await runningTasks(API)).toBe(1)
    }

    it('malformed stacks.yaml (file:line:column)', async () => {
      repo.write('stacks.yaml', `- name: ${WEB}\n- name: [${API}\n`).commit('bad yaml')
      await expectRepoRejected(/stacks\.yaml:\d+:\d+: malformed YAML/)
    })

    it('a duplicate stack name', async () => {
      repo.write('stacks.yaml', `- name: ${WEB}\n- name: ${API}\n- name: ${WEB}\n`).commit('dup')
      await expectRepoRejected(/stacks\.yaml:3:3: duplicate stack name/)
    })

    it('a stack name Docker would reject', async () => {
      repo.write('stacks.yaml', `- name: ${WEB}\n- name: ${API}\n- name: "bad name!"\n`).commit('bad name')
      await expectRepoRejected(/stack name "bad name!" is not one Docker accepts/)
    })

    it.each([
      ['../../etc', /escapes/],
      ['/etc', /must be relative/],
    ])('a volumes.yaml path %j that escapes the repository', async (path, message) => {
      repo
        .stacks([WEB, API])
        .write('volumes.yaml', `- id: webconf\n  type: binding\n  path: ${path}\n`)
        .commit('escape')
      await expectRepoRejected(message)
    })

    it('a binding that is a symlink out of the repository', async () => {
      repo.write('volumes.yaml', '- id: webconf\n  type: binding\n  path: evil\n')
      symlinkSync('/etc', join(repo.dir, 'evil'))
      repo.commit('symlink')
      await expectRepoRejected(/volumes\.yaml entry "webconf" \(in the repository\): path "evil" escapes/)
      repo.remove('evil')
    })

    it('volumes.yaml without nfs.yaml', async () => {
      repo
        .write('volumes.yaml', '- id: webconf\n  type: binding\n  path: config/web\n')
        .remove('nfs.yaml')
        .commit('no nfs')
      await expectRepoRejected(/volumes\.yaml: needs nfs\.yaml/)
      repo.nfsYaml().commit('nfs back')
    })

    it('a stack without a compose file fails alone', async () => {
      const ghost = stackName('ghost')
      repo.stacks([WEB, API, ghost]).write(`${ghost}/README.md`, 'nothing').commit('ghost')
      const before = await snapshot()
      const report = await reconcileNow()
      expect(report.exitCode).toBe(ExitCode.failure)
      expect(outcome(report, ghost)).toMatchObject({outcome: 'failed'})
      expect(outcome(report, ghost)!.error).toMatch(/has no compose file/)
      expect(outcome(report, WEB)!.outcome).toBe('unchanged')
      expect((await snapshot()).versions).toEqual(before.versions)
      repo.stacks([WEB, API]).remove(ghost).commit('no ghost')
      const cleaned = await reconcileNow()
      expect(outcome(cleaned, ghost)).toMatchObject({action: 'remove', outcome: 'removed'})
    })

    it('a missing secret file fails that stack while the others deploy', async () => {
      repo.stack(API, {image: `${testEnv().registry.host}/hotest/other:1.0.0`, extra: {environment: {V: '2'}}})
      repo
        .write(`${WEB}/secrets.yaml`, '- id: web-db\n  env: DB_PASSWORD\n- id: web-missing\n  env: MISSING\n')
        .commit('secret')
      const before = await snapshot()
      const report = await reconcileNow()
      expect(report.exitCode).toBe(ExitCode.failure)
      expect(outcome(report, WEB)!.error).toMatch(
        /secrets\.yaml entry "web-missing" \(env MISSING\): secret file .* is missing/,
      )
      expect(outcome(report, API)!.outcome).toBe('deployed')
      const stacks = await dbStacks()
      expect(stacks[WEB]).toMatchObject({status: 'failed', hash: before.hashes[WEB]![0]})
      expect((await snapshot()).versions.web).toEqual(before.versions.web)
      // Fixed: the next run retries it.
      repo.secret('web-missing', 'now-there')
      const retried = await reconcileNow()
      expect(outcome(retried, WEB)).toMatchObject({reason: 'retrying the failed deploy', outcome: 'deployed'})
    })

    it('a compose file docker stack deploy rejects fails that stack and is retried', async () => {
      repo
        .stack(API, {image: `${testEnv().registry.host}/hotest/other:1.0.0`, extra: {not_a_compose_key: true}})
        .commit('bad compose')
      const before = await snapshot()
      const report = await reconcileNow()
      expect(report.exitCode).toBe(ExitCode.failure)
      expect(outcome(report, API)!.error).toMatch(/docker stack deploy rejected stack .*not_a_compose_key/)
      expect(outcome(report, WEB)!.outcome).toBe('unchanged')
      expect(await snapshot()).toEqual({...before, hashes: before.hashes})
      expect((await dbStacks())[API]).toMatchObject({status: 'failed', hash: before.hashes[API]![0]})
      repo.stack(API, {image: `${testEnv().registry.host}/hotest/other:1.0.0`}).commit('fixed')
      expect(outcome(await reconcileNow(), API)!.outcome).toBe('deployed')
    })

    it('an unreachable remote keeps what is deployed and exits 3', async () => {
      const before = await snapshot()
      const moved = `${repo.dir}.away`
      renameSync(repo.dir, moved)
      try {
        const report = await reconcileNow()
        expect(report.exitCode).toBe(ExitCode.temporary)
        expect(report.repositories[0]).toMatchObject({result: 'unreachable'})
        expect(report.repositories[0]!.error).toMatch(/^cannot fetch /)
        expect(report.stacks).toEqual([])
        expect(await snapshot()).toEqual(before)
      } finally {
        renameSync(moved, repo.dir)
      }
      expect(existsSync(join(ws.root, 'cache', 'homelab', 'stacks.yaml'))).toBe(true)
    })
  })

  it('a stack removed from stacks.yaml is removed from the Swarm', async () => {
    repo.stacks([WEB]).remove(API).commit('drop api')
    const report = await reconcileNow()
    expect(report.exitCode).toBe(ExitCode.ok)
    expect(outcome(report, API)).toMatchObject({
      action: 'remove',
      reason: 'no longer in stacks.yaml',
      outcome: 'removed',
    })
    expect(await serviceVersions(API)).toEqual({})
    expect((await dbStacks())[API]).toMatchObject({status: 'removed', hash: null})
    expect(await runningTasks(WEB)).toBe(1)
  })
})
