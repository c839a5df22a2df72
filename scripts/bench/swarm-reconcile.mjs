#!/usr/bin/env node
// Benchmark of a no-op `homeops swarm reconcile` (issue 3): 20 stacks in 2 git repositories on the
// Swarm of the test environment (scripts/testenv.sh; started with --reuse when not running).
//
// The repositories are served over HTTP by `git http-backend` (behind a small CGI bridge on 127.0.0.1),
// as a real remote would be, to both homeops and the naive script.
//
// Measures, median of --rounds, in the same run:
//   - homeops: `homeops swarm reconcile` (the built CLI as cron runs it) when nothing changed;
//   - naive: the cron script homeops replaces: `git clone` of each repository into a fresh folder,
//     then `docker stack deploy -c <compose> <stack>` of every stack.
// Targets: homeops ≤ 0.1 × naive, and zero service updates (every service's version index is the
// same before and after the homeops runs). Writes test-results/bench-swarm-reconcile.json; exits 1
// when a target is missed. Stacks (hotest-swarm-bench-*) are removed at the end.
//
//   node scripts/bench/swarm-reconcile.mjs [--rounds N]   (needs `npm run build`; HOMEOPS_BENCH_CLI=path/to/run.js)
import {execFile, execFileSync, spawn, spawnSync} from 'node:child_process'
import {createServer} from 'node:http'
import {randomBytes} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const roundsFlag = process.argv.indexOf('--rounds')
const ROUNDS = roundsFlag > 0 ? Math.max(1, Number(process.argv[roundsFlag + 1])) : 3
const STACKS_PER_REPO = 10
const cli = process.env.HOMEOPS_BENCH_CLI ?? join(repoRoot, 'bin', 'run.js')

function fail(message) {
  console.error(`bench swarm-reconcile: ${message}`)
  process.exit(2)
}
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
for (const r of ['a', 'b']) {
  const dir = join(work, 'repos', `bench-${r}`)
  mkdirSync(dir, {recursive: true})
  git(dir, 'init', '-q', '-b', 'main')
  const names = []
  for (let i = 0; i < STACKS_PER_REPO; i++) {
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
  repos.push({dir, names})
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
for (const repo of repos) repo.url = `${gitBase}/${repo.dir.split('/').pop()}/.git`

const config = join(work, 'config.yaml')
writeFileSync(
  config,
  `state: {path: ${join(work, 'state', 'homeops.db')}}\ndocker: {host: "${testEnv.dockerHost}"}\n` +
    `swarm: {convergeTimeoutSeconds: 300, cacheDir: ${join(work, 'cache')}}\n`,
)
const cliEnv = Object.fromEntries(
  Object.entries(dockerEnv).filter(([k]) => !k.startsWith('HOMEOPS_') && k !== 'DOCKER_HOST' && k !== 'CI'),
)
// Asynchronous on purpose: the git server above runs in this process and must keep answering.
function homeops(...args) {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args, '--config', config], {env: cliEnv})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code) => {
      const ms = performance.now() - started
      if (code !== 0) reject(new Error(`homeops ${args.join(' ')} exited ${code}: ${stderr}`))
      else resolve({ms, stdout, stderr})
    })
  })
}
const execFileAsync = promisify(execFile)

function versions() {
  const out = docker(['service', 'ls', '--filter', `name=hotest-swarm-bench-${run}-`, '--format', '{{.ID}}'])
  const ids = out.split('\n').filter(Boolean)
  if (ids.length === 0) return {}
  const inspect = JSON.parse(docker(['service', 'inspect', ...ids]))
  return Object.fromEntries(inspect.map((s) => [s.Spec.Name, s.Version.Index]))
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

let exitCode = 0
try {
  console.log(`bench swarm-reconcile: deploying ${stacks.length} stacks in 2 repositories (setup, not timed)…`)
  const setupStarted = performance.now()
  for (const repo of repos) await homeops('swarm', 'watch', repo.url)
  console.log(`  setup took ${((performance.now() - setupStarted) / 1000).toFixed(1)} s`)

  const before = versions()
  if (Object.keys(before).length !== stacks.length)
    throw new Error(`expected ${stacks.length} services, found ${Object.keys(before).length}`)
  const homeopsTimes = []
  const reconcileTimes = []
  for (let i = 0; i < ROUNDS; i++) {
    const {ms, stdout} = await homeops('swarm', 'reconcile', '--json')
    const report = JSON.parse(stdout)
    reconcileTimes.push(report.durationMs)
    const changed = report.stacks.filter((s) => s.outcome !== 'unchanged')
    if (changed.length > 0)
      throw new Error(`a no-op reconcile changed stacks: ${changed.map((s) => s.stack).join(', ')}`)
    homeopsTimes.push(ms)
  }
  const after = versions()
  const updates = stacks.map((s) => `${s}_app`).filter((svc) => before[svc] !== after[svc]).length

  const naiveTimes = []
  let naiveUpdates = 0
  for (let i = 0; i < ROUNDS; i++) {
    const v0 = versions()
    const started = performance.now()
    for (const repo of repos) {
      const clone = join(work, `naive-${i}-${repo.names[0]}`)
      await execFileAsync('git', ['clone', '-q', repo.url, clone], {env: gitEnv})
      for (const name of repo.names) {
        docker(['stack', 'deploy', '--with-registry-auth', '-c', join(clone, name, 'compose.yaml'), name], {
          stdio: 'ignore',
        })
      }
    }
    naiveTimes.push(performance.now() - started)
    const v1 = versions()
    naiveUpdates = Object.keys(v1).filter((svc) => v0[svc] !== v1[svc]).length
  }

  // Reference: what node + oclif cost before any work (`homeops --version`), same machine, same moment.
  const startupTimes = []
  for (let i = 0; i < ROUNDS; i++) {
    const started = performance.now()
    spawnSync(process.execPath, [cli, '--version'], {env: cliEnv})
    startupTimes.push(performance.now() - started)
  }
  const homeopsMs = median(homeopsTimes)
  const naiveMs = median(naiveTimes)
  const ratio = homeopsMs / naiveMs
  const result = {
    stacks: stacks.length,
    repositories: repos.length,
    rounds: ROUNDS,
    homeopsNoopMs: Math.round(homeopsMs),
    homeopsReconcileWorkMs: median(reconcileTimes),
    cliStartupMs: Math.round(median(startupTimes)),
    workRatio: Number((median(reconcileTimes) / median(naiveTimes)).toFixed(3)),
    naiveMs: Math.round(naiveMs),
    ratio: Number(ratio.toFixed(3)),
    targetRatio: 0.1,
    serviceUpdatesByHomeops: updates,
    serviceUpdatesByNaive: naiveUpdates,
    homeopsRunsMs: homeopsTimes.map(Math.round),
    naiveRunsMs: naiveTimes.map(Math.round),
    loadAverage: (await import('node:os')).loadavg().map((l) => Number(l.toFixed(2))),
  }
  mkdirSync(join(repoRoot, 'test-results'), {recursive: true})
  writeFileSync(join(repoRoot, 'test-results', 'bench-swarm-reconcile.json'), JSON.stringify(result, null, 2) + '\n')
  console.log(
    `  homeops no-op reconcile: ${(homeopsMs / 1000).toFixed(2)} s wall (median of ${ROUNDS}), of which the reconcile itself ${(median(reconcileTimes) / 1000).toFixed(2)} s; ${updates} service updates`,
  )
  console.log(`  reference: CLI start-up alone (homeops --version) ${(median(startupTimes) / 1000).toFixed(2)} s`)
  console.log(
    `  naive clone + deploy all: ${(naiveMs / 1000).toFixed(2)} s (median of ${ROUNDS}), ${naiveUpdates} service updates per run`,
  )
  console.log(
    `  ratio ${ratio.toFixed(3)} wall, ${result.workRatio} reconcile work vs naive (target ≤ 0.1); load average ${result.loadAverage.join(' ')}`,
  )
  if (ratio > 0.1) {
    console.log('  FAIL: the no-op reconcile is slower than 0.1 × the naive script')
    exitCode = 1
  }
  if (updates !== 0) {
    console.log('  FAIL: the no-op reconcile updated services')
    exitCode = 1
  }
} catch (error) {
  console.error(`bench swarm-reconcile: ${error.message}`)
  exitCode = 1
} finally {
  spawnSync('docker', ['stack', 'rm', ...stacks], {env: dockerEnv, stdio: 'ignore'})
  // Wait (bounded) for the containers to go before the next benchmark runs.
  for (let i = 0; i < 90; i++) {
    const left = spawnSync(
      'docker',
      ['ps', '-aq', '--filter', `label=com.docker.stack.namespace`, '--filter', `name=hotest-swarm-bench-${run}-`],
      {
        env: dockerEnv,
        encoding: 'utf8',
      },
    ).stdout.trim()
    if (!left) break
    await new Promise((r) => setTimeout(r, 1000))
  }
  gitServer.closeAllConnections()
  gitServer.close()
  rmSync(work, {recursive: true, force: true})
}
process.exit(exitCode)
