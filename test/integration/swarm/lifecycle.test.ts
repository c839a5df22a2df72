import {existsSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'

import {ActivityLog} from '../../../src/lib/activity/log.js'
import {ExitCode, UserError} from '../../../src/lib/errors.js'
import {Router} from '../../../src/lib/http/router.js'
import {MetricsRegistry} from '../../../src/lib/metrics/registry.js'
import {createSwarmMode} from '../../../src/lib/swarm/mode.js'
import {reconcile} from '../../../src/lib/swarm/reconcile.js'
import {stop, unwatch, watch} from '../../../src/lib/swarm/repositories.js'
import {swarmStatus} from '../../../src/lib/swarm/status.js'
import {testEnv} from '../../support/testenv.js'
import {type GitHttpServer, startGitHttp} from './git-http.js'
import {
  Workspace,
  dockerCli,
  imagePresent,
  removeStacks,
  run,
  runningTasks,
  serviceVersions,
  stackName,
} from './harness.js'

/**
 * Image reference counting across repositories, stop/unwatch, the docker CLI
 * fallback, convergence failures, private repositories over smart HTTP with
 * basic auth, and the serve mode.
 */
const ws = new Workspace()
const created = new Set<string>()
const name = (n: string) => {
  const s = stackName(n)
  created.add(s)
  return s
}
/** An image only this run uses, absent from the daemon until homeops pulls it. */
const SHARED = `${testEnv().registry.host}/hotest-swarm/app:${run}`
const servers: GitHttpServer[] = []

beforeAll(() => {
  process.env.DOCKER_CONFIG = testEnv().dockerConfigDir
  dockerCli(['tag', `${testEnv().registry.host}/hotest/app:1.0.1`, SHARED])
  dockerCli(['push', '--quiet', SHARED])
  dockerCli(['rmi', SHARED])
}, 120_000)

afterAll(async () => {
  await ws.close()
  for (const s of servers) await s.close()
  await removeStacks([...created])
  try {
    dockerCli(['rmi', SHARED])
  } catch {
    // already removed by the test (that is what it checks)
  }
  ws.cleanup()
}, 180_000)

describe('images shared by two repositories', () => {
  const A = name('share-a')
  const B = name('share-b')

  it('keeps an image homeops pulled until both repositories drop it', async () => {
    const repoA = ws.repo('share-a').stacks([A]).stack(A, {image: SHARED})
    repoA.commit('a')
    const repoB = ws.repo('share-b').stacks([B]).stack(B, {image: SHARED})
    repoB.commit('b')
    expect(await imagePresent(SHARED)).toBe(false)

    expect((await watch(await ws.swarm(), {url: repoA.dir})).reconcile.exitCode).toBe(ExitCode.ok)
    expect((await watch(await ws.swarm(), {url: repoB.dir})).reconcile.exitCode).toBe(ExitCode.ok)
    let status = await swarmStatus(await ws.context())
    expect(status.images.find((i) => i.reference === SHARED)).toEqual({
      reference: SHARED,
      pulledByHomeops: true,
      references: 2,
      stacks: [A, B],
    })

    // An emptied stacks.yaml is refused (the plan says so, nothing is removed) until --allow-prune-all.
    repoA.stacks([]).remove(A).commit('drop a')
    const refused = await reconcile(await ws.swarm(), {})
    expect(refused.exitCode).toBe(ExitCode.failure)
    expect(refused.stacks.find((s) => s.stack === A)).toMatchObject({action: 'fail', outcome: 'failed'})
    expect(refused.repositories.find((r) => r.name === 'share-a')!.error).toMatch(
      /stacks\.yaml lists no stacks any more.*--allow-prune-all/,
    )
    expect(await runningTasks(A)).toBe(1)
    const first = await reconcile(await ws.swarm(), {allowPruneAll: true})
    expect(first.stacks.find((s) => s.stack === A)).toMatchObject({action: 'remove', outcome: 'removed'})
    expect(first.images.removed).toEqual([])
    expect(await imagePresent(SHARED)).toBe(true)
    expect(await runningTasks(B)).toBe(1)
    status = await swarmStatus(await ws.context())
    expect(status.images.find((i) => i.reference === SHARED)).toMatchObject({references: 1, stacks: [B]})

    repoB.stacks([]).remove(B).commit('drop b')
    const second = await reconcile(await ws.swarm({pruneProtection: false}), {})
    expect(second.images.removed).toEqual([SHARED])
    expect(await imagePresent(SHARED)).toBe(false)
    status = await swarmStatus(await ws.context())
    expect(status.images.find((i) => i.reference === SHARED)).toBeUndefined()
    // Images homeops did not pull (the test images other stacks use) are never removed.
    expect(await imagePresent(`${testEnv().registry.host}/hotest/app:1.0.0`)).toBe(true)
    await unwatch(await ws.swarm(), {url: repoA.dir})
    await unwatch(await ws.swarm(), {url: repoB.dir})
  })
})

describe('stop and unwatch', () => {
  const S1 = name('stop-1')
  const S2 = name('stop-2')
  let dir: string

  it('refuses to stop a stack homeops did not deploy, and changes nothing', async () => {
    const repo = ws.repo('stopper').stacks([S1, S2]).stack(S1).stack(S2)
    repo.commit('two')
    dir = repo.dir
    expect((await watch(await ws.swarm(), {url: dir})).reconcile.exitCode).toBe(ExitCode.ok)
    const before = [await serviceVersions(S1), await serviceVersions(S2)]
    await expect(stop(await ws.swarm(), [S1, 'hotest-not-ours'])).rejects.toThrow(UserError)
    await expect(stop(await ws.swarm(), ['hotest-not-ours'])).rejects.toThrow(
      /not a running stack deployed by homeops: hotest-not-ours; nothing was stopped/,
    )
    expect([await serviceVersions(S1), await serviceVersions(S2)]).toEqual(before)
  })

  it('stops a named stack, and reconcile leaves it stopped until watched again', async () => {
    const report = await stop(await ws.swarm(), [S1])
    expect(report).toMatchObject({stopped: [S1], failed: [], exitCode: 0})
    expect(await serviceVersions(S1)).toEqual({})
    expect(await runningTasks(S2)).toBe(1)
    const again = await reconcile(await ws.swarm(), {repo: dir})
    expect(again.stacks.find((s) => s.stack === S1)).toMatchObject({action: 'skip', outcome: 'skipped'})
    expect(await serviceVersions(S1)).toEqual({})
    const rewatched = await watch(await ws.swarm(), {url: dir})
    expect(rewatched.alreadyWatched).toBe(true)
    expect(rewatched.reconcile.stacks.find((s) => s.stack === S1)).toMatchObject({
      action: 'create',
      outcome: 'deployed',
    })
  })

  it('unwatch --remove-stacks removes the stacks and forgets the repository', async () => {
    const report = await unwatch(await ws.swarm(), {url: dir, removeStacks: true})
    expect(report.removedStacks.sort()).toEqual([S1, S2].sort())
    expect(await serviceVersions(S1)).toEqual({})
    expect(await serviceVersions(S2)).toEqual({})
    const status = await swarmStatus(await ws.context())
    expect(status.repositories.find((r) => r.url === dir)).toBeUndefined()
    expect(readdirSync(join(ws.root, 'cache'))).not.toContain('stopper')
    await expect(unwatch(await ws.swarm(), {url: dir})).rejects.toThrow(/is not watched/)
  })
})

describe('deploying', () => {
  it('works with a docker CLI without --detach (20.10), waiting for convergence through the API', async () => {
    const S = name('oldcli')
    const repo = ws.repo('oldcli').stacks([S]).stack(S)
    repo.commit('old cli')
    const report = await watch(await ws.swarm({dockerCli: '/usr/bin/docker'}), {url: repo.dir})
    expect(report.reconcile.stacks[0]).toMatchObject({outcome: 'deployed'})
    expect(await runningTasks(S)).toBe(1)
    await unwatch(await ws.swarm({dockerCli: '/usr/bin/docker'}), {url: repo.dir, removeStacks: true})
  })

  it('pullPolicy: ifnotpresent keeps a present image, always pulls it before the deploy', async () => {
    const ref = `${testEnv().registry.host}/hotest-swarm/app:${run}-policy`
    const id = (image: string) => dockerCli(['image', 'inspect', '--format', '{{.Id}}', image]).trim()
    dockerCli(['tag', `${testEnv().registry.host}/hotest/app:1.0.0`, ref])
    const oldId = id(ref)
    // The registry now has other content under the same tag; the local copy is the old one.
    dockerCli(['tag', `${testEnv().registry.host}/hotest/app:1.1.0`, ref])
    dockerCli(['push', '--quiet', ref])
    const newId = id(ref)
    dockerCli(['tag', `${testEnv().registry.host}/hotest/app:1.0.0`, ref])
    expect(id(ref)).toBe(oldId)
    expect(newId).not.toBe(oldId)
    try {
      const S1 = name('policy-a')
      const a = ws.repo('policy-a').stacks([S1]).stack(S1, {image: ref})
      a.commit('a')
      await watch(await ws.swarm({pullPolicy: 'ifnotpresent'}), {url: a.dir})
      expect(id(ref)).toBe(oldId)
      const S2 = name('policy-b')
      const b = ws.repo('policy-b').stacks([S2]).stack(S2, {image: ref})
      b.commit('b')
      await watch(await ws.swarm({pullPolicy: 'always'}), {url: b.dir})
      expect(id(ref)).toBe(newId)
      // It was on this host before: homeops did not pull it first, so it never removes it.
      const status = await swarmStatus(await ws.context())
      expect(status.images.find((i) => i.reference === ref)).toMatchObject({pulledByHomeops: false, references: 2})
      await unwatch(await ws.swarm(), {url: a.dir, removeStacks: true})
      await unwatch(await ws.swarm(), {url: b.dir, removeStacks: true})
    } finally {
      dockerCli(['rmi', ref])
    }
  }, 180_000)

  it('records no hash for a deploy that does not converge, and says why', async () => {
    const S = name('noconv')
    const repo = ws
      .repo('noconv')
      .stacks([S])
      .stack(S, {image: `${testEnv().registry.host}/hotest/app:1.0.0`, extra: {command: ['false']}})
    repo.commit('crashes')
    const report = await watch(await ws.swarm({convergeTimeoutSeconds: 15}), {url: repo.dir})
    expect(report.reconcile.exitCode).toBe(ExitCode.failure)
    expect(report.reconcile.stacks[0]!.error).toMatch(/did not converge within/)
    const status = await swarmStatus(await ws.context())
    expect(status.stacks.find((s) => s.name === S)).toMatchObject({status: 'failed', hash: null})
    await unwatch(await ws.swarm(), {url: repo.dir, removeStacks: true})
  }, 180_000)
})

describe('private repositories over HTTP with basic auth', () => {
  const S = name('private')
  const TOKEN = `tok-${run}-s3cr3t`

  it('sends the per-repository token only to its host, and never stores it', async () => {
    const repo = ws.repo('private').stacks([S]).stack(S)
    repo.commit('private')
    const priv = await startGitHttp({projectRoot: join(ws.root, 'repos'), credentials: `deploy:${TOKEN}`})
    const open = await startGitHttp({projectRoot: join(ws.root, 'repos')})
    servers.push(priv, open)
    const url = `${priv.url}/private/.git`
    const publicUrl = `${open.url}/private/.git`

    // Without the token: not watched, exit 3 (temporary), nothing deployed.
    await expect(watch(await ws.swarm(), {url})).rejects.toThrow(/cannot fetch .*: authentication failed/)
    expect((await swarmStatus(await ws.context())).repositories.find((r) => r.url === url)).toBeUndefined()

    const settings = {repositories: [{url, username: 'deploy', token: TOKEN}]}
    const report = await watch(await ws.swarm(settings), {url})
    expect(report.reconcile.exitCode).toBe(ExitCode.ok)
    expect(await runningTasks(S)).toBe(1)
    const expected = `Basic ${Buffer.from(`deploy:${TOKEN}`).toString('base64')}`
    expect(priv.authorizations).toContain(expected)

    // Another host never receives it.
    await watch(await ws.swarm(settings), {url: publicUrl, name: 'public-copy'}).catch(() => undefined)
    expect(open.authorizations.length).toBeGreaterThan(0)
    expect(open.authorizations.every((a) => a === undefined)).toBe(true)

    // Not in the stored URL, the database, the clone's git config or the logs.
    const status = await swarmStatus(await ws.context())
    expect(JSON.stringify(status)).not.toContain(TOKEN)
    expect(readFileSync(ws.statePath).includes(TOKEN)).toBe(false)
    expect(readFileSync(join(ws.root, 'cache', 'private', '.git', 'config'), 'utf8')).not.toContain(TOKEN)
    expect(ws.logs.join('\n')).not.toContain(TOKEN)
    expect(ws.logs.join('\n')).not.toContain(Buffer.from(`deploy:${TOKEN}`).toString('base64'))

    // A later fetch through the cached clone still authenticates.
    repo.write('note.txt', 'x').commit('second')
    const again = await reconcile(await ws.swarm(settings), {repo: url})
    expect(again.repositories[0]).toMatchObject({
      result: 'ok',
      commit: (await import('./harness.js')).git(repo.dir, 'rev-parse', 'HEAD'),
    })
    await unwatch(await ws.swarm(settings), {url, removeStacks: true})
    await unwatch(await ws.swarm(settings), {url: 'public-copy'}).catch(() => undefined)
  })
})

describe('no-op reconciles over HTTP', () => {
  const S = name('http-noop')
  const TOKEN = `tok-${run}-n00p`

  it('reads the remote head with one request and starts no git fetch until the branch moves', async () => {
    const repo = ws.repo('http-noop').stacks([S]).stack(S)
    const first = repo.commit('first')
    const server = await startGitHttp({projectRoot: join(ws.root, 'repos'), credentials: `deploy:${TOKEN}`})
    servers.push(server)
    const url = `${server.url}/http-noop/.git`
    const settings = {repositories: [{url, username: 'deploy', token: TOKEN}]}
    expect((await watch(await ws.swarm(settings), {url})).reconcile.exitCode).toBe(ExitCode.ok)
    const before = await serviceVersions(S)
    const authorization = `Basic ${Buffer.from(`deploy:${TOKEN}`).toString('base64')}`
    const advertisement = {method: 'GET', path: '/http-noop/.git/info/refs?service=git-upload-pack', authorization}

    server.requests.length = 0
    const noop = await reconcile(await ws.swarm(settings), {repo: url})
    expect(noop.exitCode).toBe(ExitCode.ok)
    expect(noop.stacks.map((s) => [s.outcome, s.reason])).toEqual([['unchanged', 'hash unchanged']])
    expect(noop.repositories[0]).toMatchObject({result: 'ok', branch: 'main', commit: first, previousCommit: first})
    // One ref advertisement, with the token (this is its host), and no upload-pack POST: git fetch never ran.
    expect(server.requests).toEqual([advertisement])
    expect(await serviceVersions(S)).toEqual(before)

    // Skipping the fetch still throws away what was written into the clone.
    const clone = join(ws.root, 'cache', 'http-noop')
    writeFileSync(join(clone, 'stray.txt'), 'x')
    writeFileSync(join(clone, 'stacks.yaml'), 'tampered: [')
    server.requests.length = 0
    const restored = await reconcile(await ws.swarm(settings), {repo: url})
    expect(restored.stacks.map((s) => s.outcome)).toEqual(['unchanged'])
    expect(server.requests).toEqual([advertisement])
    expect(existsSync(join(clone, 'stray.txt'))).toBe(false)
    expect(readFileSync(join(clone, 'stacks.yaml'), 'utf8')).toBe(readFileSync(join(repo.dir, 'stacks.yaml'), 'utf8'))

    // A new commit changes the advertised head: git fetches it.
    const second = repo.write('note.txt', 'x').commit('second')
    server.requests.length = 0
    const moved = await reconcile(await ws.swarm(settings), {repo: url})
    expect(moved.repositories[0]).toMatchObject({result: 'ok', commit: second, previousCommit: first})
    expect(moved.stacks.map((s) => s.outcome)).toEqual(['unchanged'])
    expect(server.requests[0]).toEqual(advertisement)
    expect(server.requests.some((r) => r.method === 'POST' && r.path?.endsWith('/git-upload-pack'))).toBe(true)
    expect(server.requests.every((r) => r.authorization === authorization)).toBe(true)
    expect(ws.logs.join('\n')).not.toContain(TOKEN)

    // Without the token the probe is refused (401) and the fetch reports it as before.
    const refused = await reconcile(await ws.swarm(), {repo: url})
    expect(refused.exitCode).toBe(ExitCode.temporary)
    expect(refused.repositories[0]).toMatchObject({result: 'unreachable'})
    expect(refused.repositories[0]!.error).toMatch(/^cannot fetch /)
    await unwatch(await ws.swarm(settings), {url, removeStacks: true})
  })
})

describe('serve mode', () => {
  it('reconciles on POST /reconcile, answers GET /status and exposes metrics', async () => {
    const S = name('mode')
    const repo = ws.repo('mode').stacks([S]).stack(S)
    repo.commit('mode')
    const context = await ws.context({reconcileIntervalSeconds: 3600})
    const env = await ws.swarm()
    env.store.addRepository({url: repo.dir, name: 'mode', branch: null, cloneDir: join(ws.root, 'cache', 'mode')})
    const mode = createSwarmMode({initialDelayMs: 3_600_000})
    const router = new Router()
    mode.routes!(router)
    const metrics = new MetricsRegistry()
    await mode.start({context, metrics, signal: new AbortController().signal, crashed: () => {}})
    try {
      const post = router.match('POST', '/reconcile')
      const get = router.match('GET', '/status')
      if (post.kind !== 'found' || get.kind !== 'found') throw new Error('routes missing')
      const request = {params: {}} as never
      const first = post.route.handler(request)
      // A second request while one runs is refused with 409.
      await expect(Promise.resolve(post.route.handler(request))).rejects.toMatchObject({status: 409})
      const response = await first
      expect(response.status ?? 200).toBe(200)
      expect((response.json as {exitCode: number}).exitCode).toBe(0)
      const status = (await get.route.handler(request)).json as {
        stacks: {name: string; status: string}[]
        reconcile: {lastExitCode: number}
      }
      expect(status.stacks.find((s) => s.name === S)).toMatchObject({status: 'deployed'})
      expect(status.reconcile.lastExitCode).toBe(0)
      // The shared activity history (every page's History) shows the run, who asked and what it did.
      const history = new ActivityLog(await context.state())
      await vi.waitFor(() => expect(history.list(5)[0]).toMatchObject({action: 'reconcile', state: 'ok'}))
      expect(history.list(5)[0]!.message).toBe('1 deployed, 0 removed, 0 unchanged')
      const text = metrics.render()
      expect(text).toMatch(/homeops_swarm_stacks\{status="deployed"\} [1-9]/)
      expect(text).toMatch(/homeops_swarm_last_reconcile_duration_seconds \d/)
      expect(await mode.snapshot!()).toMatchObject({reconcile: {lastExitCode: 0}})
    } finally {
      await mode.stop()
    }
    await unwatch(await ws.swarm(), {url: repo.dir, removeStacks: true})
  })
})
