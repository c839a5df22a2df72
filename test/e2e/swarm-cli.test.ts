import {type ChildProcess, spawn} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import Database from 'better-sqlite3'
import {stringify} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliPath, repoRoot, runCli} from '../support/cli.js'
import {testEnv} from '../support/testenv.js'
import {Workspace, removeStacks, runningTasks, serviceVersions, stackName} from '../integration/swarm/harness.js'

/**
 * `homeops swarm …` as cron runs it: the built CLI as a process, no TTY.
 * Covers what only processes can show: the lock (a second run exits 5 naming
 * the holder), a run killed with SIGKILL mid-deploy followed by a run that
 * converges, exit codes, `--json` shapes and off-TTY output.
 */
const ws = new Workspace()
const WEB = stackName('cli-web')
const API = stackName('cli-api')
const config = join(ws.root, 'config.yaml')
const lockFile = join(ws.root, 'state', 'swarm.lock')
const repo = ws.repo('cli')

const env = () => ({DOCKER_CONFIG: testEnv().dockerConfigDir, GITHUB_TOKEN: 'ghp_e2e-never-shown-123'})
/** The built CLI; HOMEOPS_E2E_CLI points at another build (e.g. a private copy while dist/ is being rebuilt). */
const binPath = process.env.HOMEOPS_E2E_CLI ?? cliPath
const cli = (args: string[], timeoutMs = 240_000) =>
  binPath === cliPath
    ? runCli([...args, '--config', config], {env: env(), timeoutMs})
    : start(args).done.then(async (r) => ({code: r.code, stderr: r.stderr, stdout: await r.stdout}))

interface Started {
  child: ChildProcess
  done: Promise<{code: number | null; stderr: string; stdout: Promise<string>}>
  stderr(): string
  exited(): boolean
}

function start(args: string[]): Started {
  const child = spawn(process.execPath, [binPath, ...args, '--config', config], {
    cwd: repoRoot,
    // As runCli: a clean base without HOMEOPS_ settings, DOCKER_HOST or CI.
    env: {
      ...Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !k.startsWith('HOMEOPS_') && k !== 'DOCKER_HOST' && k !== 'CI'),
      ),
      ...env(),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  let stdout = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  let exited = false
  const done = new Promise<{code: number | null; stderr: string; stdout: Promise<string>}>((resolve) =>
    child.on('close', (code) => {
      exited = true
      resolve({code, stderr, stdout: Promise.resolve(stdout)})
    }),
  )
  return {child, done, stderr: () => stderr, exited: () => exited}
}

async function until(what: string, check: () => boolean, run: Started, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (run.exited()) throw new Error(`the run exited before ${what}: ${run.stderr()}`)
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${run.stderr()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

function stackStatus(name: string): string | undefined {
  const db = new Database(ws.statePath, {readonly: true, fileMustExist: true})
  try {
    db.pragma('busy_timeout = 2000')
    return (db.prepare('SELECT status FROM swarm_stacks WHERE name = ?').get(name) as {status: string} | undefined)
      ?.status
  } finally {
    db.close()
  }
}

beforeAll(() => {
  writeFileSync(
    config,
    stringify({
      state: {path: ws.statePath},
      docker: {host: testEnv().dockerHost},
      swarm: {convergeTimeoutSeconds: 120, cacheDir: join(ws.root, 'cache')},
    }),
  )
  repo
    .stacks([WEB, API])
    .stack(WEB, {extra: {environment: {V: '1'}}})
    .stack(API)
    .commit('initial')
})

afterAll(async () => {
  await removeStacks([WEB, API])
  ws.cleanup()
}, 180_000)

describe('homeops swarm (built CLI, no TTY)', () => {
  it('watch deploys and logs one plain line per step', async () => {
    const result = await cli(['swarm', 'watch', repo.dir])
    expect(result.stderr).not.toContain('\r')
    expect(result.stderr).not.toContain('\u001B[')
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`watching ${repo.dir} as cli (branch main)`)
    expect(result.stdout).toMatch(new RegExp(`${WEB}\\s+cli\\s+deployed\\s+new stack`))
    expect(result.stderr).toMatch(/^\S+Z info fetch cli: main at [0-9a-f]{7} ms=\d+$/m)
    expect(result.stderr).toMatch(new RegExp(`info deploy ${WEB}: created \\(new stack\\) in [\\d.]+ s ms=\\d+$`, 'm'))
  })

  it('status --json has the documented shape and no secret', async () => {
    const result = await cli(['swarm', 'status', '--json'])
    expect(result.code).toBe(0)
    const status = JSON.parse(result.stdout) as {
      repositories: Record<string, unknown>[]
      stacks: Record<string, unknown>[]
      images: Record<string, unknown>[]
    }
    expect(Object.keys(status.repositories[0]!).sort()).toEqual(
      [
        'branch',
        'followsDefault',
        'lastCommit',
        'lastError',
        'lastFetchedAt',
        'lastResult',
        'lastRunAt',
        'name',
        'url',
      ].sort(),
    )
    expect(status.stacks.map((s) => [s.name, s.status, s.services])).toEqual([
      [API, 'deployed', {running: 1, desired: 1, count: 1}],
      [WEB, 'deployed', {running: 1, desired: 1, count: 1}],
    ])
    expect(result.stdout).not.toContain('ghp_e2e-never-shown-123')
  })

  it('reconcile --dry-run prints the plan', async () => {
    repo.stack(WEB, {extra: {environment: {V: '2'}}}).commit('v2')
    const before = await serviceVersions(WEB)
    const result = await cli(['swarm', 'reconcile', '--dry-run'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(new RegExp(`${WEB}\\s+cli\\s+update\\s+changed: compose`))
    expect(result.stdout).toMatch(new RegExp(`${API}\\s+cli\\s+unchanged\\s+hash unchanged`))
    expect(result.stdout).toContain('dry run: nothing was changed')
    expect(await serviceVersions(WEB)).toEqual(before)
  })

  it('a second reconcile while one runs exits 5 naming the holder pid', async () => {
    const first = start(['swarm', 'reconcile', '--force'])
    await until('the lock of the first run', () => existsSync(lockFile), first)
    const holder = Number(readFileSync(lockFile, 'utf8').split('\n')[0])
    expect(holder).toBe(first.child.pid)
    const second = await cli(['swarm', 'reconcile'])
    expect(second.code).toBe(5)
    expect(second.stderr).toContain(`another homeops swarm run is running (pid ${holder}`)
    const done = await first.done
    expect(done.code).toBe(0)
    expect(existsSync(lockFile)).toBe(false)
  })

  it('a reconcile killed with SIGKILL mid-deploy is finished by the next run', async () => {
    repo.stack(WEB, {extra: {environment: {V: '3'}}}).commit('v3')
    const killed = start(['swarm', 'reconcile'])
    await until('the deploy to start', () => stackStatus(WEB) === 'deploying', killed)
    killed.child.kill('SIGKILL')
    expect((await killed.done).code).toBe(null)
    // The dead run's lock is taken over, the interrupted stack redeployed.
    const next = await cli(['swarm', 'reconcile', '--json'])
    expect(next.code).toBe(0)
    const report = JSON.parse(next.stdout) as {stacks: {stack: string; reason: string; outcome: string}[]}
    expect(report.stacks.find((s) => s.stack === WEB)).toMatchObject({
      reason: 'the previous run was interrupted mid-deploy',
      outcome: 'deployed',
    })
    expect(stackStatus(WEB)).toBe('deployed')
    expect(await runningTasks(WEB)).toBe(1)
    const after = await cli(['swarm', 'reconcile', '--json'])
    expect((JSON.parse(after.stdout) as {stacks: {outcome: string}[]}).stacks.map((s) => s.outcome)).toEqual([
      'unchanged',
      'unchanged',
    ])
  })

  it('stop without stack names needs --yes off a TTY, then stops only managed stacks', async () => {
    const refused = await cli(['swarm', 'stop'])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('refusing to stop every managed stack')
    expect(await runningTasks(WEB)).toBe(1)
    const stopped = await cli(['swarm', 'stop', '--yes', '--json'])
    expect(stopped.code).toBe(0)
    expect((JSON.parse(stopped.stdout) as {stopped: string[]}).stopped.sort()).toEqual([API, WEB].sort())
    expect(await serviceVersions(WEB)).toEqual({})
    const status = JSON.parse((await cli(['swarm', 'status', '--json'])).stdout) as {stacks: {status: string}[]}
    expect(status.stacks.map((s) => s.status)).toEqual(['stopped', 'stopped'])
  })

  it('unwatch of a URL that is not watched exits 2', async () => {
    const result = await cli(['swarm', 'unwatch', '/nonexistent/repo'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('/nonexistent/repo is not watched')
  })
})
