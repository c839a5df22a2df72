import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {loadConfig} from '../../../src/lib/config/load.js'
import {type Context, createContext} from '../../../src/lib/context.js'
import type {Docker} from '../../../src/lib/docker/client.js'
import {ExitCode} from '../../../src/lib/errors.js'
import {Logger} from '../../../src/lib/log/logger.js'
import {STACK_LABEL} from '../../../src/lib/swarm/docker.js'
import {logProgress} from '../../../src/lib/ui/progress.js'
import type {SwarmEnv} from '../../../src/lib/swarm/env.js'
import {reconcile} from '../../../src/lib/swarm/reconcile.js'
import {SwarmStore} from '../../../src/lib/swarm/store.js'
import {git} from './fixtures.js'

/**
 * The plan of a repository whose stacks.yaml was emptied, in every form YAML allows, against a
 * fake Engine API that lists its two stacks as running: a dry run shows the refusal and changes nothing.
 */
let root: string
let contexts: Context[]
const repo = () => join(root, 'repo')
const write = (path: string, text: string) => {
  mkdirSync(dirname(path), {recursive: true})
  writeFileSync(path, text)
}
/** A fake Docker client: every listing answers the stack's running services, nothing else exists. */
const fakeDocker = {
  modem: {socketPath: '/nowhere'},
  listServices: async () => ['web', 'api'].map((s) => ({ID: s, Spec: {Name: `${s}_app`, Labels: {[STACK_LABEL]: s}}})),
  listTasks: async () => [],
  listNodes: async () => [],
  listContainers: async () => [],
  listConfigs: async () => [],
  listSecrets: async () => [],
  listVolumes: async () => ({Volumes: []}),
}
const engine = fakeDocker as unknown as Docker
const address = 'unix:///nowhere'

async function swarm(extra = ''): Promise<SwarmEnv> {
  const file = join(root, 'config.yaml')
  writeFileSync(
    file,
    `state: {path: ${join(root, 'state', 'homeops.db')}}\nswarm: {cacheDir: ${join(root, 'cache')}${extra}}\n`,
  )
  const context = await createContext({
    config: loadConfig({path: file, env: {}}).config,
    logger: new Logger({level: 'error', format: 'text', sink: {write: () => {}}}),
    terminal: {interactive: false, color: false},
    version: '1.0.0',
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

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'hotest-swarm-prune-'))
  contexts = []
  write(join(repo(), 'stacks.yaml'), '- web\n- api\n')
  for (const s of ['web', 'api']) write(join(repo(), s, 'compose.yaml'), 'services:\n  app:\n    image: x:1\n')
  git(repo(), 'init', '-q', '-b', 'main')
  git(repo(), 'add', '-A')
  git(repo(), 'commit', '-q', '-m', 'one')
})
afterEach(async () => {
  for (const c of contexts) await c.close()
  rmSync(root, {recursive: true, force: true})
})

async function deployed(): Promise<SwarmEnv> {
  const env = await swarm()
  const row = env.store.addRepository({url: repo(), name: 'repo', branch: null, cloneDir: join(root, 'cache', 'repo')})
  for (const s of ['web', 'api']) {
    env.store.markDeploying(row.id, s)
    env.store.recordDeployed(s, `sha256:${s}`, '{}', 'c', [])
  }
  return env
}

describe('prune protection in the plan', () => {
  it.each([
    ['0 bytes', ''],
    ['comments only', '# nothing here\n'],
    ['an empty list', '[]\n'],
    ['a bare document marker', '---\n'],
    ['null', '~\n'],
  ])('refuses an emptied stacks.yaml (%s), and --dry-run shows it', async (_form, text) => {
    const env = await deployed()
    write(join(repo(), 'stacks.yaml'), text)
    git(repo(), 'commit', '-q', '-am', 'emptied')
    const report = await reconcile(env, {dryRun: true})
    expect(report.exitCode).toBe(ExitCode.failure)
    expect(report.repositories[0]!.error).toMatch(
      /stacks\.yaml lists no stacks any more, which would remove all 2 deployed from this repository \(api, web\); refusing \(.*--allow-prune-all/,
    )
    expect(report.stacks.map((s) => [s.stack, s.action, s.outcome])).toEqual([
      ['api', 'fail', 'failed'],
      ['web', 'fail', 'failed'],
    ])
    expect(env.store.stacks().map((s) => s.status)).toEqual(['deployed', 'deployed'])
    // Allowed explicitly, or with the protection off: the plan removes them.
    const allowed = await reconcile(env, {dryRun: true, allowPruneAll: true})
    expect(allowed.stacks.map((s) => s.action)).toEqual(['remove', 'remove'])
    const off = await reconcile(await swarm(', pruneProtection: false'), {dryRun: true})
    expect(off.stacks.map((s) => s.action)).toEqual(['remove', 'remove'])
  })
})
