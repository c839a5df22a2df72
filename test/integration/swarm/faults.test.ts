import {execFileSync, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ExitCode} from '../../../src/lib/errors.js'
import {reconcile} from '../../../src/lib/swarm/reconcile.js'
import type {ReconcileReport} from '../../../src/lib/swarm/reconcile-report.js'
import {unwatch, watch} from '../../../src/lib/swarm/repositories.js'
import {swarmStatus} from '../../../src/lib/swarm/status.js'
import {dockerEnv, testEnv} from '../../support/testenv.js'
import {startGitHttp} from './git-http.js'
import {
  GitRepo,
  Workspace,
  dockerCli,
  git,
  removeStacks,
  run,
  runningTasks,
  serviceVersions,
  stackName,
} from './harness.js'

/**
 * The faults of issue 17 injected into the real Swarm of the test environment: each case checks
 * what a user would notice (file bytes on the share, the Swarm's services, the exit code, the message).
 */
const ws = new Workspace()
const created = new Set<string>()
const name = (n: string) => {
  const s = stackName(n)
  created.add(s)
  return s
}

function outcome(report: ReconcileReport, stack: string) {
  return report.stacks.find((s) => s.stack === stack)
}

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

beforeAll(() => {
  process.env.DOCKER_CONFIG = testEnv().dockerConfigDir
})

afterAll(async () => {
  await ws.close()
  await removeStacks([...created])
  ws.cleanup()
}, 180_000)

describe('data a service writes is never lost', () => {
  it('refuses a relative bind mount, and keeps what a service writes into a binding across reconcile and unwatch', async () => {
    const REL = name('relbind')
    const KEEP = name('keep')
    const writer = {command: ['sh', '-c', 'echo written-by-app > /data/out.txt && exec sleep 3600']}
    const repo = ws.repo('binds').stacks([REL, KEEP]).nfsYaml()
    repo
      .write('volumes.yaml', '- id: appdata\n  type: binding\n  path: appdata\n')
      .write('appdata/seed.txt', 'seed\n')
      .write(`${REL}/data/seed.txt`, 'seed\n')
      .stack(REL, {volumes: ['./data:/data'], extra: writer})
      .stack(KEEP, {volumes: ['appdata:/data'], extra: writer})
      .commit('binds')
    const first = await watch(await ws.swarm(), {url: repo.dir})
    expect(first.reconcile.exitCode).toBe(ExitCode.failure)
    expect(outcome(first.reconcile, REL)!.error).toMatch(
      /compose\.yaml: service "app" volume "\.\/data:\/data": relative bind mounts are refused: .*`type: binding`/,
    )
    expect(await serviceVersions(REL)).toEqual({})
    expect(outcome(first.reconcile, KEEP)!.outcome).toBe('deployed')

    const written = join(repo.nfs, 'appdata', 'out.txt')
    await waitFor('the service to write into its binding', () => (existsSync(written) ? true : undefined))
    const bytes = readFileSync(written)
    expect(bytes.toString()).toBe('written-by-app\n')

    const noop = await reconcile(await ws.swarm(), {})
    expect(outcome(noop, KEEP)).toMatchObject({outcome: 'unchanged'})
    expect(readFileSync(written).equals(bytes)).toBe(true)
    expect(readFileSync(join(repo.nfs, 'appdata', 'seed.txt'), 'utf8')).toBe('seed\n')

    const gone = await unwatch(await ws.swarm(), {url: repo.dir})
    expect(gone.forgottenStacks).toContain(KEEP)
    expect(existsSync(join(ws.root, 'cache', 'binds'))).toBe(false)
    expect(readFileSync(written).equals(bytes)).toBe(true)
    expect(await runningTasks(KEEP)).toBe(1)
  })
})

describe('one stack name in two repositories', () => {
  it('belongs to the repository that deployed it first, even when the other sorts first', async () => {
    const DUP = name('dup')
    const owner = ws.repo('zz-owner').stacks([DUP]).stack(DUP)
    owner.commit('owner')
    expect((await watch(await ws.swarm(), {url: owner.dir})).reconcile.exitCode).toBe(ExitCode.ok)
    const rival = ws
      .repo('aa-rival')
      .stacks([DUP])
      .stack(DUP, {extra: {environment: {FROM: 'rival'}}})
    rival.commit('rival')
    const watched = await watch(await ws.swarm(), {url: rival.dir})
    expect(watched.reconcile.exitCode).toBe(ExitCode.failure)
    expect(outcome(watched.reconcile, DUP)!.error).toMatch(/owned by repository zz-owner, which deployed it first/)

    const before = await serviceVersions(DUP)
    owner.stack(DUP, {extra: {environment: {FROM: 'owner'}}}).commit('owner change')
    const report = await reconcile(await ws.swarm(), {})
    const results = report.stacks.filter((s) => s.stack === DUP)
    expect(results.find((s) => s.repository === 'zz-owner')).toMatchObject({action: 'update', outcome: 'deployed'})
    expect(results.find((s) => s.repository === 'aa-rival')).toMatchObject({outcome: 'failed'})
    expect((await serviceVersions(DUP))[`${DUP}_app`]).toBeGreaterThan(before[`${DUP}_app`]!)
    await unwatch(await ws.swarm(), {url: rival.dir})
    await unwatch(await ws.swarm(), {url: owner.dir, removeStacks: true})
  })
})

describe('a cached clone left locked by a killed git', () => {
  it('removes a stale .git/index.lock when no git runs in the clone, logs it, and applies the new commit', async () => {
    const S = name('lock')
    const repo = ws.repo('locked').stacks([S]).stack(S)
    repo.commit('lock')
    expect((await watch(await ws.swarm(), {url: repo.dir})).reconcile.exitCode).toBe(ExitCode.ok)
    const lock = join(ws.root, 'cache', 'locked', '.git', 'index.lock')
    writeFileSync(lock, '')
    repo.stack(S, {extra: {environment: {V: '2'}}}).commit('after the crash')
    const report = await reconcile(await ws.swarm(), {repo: 'locked'})
    expect(report.exitCode).toBe(ExitCode.ok)
    expect(outcome(report, S)).toMatchObject({action: 'update', outcome: 'deployed'})
    expect(existsSync(lock)).toBe(false)
    expect(ws.logs.join('\n')).toMatch(/locked: removed a stale git lock .* files=.*index\.lock/)
    await unwatch(await ws.swarm(), {url: repo.dir, removeStacks: true})
  })
})

describe('a git remote that accepts and never answers', () => {
  it('ends that repository within the timeout as unreachable (exit 3) while the others are applied', async () => {
    const S = name('hang')
    const OK = name('hang-ok')
    const hung = ws.repo('hung').stacks([S]).stack(S)
    hung.commit('hung')
    const server = await startGitHttp({projectRoot: join(ws.root, 'repos')})
    const silent = createServer(() => {
      // accept, then never answer
    })
    try {
      expect((await watch(await ws.swarm(), {url: `${server.url}/hung/.git`})).reconcile.exitCode).toBe(ExitCode.ok)
      const fine = ws.repo('fine').stacks([OK]).stack(OK)
      fine.commit('fine')
      expect((await watch(await ws.swarm(), {url: fine.dir})).reconcile.exitCode).toBe(ExitCode.ok)

      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
      const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/hung/.git`
      // The remote of `hung` is now a server that hangs: in the state and in the clone's origin.
      const db = await (await ws.context()).state()
      db.prepare('UPDATE swarm_repositories SET url = ? WHERE name = ?').run(silentUrl, 'hung')
      git(join(ws.root, 'cache', 'hung'), 'remote', 'set-url', 'origin', silentUrl)
      hung.stack(S, {extra: {environment: {V: '2'}}}).commit('never fetched')
      fine.stack(OK, {extra: {environment: {V: '2'}}}).commit('fetched')

      const started = Date.now()
      const report = await reconcile(await ws.swarm({gitTimeoutSeconds: 5}), {})
      expect(Date.now() - started).toBeLessThan(45_000)
      expect(report.exitCode).toBe(ExitCode.temporary)
      const repo = report.repositories.find((r) => r.name === 'hung')!
      expect(repo.result).toBe('unreachable')
      expect(repo.error).toMatch(
        /cannot fetch http:\/\/127\.0\.0\.1:\d+\/hung\/\.git: the remote did not answer within 5 s/,
      )
      expect(outcome(report, OK)).toMatchObject({action: 'update', outcome: 'deployed'})
      expect(outcome(report, S)).toBeUndefined()
      expect(await runningTasks(S)).toBe(1)
    } finally {
      silent.closeAllConnections()
      silent.close()
      await server.close()
    }
    await unwatch(await ws.swarm(), {url: 'hung', removeStacks: true})
    await unwatch(await ws.swarm(), {url: 'fine', removeStacks: true})
  })
})

describe('following the remote', () => {
  it("follows the remote's default branch when it moves, names the branches of a missing one, and adopts its own stacks after unwatch", async () => {
    const S = name('follow')
    const repo = ws.repo('follow').stacks([S]).stack(S)
    repo.commit('on main')
    const first = await watch(await ws.swarm(), {url: repo.dir})
    expect(first.repository.branch).toBe('main')

    // The remote's default branch becomes trunk (main stays, frozen).
    git(repo.dir, 'checkout', '-q', '-b', 'trunk')
    repo.stack(S, {extra: {environment: {ON: 'trunk'}}}).commit('on trunk')
    const moved = await reconcile(await ws.swarm(), {repo: 'follow'})
    expect(moved.exitCode).toBe(ExitCode.ok)
    expect(moved.repositories[0]).toMatchObject({branch: 'trunk', commit: git(repo.dir, 'rev-parse', 'trunk')})
    expect(outcome(moved, S)).toMatchObject({action: 'update', reason: 'changed: compose', outcome: 'deployed'})
    expect(ws.logs.join('\n')).toMatch(/follow: the remote's default branch is now trunk \(was main\): following it/)
    const status = await swarmStatus(await ws.context())
    expect(status.repositories.find((r) => r.name === 'follow')).toMatchObject({branch: 'trunk', followsDefault: true})

    // A branch that does not exist: the message lists what does.
    const missing =
      /branch "nope" does not exist in .*; its branches: main, trunk \(default trunk\); follow another with `homeops swarm watch .* --branch trunk`/
    await expect(
      watch(await ws.swarm(), {url: `file://${repo.dir}`, name: 'follow-nope', branch: 'nope'}),
    ).rejects.toThrow(missing)
    await expect(watch(await ws.swarm(), {url: repo.dir, branch: 'nope'})).rejects.toThrow(missing)
    expect((await swarmStatus(await ws.context())).repositories.find((r) => r.name === 'follow')).toMatchObject({
      followsDefault: true,
    })

    // unwatch keeping the stack, then watch again: adopted, not "not deployed by homeops".
    const before = await serviceVersions(S)
    await unwatch(await ws.swarm(), {url: repo.dir})
    expect(await runningTasks(S)).toBe(1)
    const again = await watch(await ws.swarm(), {url: repo.dir})
    expect(again.reconcile.exitCode).toBe(ExitCode.ok)
    expect(outcome(again.reconcile, S)).toMatchObject({
      reason: 'adopted: deployed from this repository before it was unwatched',
      outcome: 'deployed',
    })
    expect(await runningTasks(S)).toBe(1)
    expect(Object.keys(await serviceVersions(S))).toEqual(Object.keys(before))
    await unwatch(await ws.swarm(), {url: repo.dir, removeStacks: true})
  })
})

describe('the environment of docker stack deploy', () => {
  const LEAK = 'leaky-token-value-4711'

  it("never gives a compose homeops's own environment; undefined variables, empty and 1 MB secrets fail their stack", async () => {
    const GOOD = name('env-good')
    const TYPO = name('env-typo')
    const OWN = name('env-own')
    const EMPTY = name('env-empty')
    const HUGE = name('env-huge')
    process.env.HOTEST_SWARM_LEAK = LEAK
    try {
      const repo = ws.repo('envs').stacks([GOOD, TYPO, OWN, EMPTY, HUGE]).nfsYaml()
      repo
        .stack(GOOD, {extra: {environment: {DB_PASSWORD: '${DB_PASSWORD}', FALLBACK: '${HOTEST_SWARM_LEAK:-none}'}}})
        .write(`${GOOD}/secrets.yaml`, '- id: env-good\n  env: DB_PASSWORD\n')
        .secret('env-good', 'good-secret-value')
        .stack(TYPO, {extra: {environment: {DB_PASSWORD: '${DB_PASWORD}'}}})
        .write(`${TYPO}/secrets.yaml`, '- id: env-good\n  env: DB_PASSWORD\n')
        .stack(OWN, {extra: {environment: {TOKEN: '${HOTEST_SWARM_LEAK}'}}})
        .stack(EMPTY, {extra: {environment: {V: '${EMPTY_VALUE}'}}})
        .write(`${EMPTY}/secrets.yaml`, '- id: env-empty\n  env: EMPTY_VALUE\n')
        .secret('env-empty', '')
        .stack(HUGE, {extra: {environment: {V: '${HUGE_VALUE}'}}})
        .write(`${HUGE}/secrets.yaml`, '- id: env-huge\n  env: HUGE_VALUE\n')
        .secret('env-huge', 'h'.repeat(1024 * 1024))
        .commit('envs')
      const report = (await watch(await ws.swarm(), {url: repo.dir})).reconcile
      expect(report.exitCode).toBe(ExitCode.failure)
      expect(outcome(report, GOOD)!.outcome).toBe('deployed')
      expect(outcome(report, TYPO)!.error).toMatch(
        /\$\{DB_PASWORD\} is not defined: .*\(DB_PASSWORD in .*secrets\.yaml\)/,
      )
      expect(outcome(report, OWN)!.error).toMatch(/\$\{HOTEST_SWARM_LEAK\} is not defined/)
      expect(outcome(report, EMPTY)!.error).toMatch(
        /secret file .*env-empty is empty; refusing to deploy an empty value/,
      )
      expect(outcome(report, HUGE)!.error).toMatch(
        /secret file .*env-huge holds 1048576 bytes, too large for the environment of docker stack deploy/,
      )
      for (const s of [TYPO, OWN, EMPTY, HUGE]) expect(await serviceVersions(s)).toEqual({})

      const spec = dockerCli(['service', 'inspect', `${GOOD}_app`, '--format', '{{json .Spec}}'])
      expect(spec).toContain('DB_PASSWORD=good-secret-value')
      expect(spec).toContain('FALLBACK=none')
      expect(spec).not.toContain(LEAK)
      expect(readFileSync(ws.statePath).includes(LEAK)).toBe(false)
      expect(ws.logs.join('\n')).not.toContain(LEAK)

      // Another process environment (cron vs serve) interpolates the same: nothing to redeploy.
      process.env.HOTEST_SWARM_LEAK = 'another-value'
      expect(outcome(await reconcile(await ws.swarm(), {repo: 'envs'}), GOOD)!.outcome).toBe('unchanged')
    } finally {
      delete process.env.HOTEST_SWARM_LEAK
    }
    await unwatch(await ws.swarm(), {url: 'envs', removeStacks: true})
  })
})

describe('files a compose references', () => {
  it('deploys an edited env_file and config file, rolls the config by name, and --force never hits "only updates to Labels"', async () => {
    const S = name('files')
    const repo = ws.repo('files').stacks([S])
    repo.stack(S, {extra: {env_file: ['app.env'], configs: [{source: 'conf', target: '/conf.txt'}]}})
    const composePath = join(repo.dir, S, 'compose.yaml')
    writeFileSync(composePath, `${readFileSync(composePath, 'utf8')}configs:\n  conf:\n    file: ./app.conf\n`)
    repo.write(`${S}/app.env`, 'GREETING=one\n').write(`${S}/app.conf`, 'config one\n').commit('files')
    expect((await watch(await ws.swarm(), {url: repo.dir})).reconcile.exitCode).toBe(ExitCode.ok)
    const configs = () =>
      dockerCli(['config', 'ls', '--filter', `label=com.docker.stack.namespace=${S}`, '--format', '{{.Name}}'])
        .split('\n')
        .filter(Boolean)
    const first = configs()
    expect(first).toHaveLength(1)

    repo.write(`${S}/app.env`, 'GREETING=two\n').write(`${S}/app.conf`, 'config two\n').commit('edit files')
    const report = await reconcile(await ws.swarm(), {repo: 'files'})
    expect(report.exitCode).toBe(ExitCode.ok)
    expect(outcome(report, S)).toMatchObject({outcome: 'deployed'})
    expect(outcome(report, S)!.reason).toMatch(/file .*app\.conf, file .*app\.env/)
    const spec = dockerCli(['service', 'inspect', `${S}_app`, '--format', '{{json .Spec.TaskTemplate.ContainerSpec}}'])
    expect(spec).toContain('GREETING=two')
    const second = configs()
    expect(second).toHaveLength(1)
    expect(second).not.toEqual(first)
    expect(dockerCli(['config', 'inspect', second[0]!, '--format', '{{printf "%s" .Spec.Data}}'])).toBe(
      'config two\n\n',
    )

    const forced = await reconcile(await ws.swarm(), {repo: 'files', force: true})
    expect(forced.exitCode).toBe(ExitCode.ok)
    expect(outcome(forced, S)).toMatchObject({reason: '--force', outcome: 'deployed'})
    await unwatch(await ws.swarm(), {url: 'files', removeStacks: true})
  })
})

describe('type: volume entries', () => {
  const volumesToRemove: string[] = []
  const containersToRemove: string[] = []
  afterAll(async () => {
    for (const c of containersToRemove) spawnSync('docker', ['rm', '-f', c], {env: dockerEnv(), stdio: 'ignore'})
    await removeStacks([...created])
    for (const v of volumesToRemove) spawnSync('docker', ['volume', 'rm', '-f', v], {env: dockerEnv(), stdio: 'ignore'})
  }, 180_000)

  const writer = (who: string) => ({command: ['sh', '-c', `echo ${who} > /data/who && exec sleep 3600`]})

  it('keeps two repositories using one volume id apart, and follows a changed path', async () => {
    const A = name('vol-a')
    const B = name('vol-b')
    const repoA = ws.repo(`vols-a-${run}`).stacks([A]).nfsYaml().write('volumes.yaml', '- id: shared\n  path: vol/a\n')
    repoA.stack(A, {volumes: ['shared:/data'], extra: writer('from-a')}).commit('a')
    const repoB = ws.repo(`vols-b-${run}`).stacks([B]).nfsYaml().write('volumes.yaml', '- id: shared\n  path: vol/b\n')
    repoB.stack(B, {volumes: ['shared:/data'], extra: writer('from-b')}).commit('b')
    expect((await watch(await ws.swarm(), {url: repoA.dir})).reconcile.exitCode).toBe(ExitCode.ok)
    expect((await watch(await ws.swarm(), {url: repoB.dir})).reconcile.exitCode).toBe(ExitCode.ok)
    const who = (path: string) => () => {
      try {
        return readFileSync(join(repoA.nfs, path, 'who'), 'utf8')
      } catch {
        return undefined
      }
    }
    expect(await waitFor('A to write', who('vol/a'))).toBe('from-a\n')
    expect(await waitFor('B to write', who('vol/b'))).toBe('from-b\n')
    const names = dockerCli(['volume', 'ls', '--format', '{{.Name}}']).split('\n')
    volumesToRemove.push(...names.filter((n) => n.startsWith(`vols-a-${run}_`) || n.startsWith(`vols-b-${run}_`)))
    expect(names.filter((n) => n.startsWith(`vols-a-${run}_shared_`))).toHaveLength(1)
    expect(names.filter((n) => n.startsWith(`vols-b-${run}_shared_`))).toHaveLength(1)

    repoA.write('volumes.yaml', '- id: shared\n  path: vol/a2\n').commit('moved')
    const moved = await reconcile(await ws.swarm(), {repo: `vols-a-${run}`})
    expect(outcome(moved, A)).toMatchObject({outcome: 'deployed'})
    expect(outcome(moved, A)!.reason).toMatch(/volumes\.yaml/)
    expect(await waitFor('A to write into the new path', who('vol/a2'))).toBe('from-a\n')
    volumesToRemove.push(
      ...dockerCli(['volume', 'ls', '--format', '{{.Name}}'])
        .split('\n')
        .filter((n) => n.startsWith(`vols-a-${run}_`)),
    )
    await unwatch(await ws.swarm(), {url: repoA.dir, removeStacks: true})
    await unwatch(await ws.swarm(), {url: repoB.dir, removeStacks: true})
  })

  it('keeps using a pathless volume an older homeops created under its bare id for this repository', async () => {
    const S = name('vol-legacy')
    const legacyId = `hotest-swarm-${run}-legacy`
    volumesToRemove.push(legacyId)
    dockerCli(['volume', 'create', '--label', `com.docker.stack.namespace=${S}`, legacyId])
    const repo = ws.repo(`voll-${run}`).stacks([S]).nfsYaml().write('volumes.yaml', `- id: ${legacyId}\n`)
    repo.stack(S, {volumes: [`${legacyId}:/data`]}).commit('legacy')
    expect((await watch(await ws.swarm(), {url: repo.dir})).reconcile.exitCode).toBe(ExitCode.ok)
    const mounts = dockerCli([
      'service',
      'inspect',
      `${S}_app`,
      '--format',
      '{{json .Spec.TaskTemplate.ContainerSpec.Mounts}}',
    ])
    expect(JSON.parse(mounts)).toMatchObject([{Source: legacyId, Target: '/data'}])
    await unwatch(await ws.swarm(), {url: repo.dir, removeStacks: true})
  })

  it('refuses a volume of the same name with other options while a container uses it, and recreates it once free', async () => {
    const S = name('vol-conflict')
    const repoName = `volc-${run}`
    const volume = `${repoName}_cache`
    volumesToRemove.push(volume)
    dockerCli(['volume', 'create', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs', volume])
    const holder = `hotest-swarm-${run}-holder`
    containersToRemove.push(holder)
    dockerCli(['run', '-d', '--name', holder, '-v', `${volume}:/x`, `${testEnv().registry.host}/hotest/app:1.0.0`])
    const repo = ws.repo(repoName).stacks([S]).nfsYaml().write('volumes.yaml', '- id: cache\n')
    repo.stack(S, {volumes: ['cache:/data']}).commit('conflict')
    const refused = (await watch(await ws.swarm(), {url: repo.dir})).reconcile
    expect(refused.exitCode).toBe(ExitCode.failure)
    expect(outcome(refused, S)!.error).toMatch(
      new RegExp(
        `volume ${volume} \\(volumes\\.yaml entry "cache"\\) already exists with driver local with .*type=tmpfs.*, but the stack wants driver local without options; 1 container\\(s\\) use it`,
      ),
    )
    expect(await serviceVersions(S)).toEqual({})

    dockerCli(['rm', '-f', holder])
    const recreated = await reconcile(await ws.swarm(), {repo: repoName})
    expect(outcome(recreated, S)).toMatchObject({outcome: 'deployed'})
    expect(dockerCli(['volume', 'inspect', volume, '--format', '{{json .Options}}']).trim()).toMatch(/^(null|\{\})$/)
    expect(ws.logs.join('\n')).toMatch(/recreated volumes whose options had changed .*volumes=volc-/)
    await unwatch(await ws.swarm(), {url: repo.dir, removeStacks: true})
  })
})

describe('a full disk during a binding copy', () => {
  it('leaves the binding as it was (every file the old version), names the binding and the path, and applies it once there is room', async () => {
    const S = name('full')
    const small = join(ws.root, 'small-nfs')
    mkdirSync(small, {recursive: true})
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'hotest-swarm-full', small])
    try {
      const repo = new GitRepo(join(ws.root, 'repos', 'full'), small)
      repo.stacks([S]).nfsYaml().write('volumes.yaml', '- id: site\n  type: binding\n  path: site\n')
      for (const f of ['a', 'b', 'c']) repo.write(`site/${f}.txt`, `${f} v1\n`)
      repo.stack(S, {volumes: ['site:/site:ro']}).commit('v1')
      expect((await watch(await ws.swarm(), {url: repo.dir})).reconcile.exitCode).toBe(ExitCode.ok)

      repo
        .write('site/a.txt', 'a v2\n')
        .write('site/b.txt', 'b'.repeat(400 * 1024))
        .write('site/c.txt', 'c v2\n')
      repo.commit('v2 does not fit')
      const report = await reconcile(await ws.swarm(), {repo: 'full'})
      expect(report.exitCode).toBe(ExitCode.failure)
      expect(outcome(report, S)!.error).toMatch(
        /binding "site": cannot write .*small-nfs\/site\/b\.txt: no space left on the share \(ENOSPC\); the binding was left as it was/,
      )
      expect(['a', 'b', 'c'].map((f) => readFileSync(join(small, 'site', `${f}.txt`), 'utf8'))).toEqual([
        'a v1\n',
        'b v1\n',
        'c v1\n',
      ])
      expect(readdirSync(join(small, 'site')).sort()).toEqual(['a.txt', 'b.txt', 'c.txt'])

      repo.write('site/b.txt', 'b v2\n').commit('v2 fits')
      const fixed = await reconcile(await ws.swarm(), {repo: 'full'})
      expect(outcome(fixed, S)).toMatchObject({outcome: 'deployed'})
      expect(['a', 'b', 'c'].map((f) => readFileSync(join(small, 'site', `${f}.txt`), 'utf8'))).toEqual([
        'a v2\n',
        'b v2\n',
        'c v2\n',
      ])
      await unwatch(await ws.swarm(), {url: 'full', removeStacks: true})
    } finally {
      await removeStacks([S])
      spawnSync('umount', [small], {stdio: 'ignore'})
    }
  })
})

describe('messages of a deploy that fails', () => {
  it.each([
    ['docker CLI 28 (waits itself)', '/usr/local/bin/docker'],
    ['docker CLI 20.10', '/usr/bin/docker'],
  ])(
    'a stack that does not converge fails with the task error: %s',
    async (_label, cli) => {
      const S = name(`noconv-${cli.includes('local') ? 'new' : 'old'}`)
      const repo = ws.repo(`noconv-${cli.includes('local') ? 'new' : 'old'}`).stacks([S])
      repo.stack(S, {extra: {command: ['false']}}).commit('crashes')
      const report = (await watch(await ws.swarm({dockerCli: cli, convergeTimeoutSeconds: 10}), {url: repo.dir}))
        .reconcile
      expect(report.exitCode).toBe(ExitCode.failure)
      expect(outcome(report, S)!.error).toMatch(/did not converge within 10 s.*task failed: task: non-zero exit \(1\)/)
      await unwatch(await ws.swarm({dockerCli: cli}), {url: repo.dir, removeStacks: true})
    },
    120_000,
  )

  it('a rolled-back update says why the new tasks failed', async () => {
    const S = name('rollback')
    const repo = ws.repo('rollback').stacks([S])
    const deploy = {
      replicas: 1,
      update_config: {delay: '0s', monitor: '3s', failure_action: 'rollback', max_failure_ratio: 0},
      rollback_config: {delay: '0s', monitor: '1s'},
      restart_policy: {delay: '1s'},
    }
    repo.stack(S, {extra: {deploy}}).commit('good')
    expect((await watch(await ws.swarm(), {url: repo.dir})).reconcile.exitCode).toBe(ExitCode.ok)
    repo.stack(S, {extra: {deploy, command: ['false']}}).commit('bad update')
    const report = await reconcile(await ws.swarm({convergeTimeoutSeconds: 60}), {repo: 'rollback'})
    expect(report.exitCode).toBe(ExitCode.failure)
    expect(outcome(report, S)!.error).toMatch(/rollback.*task failed: task: non-zero exit \(1\)/)
    expect(await runningTasks(S)).toBe(1)
    await unwatch(await ws.swarm(), {url: repo.dir, removeStacks: true})
  }, 120_000)
})

describe('a binding that changes kind', () => {
  it('says what to move on the share instead of a raw EISDIR, and keeps what the service wrote', async () => {
    const S = name('kind')
    const repo = ws.repo('kind').stacks([S]).nfsYaml()
    repo
      .write('volumes.yaml', '- id: kindconf\n  type: binding\n  path: kind/conf\n')
      .write('kind/conf/app.ini', 'x=1\n')
      .stack(S, {volumes: ['kindconf:/conf:ro']})
      .commit('folder')
    expect((await watch(await ws.swarm(), {url: repo.dir})).reconcile.exitCode).toBe(ExitCode.ok)
    writeFileSync(join(repo.nfs, 'kind/conf/written-by-app'), 'data\n')
    repo.remove('kind/conf').write('kind/conf', 'x=2\n').commit('now a file')
    const report = await reconcile(await ws.swarm(), {repo: 'kind'})
    expect(report.exitCode).toBe(ExitCode.failure)
    const error = outcome(report, S)!.error!
    expect(error).toMatch(
      /binding "kindconf": .*kind\/conf is a folder on the NFS share, but the repository now has a file there; move or remove it on the share/,
    )
    expect(error).not.toMatch(/EISDIR/)
    expect(readFileSync(join(repo.nfs, 'kind/conf/written-by-app'), 'utf8')).toBe('data\n')
    expect(await runningTasks(S)).toBe(1)
    await unwatch(await ws.swarm(), {url: repo.dir, removeStacks: true})
  })
})
