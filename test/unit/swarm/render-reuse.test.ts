import {mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {loadConfig} from '../../../src/lib/config/load.js'
import {type Context, createContext} from '../../../src/lib/context.js'
import type {Docker} from '../../../src/lib/docker/client.js'
import {Logger} from '../../../src/lib/log/logger.js'
import {STACK_LABEL, deployEnvironment} from '../../../src/lib/swarm/docker.js'
import {readLayout} from '../../../src/lib/swarm/layout.js'
import {logProgress} from '../../../src/lib/ui/progress.js'
import type {SwarmEnv} from '../../../src/lib/swarm/env.js'
import {prepareStack, renderKey} from '../../../src/lib/swarm/prepare.js'
import {reconcile} from '../../../src/lib/swarm/reconcile.js'
import {hashOfParts} from '../../../src/lib/swarm/stack-hash.js'
import {SwarmStore} from '../../../src/lib/swarm/store.js'
import {git} from './fixtures.js'

/**
 * A no-op reconcile reuses a deployed stack's compose and binding parts instead of rendering it
 * again, but only while the render key (commit, clone, NFS root, homeops version) is the one they
 * were computed under; secret values are read every time. Dry runs against a real git clone and
 * a fake Engine API that lists the stack as running.
 */
let root: string
let contexts: Context[]
const write = (path: string, text: string) => {
  mkdirSync(dirname(path), {recursive: true})
  writeFileSync(path, text)
}

/** A fake Docker client: every listing answers the stack's running services, nothing else exists. */
const fakeDocker = {
  modem: {socketPath: '/nowhere'},
  listServices: async () => [{ID: 'svc', Spec: {Name: 'web_app', Labels: {[STACK_LABEL]: 'web'}}}],
  listTasks: async () => [],
  listNodes: async () => [],
  listContainers: async () => [],
  listConfigs: async () => [],
  listSecrets: async () => [],
  listVolumes: async () => ({Volumes: []}),
}
const engine = fakeDocker as unknown as Docker
const address = 'unix:///nowhere'

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'hotest-swarm-reuse-'))
  contexts = []
  const repo = join(root, 'repo')
  for (const nfs of ['nfs-a', 'nfs-b']) write(join(root, nfs, 'secret', 'pw'), 'hunter22')
  symlinkSync(join(root, 'nfs-a'), join(root, 'nfs'))
  write(join(repo, 'stacks.yaml'), '- name: web\n')
  write(join(repo, 'nfs.yaml'), `path: ${join(root, 'nfs')}\n`)
  write(join(repo, 'volumes.yaml'), '- id: conf\n  type: binding\n  path: config/web\n')
  write(join(repo, 'config/web/index.html'), 'hello\n')
  write(join(repo, 'web/secrets.yaml'), '- id: pw\n  env: PW\n')
  write(
    join(repo, 'web/compose.yaml'),
    'services:\n  app:\n    image: registry.test/app:1\n    environment: {PW: "${PW}"}\n    volumes: ["conf:/etc/web:ro"]\n',
  )
  git(repo, 'init', '-q', '-b', 'main')
  git(repo, 'add', '-A')
  git(repo, 'commit', '-q', '-m', 'one')
})
afterEach(async () => {
  for (const c of contexts) await c.close()
  rmSync(root, {recursive: true, force: true})
})

async function swarm(version = '1.0.0'): Promise<SwarmEnv> {
  const file = join(root, 'config.yaml')
  writeFileSync(
    file,
    `state: {path: ${join(root, 'state', 'homeops.db')}}\nswarm: {cacheDir: ${join(root, 'cache')}}\n`,
  )
  const context = await createContext({
    config: loadConfig({path: file, env: {}}).config,
    logger: new Logger({level: 'error', format: 'text', sink: {write: () => {}}}),
    terminal: {interactive: false, color: false},
    version,
    env: {},
  })
  contexts.push(context)
  return {
    context,
    store: new SwarmStore(await context.state()),
    engine,
    cli: {cli: 'docker', address},
    progress: logProgress(context.logger),
  }
}

/**
 * Records `web` as deployed from the current clone, as a converged deploy would, but with a compose
 * part that is not what rendering gives: a plan that says "unchanged" can only have reused it.
 */
async function deployWithMarkedParts(env: SwarmEnv): Promise<void> {
  const clone = join(root, 'cache', 'repo')
  const layout = readLayout(clone)
  const prepared = prepareStack(layout, layout.stacks[0]!, env.store.hashKey())
  const parts = {...prepared.parts, compose: 'marked'}
  const commit = git(clone, 'rev-parse', 'HEAD')
  env.store.markDeploying(env.store.repositories()[0]!.id, 'web')
  env.store.recordDeployed(
    'web',
    hashOfParts('web', parts),
    JSON.stringify(parts),
    commit,
    [],
    renderKey('1.0.0', commit, layout, deployEnvironment(address)),
  )
}

/** `repo` watched (its row added, its clone made by a first dry run), as `swarm watch` leaves it. */
async function watched(version?: string): Promise<{env: SwarmEnv; repositoryId: number}> {
  const env = await swarm(version)
  const row = env.store.addRepository({
    url: join(root, 'repo'),
    name: 'repo',
    branch: null,
    cloneDir: join(root, 'cache', 'repo'),
  })
  await plan(env)
  return {env, repositoryId: row.id}
}

const plan = async (env: SwarmEnv) =>
  (await reconcile(env, {dryRun: true})).stacks.map((s) => [s.stack, s.action, s.reason])

describe('reusing the parts of a deployed stack', () => {
  it('skips rendering while the render key holds, and renders again when the commit, NFS root or version moves', async () => {
    const {env} = await watched()
    await deployWithMarkedParts(env)
    expect(await plan(env)).toEqual([['web', 'unchanged', 'hash unchanged']])

    // Another homeops version renders again (and finds the marked compose part stale).
    expect(await plan(await swarm('1.0.1'))).toEqual([['web', 'update', 'changed: compose']])

    // The NFS mount now resolves elsewhere: the binding paths in the compose would change.
    rmSync(join(root, 'nfs'))
    symlinkSync(join(root, 'nfs-b'), join(root, 'nfs'))
    expect(await plan(env)).toEqual([['web', 'update', 'changed: compose']])
    rmSync(join(root, 'nfs'))
    symlinkSync(join(root, 'nfs-a'), join(root, 'nfs'))
    expect(await plan(env)).toEqual([['web', 'unchanged', 'hash unchanged']])

    // A commit that does not touch the stack is a new commit all the same.
    write(join(root, 'repo', 'README.md'), 'notes\n')
    git(join(root, 'repo'), 'add', '-A')
    git(join(root, 'repo'), 'commit', '-q', '-m', 'readme')
    expect(await plan(env)).toEqual([['web', 'update', 'changed: compose']])
  })

  it('still reads the secret values on every run', async () => {
    const {env} = await watched()
    await deployWithMarkedParts(env)
    writeFileSync(join(root, 'nfs-a', 'secret', 'pw'), 'changed-value')
    expect(await plan(env)).toEqual([['web', 'update', 'changed: compose, secrets']])
    rmSync(join(root, 'nfs-a', 'secret', 'pw'))
    expect((await reconcile(env, {dryRun: true})).stacks[0]).toMatchObject({
      action: 'fail',
      error: expect.stringMatching(/secret file .* is missing or unreadable/),
    })
  })

  it('notes the render key when a full render gives the recorded hash again, never on a dry run', async () => {
    const {env, repositoryId} = await watched()
    const clone = join(root, 'cache', 'repo')
    const layout = readLayout(clone)
    const prepared = prepareStack(layout, layout.stacks[0]!, env.store.hashKey())
    env.store.markDeploying(repositoryId, 'web')
    // As deployed by a homeops that did not record render keys.
    env.store.recordDeployed('web', prepared.hash, JSON.stringify(prepared.parts), 'c', [])
    await plan(env)
    expect(env.store.stack('web')!.renderKey).toBeNull()
    const report = await reconcile(env)
    expect(report.stacks.map((s) => s.outcome)).toEqual(['unchanged'])
    expect(env.store.stack('web')!.renderKey).toBe(
      renderKey('1.0.0', git(clone, 'rev-parse', 'HEAD'), layout, deployEnvironment(address)),
    )
  })
})
