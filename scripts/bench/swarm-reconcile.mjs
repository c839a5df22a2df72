#!/usr/bin/env node
// Benchmark of a no-op `homeops swarm reconcile` (issue 3): 20 stacks in 2 git repositories on the
// Swarm of the test environment (scripts/testenv.sh; started with --reuse when not running).
//
// The repositories are served over HTTP by `git http-backend` (behind a small CGI bridge on 127.0.0.1),
// as a real remote would be, to both homeops and the naive scripts.
//
// Measures, in the same run:
//   - homeops: `homeops swarm reconcile` (the built CLI as cron runs it) when nothing changed, median of --rounds;
//   - naive, waiting (GATING): the cron script homeops replaces, done the way a cron job must to know whether
//     it worked: a fresh `git clone` of each repository, then, stack after stack,
//     `docker stack deploy --detach=false --prune --with-registry-auth -c FILE NAME`, which waits for the
//     services to converge (~5 s a stack with the CLI's stability check, as homeops waits); --waiting-rounds rounds
//     (default 1: ~100 s each);
//   - naive, fire-and-forget (reference only, not gating): the same clone, then the default (with Docker
//     CLI ≥ 26, detached) `docker stack deploy --with-registry-auth -c FILE NAME`, which returns without
//     knowing whether anything converged; median of --rounds.
// Targets: homeops ≤ 0.1 × the waiting naive script, and zero service updates (every service's version index
// is the same before and after the homeops runs).
// Cold deploy (issue 21, GATING): `homeops swarm watch` of a repository of 1 stack, then of one of 20 stacks
// (fresh state, nothing deployed yet), both timed in this run: 20 stacks ≤ 3 × 1 stack, which only parallel
// deploys reach (swarm.deployConcurrency, default 8, and the convergence waits side by side). `--cold-only` runs just this part. Writes test-results/bench-swarm-reconcile.json with both
// ratios; exits 1 when a target is missed. Stacks (hotest-swarm-bench-*) are removed at the end. Every step
// has a timeout, so a run ends within ~5 minutes on the 2-core test machine with the defaults.
//
//   node scripts/bench/swarm-reconcile.mjs [--rounds N] [--waiting-rounds N] [--cold-only]
//   (needs `npm run build`; HOMEOPS_BENCH_CLI=path/to/run.js)
import {execFile, execFileSync, spawn, spawnSync} from 'node:child_process'
import {createServer} from 'node:http'
import {randomBytes} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
function fail(message) {
  console.error(`bench swarm-reconcile: ${message}`)
  process.exit(2)
}
function option(name, fallback, max) {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return fallback
  const value = Number(process.argv[i + 1])
  if (!Number.isInteger(value) || value < 1 || value > max) fail(`--${name} needs a whole number from 1 to ${max}`)
  return value
}
const ROUNDS = option('rounds', 3, 20)
const WAITING_ROUNDS = option('waiting-rounds', 1, 3)
/** What homeops runs for a deploy (docs/architecture.md "The shared core"), the gating naive script's command. */
const WAITING_DEPLOY = ['stack', 'deploy', '--detach=false', '--prune', '--with-registry-auth']
const DETACHED_DEPLOY = ['stack', 'deploy', '--with-registry-auth']
const STACKS_PER_REPO = 10
const COLD_STACKS = 20
const COLD_TARGET = 3
const COLD_ONLY = process.argv.includes('--cold-only')
const cli = process.env.HOMEOPS_BENCH_CLI ?? join(repoRoot, 'bin', 'run.js')

if (!process.env.HOMEOPS_BENCH_CLI && !existsSync(join(repoRoot, 'dist', 'commands', 'swarm', 'reconcile.js')))
  fail('dist/ is missing: run `npm run build` first')

// ---- the test environment ----
const envDir = process.env.HOMEOPS_TESTENV_DIR ?? '/tmp/homeops-testenv'
if (!existsSync(join(envDir, 'env.json'))) {
  const started = spawnSync('bash', [join(repoRoot, 'scripts/testenv.sh'), 'start', '--reuse'], {stdio: 'inherit'})
  if (started.status !== 0) fail('the test environment could not start (scripts/testenv.sh start --reuse)')
}
const testEnv = JSON.parse(readFileSync(join(envDir, 'env.json'), 'utf8'))
const dockerEnv = {...process.env, DOCKER_HOST: testEnv.dockerHost, DOCKER_CONFIG: testEnv.dockerConfigDir}
const docker = (args, options = {}) => execFileSync('docker', args, {env: dockerEnv, encoding: 'utf8', ...options})
const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@example.org',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@example.org',
}
const git = (cwd, ...args) => execFileSync('git', args, {cwd, env: gitEnv, encoding: 'utf8'})

const run = randomBytes(3).toString('hex')
const work = mkdtempSync(join(tmpdir(), 'hotest-swarm-bench-'))
const stacks = []
const repos = []
const coldRepos = {}
for (const [r, count] of [
  ['a', STACKS_PER_REPO],
  ['b', STACKS_PER_REPO],
  ['one', 1],
  ['cold', COLD_STACKS],
]) {
  const dir = join(work, 'repos', `bench-${r}`)
  mkdirSync(dir, {recursive: true})
  git(dir, 'init', '-q', '-b', 'main')
  const names = []
  for (let i = 0; i < count; i++) {
    const name = `hotest-swarm-bench-${run}-${r}${i}`
    names.push(name)
    mkdirSync(join(dir, name))
    writeFileSync(
      join(dir, name, 'compose.yaml'),
      `services:\n  app:\n    image: ${testEnv.registry.host}/hotest/app:1.0.0\n    command: ["sleep", "3600"]\n` +
        `    stop_grace_period: 1s\n    deploy:\n      replicas: 1\n`,
    )
  }
  writeFileSync(join(dir, 'stacks.yaml'), names.map((n) => `- name: ${n}\n`).join(''))
  git(dir, 'add', '-A')
  git(dir, 'commit', '-q', '-m', 'stacks')
  stacks.push(...names)
  if (r === 'one' || r === 'cold') coldRepos[r] = {dir, names}
  else repos.push({dir, names})
}
// ---- git over HTTP: `git http-backend` behind a CGI bridge ----
const gitServer = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1')
  const child = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: join(work, 'repos'),
      GIT_HTTP_EXPORT_ALL: '1',
      REQUEST_METHOD: request.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: request.headers['content-type'] ?? '',
      CONTENT_LENGTH: request.headers['content-length'] ?? '',
      HTTP_CONTENT_ENCODING: request.headers['content-encoding'] ?? '',
      GIT_PROTOCOL: String(request.headers['git-protocol'] ?? ''),
      REMOTE_ADDR: '127.0.0.1',
    },
  })
  request.pipe(child.stdin)
  let head = Buffer.alloc(0)
  let done = false
  child.stdout.on('data', (chunk) => {
    if (done) return void response.write(chunk)
    head = Buffer.concat([head, chunk])
    const end = head.indexOf('\r\n\r\n')
    if (end < 0) return
    done = true
    let status = 200
    const headers = {}
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':')
      if (colon < 0) continue
      const name = line.slice(0, colon).trim()
      if (name.toLowerCase() === 'status') status = Number.parseInt(line.slice(colon + 1), 10)
      else headers[name] = line.slice(colon + 1).trim()
    }
    response.writeHead(status, headers)
    response.write(head.subarray(end + 4))
  })
  child.on('close', () => (done ? response.end() : response.writeHead(500).end()))
})
await new Promise((resolve) => gitServer.listen(0, '127.0.0.1', resolve))
const gitBase = `http://127.0.0.1:${gitServer.address().port}`
for (const repo of [...repos, ...Object.values(coldRepos)]) repo.url = `${gitBase}/${repo.dir.split('/').pop()}/.git`

const config = join(work, 'config.yaml')
writeFileSync(
  config,
  `state: {path: ${join(work, 'state', 'homeops.db')}}\ndocker: {host: "${testEnv.dockerHost}"}\n` +
    `swarm: {convergeTimeoutSeconds: 300, cacheDir: ${join(work, 'cache')}}\n`,
)
// The cold deploys get their own state, so they start from nothing deployed and leave the no-op part alone.
const coldConfig = join(work, 'config-cold.yaml')
writeFileSync(
  coldConfig,
  `state: {path: ${join(work, 'state-cold', 'homeops.db')}}\ndocker: {host: "${testEnv.dockerHost}"}\n` +
    `swarm: {convergeTimeoutSeconds: 300, cacheDir: ${join(work, 'cache-cold')}}\n`,
)
const cliEnv = Object.fromEntries(
  Object.entries(dockerEnv).filter(([k]) => !k.startsWith('HOMEOPS_') && k !== 'DOCKER_HOST' && k !== 'CI'),
)
// Asynchronous on purpose: the git server above runs in this process and must keep answering.
function homeops(timeoutMs, ...args) {
  return homeopsWith(config, timeoutMs, ...args)
}
function homeopsWith(configFile, timeoutMs, ...args) {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args, '--config', configFile], {env: cliEnv, timeout: timeoutMs})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code, signal) => {
      const ms = performance.now() - started
      if (code !== 0) reject(new Error(`homeops ${args.join(' ')} exited ${code ?? signal}: ${stderr}`))
      else resolve({ms, stdout, stderr})
    })
  })
}
const execFileAsync = promisify(execFile)

/**
 * The naive cron script, timed: a fresh `git clone` of each repository, then `docker <deploy> -c FILE NAME`
 * for every stack, one after the other, each checked (a cron job that ignores failures measures nothing).
 */
async function naiveRun(label, deploy, deployTimeoutMs) {
  const v0 = versions()
  const started = performance.now()
  for (const repo of repos) {
    const clone = join(work, `naive-${label}-${randomBytes(3).toString('hex')}-${repo.names[0]}`)
    await execFileAsync('git', ['clone', '-q', repo.url, clone], {env: gitEnv, timeout: 60_000})
    for (const name of repo.names) {
      await execFileAsync('docker', [...deploy, '-c', join(clone, name, 'compose.yaml'), name], {
        env: dockerEnv,
        timeout: deployTimeoutMs,
      })
    }
  }
  const ms = performance.now() - started
  const v1 = versions()
  return {ms, updates: Object.keys(v1).filter((svc) => v0[svc] !== v1[svc]).length}
}

function versions() {
  const out = docker(['service', 'ls', '--filter', `name=hotest-swarm-bench-${run}-`, '--format', '{{.ID}}'])
  const ids = out.split('\n').filter(Boolean)
  if (ids.length === 0) return {}
  const inspect = JSON.parse(docker(['service', 'inspect', ...ids]))
  return Object.fromEntries(inspect.map((s) => [s.Spec.Name, s.Version.Index]))
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/** Cold deploys, timed: `swarm watch` of the 1-stack repository, then of the 20-stack one. Gating. */
async function coldDeploys() {
  const s = (ms) => `${(ms / 1000).toFixed(2)} s`
  console.log(`bench swarm-reconcile: cold deploy of 1 stack, then of ${COLD_STACKS} stacks (fresh state)…`)
  const deployed = (stdout) => JSON.parse(stdout).reconcile.stacks.filter((x) => x.outcome === 'deployed').length
  const one = await homeopsWith(coldConfig, 300_000, 'swarm', 'watch', coldRepos.one.url, '--json')
  if (deployed(one.stdout) !== 1) throw new Error('the 1-stack cold deploy did not deploy its stack')
  const many = await homeopsWith(coldConfig, 600_000, 'swarm', 'watch', coldRepos.cold.url, '--json')
  if (deployed(many.stdout) !== COLD_STACKS)
    throw new Error(`the cold deploy deployed ${deployed(many.stdout)} of ${COLD_STACKS} stacks`)
  const ratio = Number((many.ms / one.ms).toFixed(3))
  const passed = ratio <= COLD_TARGET
  console.log(
    `  cold deploy: 1 stack ${s(one.ms)}, ${COLD_STACKS} stacks ${s(many.ms)}: ratio ${ratio} (target ≤ ${COLD_TARGET}) ${passed ? 'PASS' : 'FAIL'}`,
  )
  return {
    oneStackMs: Math.round(one.ms),
    stacks: COLD_STACKS,
    manyStacksMs: Math.round(many.ms),
    ratio,
    target: COLD_TARGET,
    passed,
  }
}

let exitCode = 0
try {
  const cold = await coldDeploys()
  if (!cold.passed) exitCode = 1
  if (COLD_ONLY) {
    mkdirSync(join(repoRoot, 'test-results'), {recursive: true})
    writeFileSync(
      join(repoRoot, 'test-results', 'bench-swarm-reconcile.json'),
      JSON.stringify({coldDeploy: cold}, null, 2) + '\n',
    )
    throw Object.assign(new Error('done'), {coldOnly: true})
  }
  // `stacks` also holds the cold deploys' (for the clean-up): the no-op part is about the 2 repositories'.
  const noopStacks = repos.reduce((n, repo) => n + repo.names.length, 0)
  console.log(`bench swarm-reconcile: deploying ${noopStacks} stacks in 2 repositories (setup, not timed)…`)
  const setupStarted = performance.now()
  for (const repo of repos) await homeops(300_000, 'swarm', 'watch', repo.url)
  console.log(`  setup took ${((performance.now() - setupStarted) / 1000).toFixed(1)} s`)

  const before = versions()
  if (Object.keys(before).length !== stacks.length)
    throw new Error(`expected ${stacks.length} services, found ${Object.keys(before).length}`)
  const homeopsTimes = []
  const reconcileTimes = []
  for (let i = 0; i < ROUNDS; i++) {
    const {ms, stdout} = await homeops(60_000, 'swarm', 'reconcile', '--json')
    const report = JSON.parse(stdout)
    reconcileTimes.push(report.durationMs)
    const changed = report.stacks.filter((s) => s.outcome !== 'unchanged')
    if (changed.length > 0)
      throw new Error(`a no-op reconcile changed stacks: ${changed.map((s) => s.stack).join(', ')}`)
    homeopsTimes.push(ms)
  }
  const after = versions()
  const updates = stacks.map((s) => `${s}_app`).filter((svc) => before[svc] !== after[svc]).length

  console.log(
    `  naive, waiting: ${WAITING_ROUNDS} round(s) of clone + ${noopStacks} × docker ${WAITING_DEPLOY.join(' ')} (~5 s a stack)…`,
  )
  const waiting = []
  for (let i = 0; i < WAITING_ROUNDS; i++) waiting.push(await naiveRun(`waiting-${i}`, WAITING_DEPLOY, 180_000))
  const detached = []
  for (let i = 0; i < ROUNDS; i++) detached.push(await naiveRun(`detached-${i}`, DETACHED_DEPLOY, 60_000))

  // Reference: what node + oclif cost before any work (`homeops --version`), same machine, same moment.
  const startupTimes = []
  for (let i = 0; i < ROUNDS; i++) {
    const started = performance.now()
    spawnSync(process.execPath, [cli, '--version'], {env: cliEnv, timeout: 30_000})
    startupTimes.push(performance.now() - started)
  }
  const homeopsMs = median(homeopsTimes)
  const workMs = median(reconcileTimes)
  const waitingMs = median(waiting.map((r) => r.ms))
  const detachedMs = median(detached.map((r) => r.ms))
  const ratio = (ms, base) => Number((ms / base).toFixed(4))
  const result = {
    stacks: noopStacks,
    repositories: repos.length,
    rounds: ROUNDS,
    waitingRounds: WAITING_ROUNDS,
    homeopsNoopMs: Math.round(homeopsMs),
    homeopsReconcileWorkMs: workMs,
    cliStartupMs: Math.round(median(startupTimes)),
    homeopsRunsMs: homeopsTimes.map(Math.round),
    serviceUpdatesByHomeops: updates,
    naiveWaiting: {
      gating: true,
      script: `git clone per repository, then per stack: docker ${WAITING_DEPLOY.join(' ')} -c FILE NAME`,
      ms: Math.round(waitingMs),
      runsMs: waiting.map((r) => Math.round(r.ms)),
      serviceUpdatesPerRun: waiting.map((r) => r.updates),
    },
    naiveDetached: {
      gating: false,
      script: `git clone per repository, then per stack: docker ${DETACHED_DEPLOY.join(' ')} -c FILE NAME (detached: returns before convergence)`,
      ms: Math.round(detachedMs),
      runsMs: detached.map((r) => Math.round(r.ms)),
      serviceUpdatesPerRun: detached.map((r) => r.updates),
    },
    /** Gating: homeops no-op wall time / waiting naive script. */
    ratioVsWaitingNaive: ratio(homeopsMs, waitingMs),
    workRatioVsWaitingNaive: ratio(workMs, waitingMs),
    /** Not gating: against the fire-and-forget script, which does not know whether its deploys worked. */
    ratioVsDetachedNaive: ratio(homeopsMs, detachedMs),
    workRatioVsDetachedNaive: ratio(workMs, detachedMs),
    targetRatio: 0.1,
    passed: homeopsMs / waitingMs <= 0.1 && updates === 0 && cold.passed,
    coldDeploy: cold,
    loadAverage: (await import('node:os')).loadavg().map((l) => Number(l.toFixed(2))),
  }
  mkdirSync(join(repoRoot, 'test-results'), {recursive: true})
  writeFileSync(join(repoRoot, 'test-results', 'bench-swarm-reconcile.json'), JSON.stringify(result, null, 2) + '\n')
  const s = (ms) => `${(ms / 1000).toFixed(2)} s`
  console.log(
    `  homeops no-op reconcile: ${s(homeopsMs)} wall (median of ${ROUNDS}), of which the reconcile itself ${s(workMs)}; ${updates} service updates`,
  )
  console.log(`  reference: CLI start-up alone (homeops --version) ${s(median(startupTimes))}`)
  console.log(
    `  naive, waiting (gating): clone + docker ${WAITING_DEPLOY.join(' ')} × ${noopStacks}: ${s(waitingMs)} (${WAITING_ROUNDS === 1 ? '1 round' : `median of ${WAITING_ROUNDS}`}), ${result.naiveWaiting.serviceUpdatesPerRun.join('/')} service updates per run`,
  )
  console.log(
    `  naive, fire-and-forget (not gating): clone + detached docker ${DETACHED_DEPLOY.join(' ')} × ${noopStacks}: ${s(detachedMs)} (median of ${ROUNDS}), ${result.naiveDetached.serviceUpdatesPerRun.join('/')} service updates per run`,
  )
  console.log(
    `  ratio vs the waiting naive script (gating, target ≤ 0.1): ${result.ratioVsWaitingNaive} wall, ${result.workRatioVsWaitingNaive} reconcile work`,
  )
  console.log(
    `  ratio vs the fire-and-forget naive script (reference, not gating): ${result.ratioVsDetachedNaive} wall, ${result.workRatioVsDetachedNaive} reconcile work`,
  )
  console.log(`  load average ${result.loadAverage.join(' ')}`)
  if (!cold.passed)
    console.log(`  FAIL: the cold deploy of ${COLD_STACKS} stacks took more than ${COLD_TARGET} × one stack`)
  if (homeopsMs / waitingMs > 0.1) {
    console.log('  FAIL: the no-op reconcile is slower than 0.1 × the waiting naive script')
    exitCode = 1
  }
  if (updates !== 0) {
    console.log('  FAIL: the no-op reconcile updated services')
    exitCode = 1
  }
  console.log(`  ${exitCode === 0 ? 'PASS' : 'FAIL'} (results in test-results/bench-swarm-reconcile.json)`)
} catch (error) {
  if (!error.coldOnly) {
    console.error(`bench swarm-reconcile: ${error.message}`)
    exitCode = 1
  }
} finally {
  spawnSync('docker', ['stack', 'rm', ...stacks], {env: dockerEnv, stdio: 'ignore', timeout: 120_000})
  // Wait (bounded) for the containers to go before the next benchmark runs.
  for (let i = 0; i < 90; i++) {
    const left = spawnSync(
      'docker',
      ['ps', '-aq', '--filter', `label=com.docker.stack.namespace`, '--filter', `name=hotest-swarm-bench-${run}-`],
      {
        env: dockerEnv,
        encoding: 'utf8',
        timeout: 30_000,
      },
    ).stdout?.trim()
    if (!left) break
    await new Promise((r) => setTimeout(r, 1000))
  }
  gitServer.closeAllConnections()
  gitServer.close()
  rmSync(work, {recursive: true, force: true})
}
process.exit(exitCode)
