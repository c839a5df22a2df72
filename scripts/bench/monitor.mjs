#!/usr/bin/env node
// Benchmark of the monitor (issue 6): 30 running containers on the test environment's dockerd.
//
// Measures, in one run:
//   - latency of GET /status of `homeops monitor serve` (p50, p99 over --requests sequential requests,
//     keep-alive, after the stats streams and the registry cache are warm). Target: p50 < 20 ms;
//   - wall time of `homeops monitor status --json` (median of --rounds runs, a fresh process each);
//   - the reference: wall time of one `docker stats --no-stream` (median of --rounds) for the same containers.
// The containers are created here (hotest-bench-monitor-*) and removed at the end, whatever happens.
// Writes test-results/bench-monitor.json; exits 1 when the /status target is missed.
//
//   node scripts/bench/monitor.mjs [--containers 30] [--requests 500] [--rounds 3]
//   (needs `npm run build` and the test environment: scripts/testenv.sh start)
import {spawn, execFile} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

const run = promisify(execFile)
const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Math.max(1, Number(process.argv[i + 1])) : fallback
}
const CONTAINERS = arg('containers', 30)
const REQUESTS = arg('requests', 500)
const ROUNDS = arg('rounds', 3)
const TARGET_P50_MS = 20
let server
const created = []

class BenchError extends Error {}
/** Before the containers exist: exit at once. After: thrown, so the `finally` removes them. */
function fail(message) {
  if (created.length > 0 || server) throw new BenchError(message)
  console.error(`bench monitor: ${message}`)
  process.exit(2)
}
const envFile = join(process.env.HOMEOPS_TESTENV_DIR ?? '/tmp/homeops-testenv', 'env.json')
if (!existsSync(join(repoRoot, 'dist', 'commands', 'monitor', 'serve.js')))
  fail('dist/ is missing: run `npm run build` first')
if (!existsSync(envFile)) fail(`${envFile} is missing: start the test environment with scripts/testenv.sh start`)
const testEnv = JSON.parse(readFileSync(envFile, 'utf8'))
const {default: Docker} = await import(join(repoRoot, 'node_modules', 'dockerode', 'lib', 'docker.js'))
const docker = new Docker({socketPath: testEnv.dockerSocket})
const image = `${testEnv.registry.host}/hotest/app:1.0.0`
const prefix = `hotest-bench-monitor-${randomBytes(3).toString('hex')}`
const dir = mkdtempSync(join(tmpdir(), 'homeops-bench-monitor-'))
const childEnv = {
  PATH: process.env.PATH,
  HOME: dir,
  DOCKER_HOST: testEnv.dockerHost,
  HOMEOPS_DB_PATH: join(dir, 'homeops.db'),
  HOMEOPS_CONFIG: join(dir, 'config.yaml'),
  SETTINGS_PATH: join(dir, 'settings.json'),
  API_ENABLED: 'true',
}
writeFileSync(childEnv.HOMEOPS_CONFIG, '')

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const round = (ms) => Math.round(ms * 10) / 10

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = s.address().port
      s.close(() => resolve(port))
    })
  })
}

async function timed(fn) {
  const started = performance.now()
  await fn()
  return performance.now() - started
}

async function cleanup() {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM')
    await new Promise((r) => server.once('exit', r))
  }
  await Promise.all(
    created.map((id) =>
      docker
        .getContainer(id)
        .remove({force: true})
        .catch(() => {}),
    ),
  )
  rmSync(dir, {recursive: true, force: true})
}
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)))

try {
  console.log(`creating ${CONTAINERS} containers (${prefix}-N, ${image})`)
  for (let i = 0; i < CONTAINERS; i++) {
    const c = await docker.createContainer({
      name: `${prefix}-${i}`,
      Image: image,
      Cmd: ['sh', '-c', 'while :; do sleep 1; done'],
      StopTimeout: 1,
      HostConfig: {Memory: 32 * 1024 * 1024},
    })
    created.push(c.id)
    await c.start()
  }
  const names = new Set(Array.from({length: CONTAINERS}, (_, i) => `${prefix}-${i}`))

  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  server = spawn(
    process.execPath,
    [join(repoRoot, 'bin', 'run.js'), 'monitor', 'serve', '--listen', `127.0.0.1:${port}`],
    {
      env: childEnv,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  )
  let serverLog = ''
  server.stderr.on('data', (b) => (serverLog += b.toString()))
  const warmDeadline = Date.now() + 60_000
  for (;;) {
    if (Date.now() > warmDeadline) fail(`monitor serve did not warm up in 60 s:\n${serverLog}`)
    try {
      const body = await (await fetch(`${base}/status`)).json()
      const ours = Object.entries(body.meta ?? {}).filter(([name]) => names.has(name))
      if (
        ours.length === CONTAINERS &&
        ours.every(([name, m]) => typeof m.cpu === 'number' && body.updates[name] === 'up_to_date')
      )
        break
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250))
  }

  const latencies = []
  let bytes = 0
  for (let i = 0; i < REQUESTS; i++) {
    const started = performance.now()
    const response = await fetch(`${base}/status`)
    bytes = (await response.text()).length
    latencies.push(performance.now() - started)
    if (response.status !== 200) fail(`/status answered ${response.status}`)
  }
  latencies.sort((a, b) => a - b)
  const forced = []
  for (let i = 0; i < 50; i++) forced.push(await timed(async () => (await fetch(`${base}/status?force=1`)).text()))
  forced.sort((a, b) => a - b)

  const cliTimes = []
  for (let i = 0; i < ROUNDS; i++) {
    cliTimes.push(
      await timed(async () => {
        const {stdout} = await run(process.execPath, [join(repoRoot, 'bin', 'run.js'), 'monitor', 'status', '--json'], {
          env: childEnv,
          maxBuffer: 16 * 1024 * 1024,
        })
        const report = JSON.parse(stdout)
        if (report.containers.filter((c) => names.has(c.name)).length !== CONTAINERS)
          fail('monitor status missed containers')
      }),
    )
  }
  const dockerTimes = []
  for (let i = 0; i < ROUNDS; i++) {
    dockerTimes.push(
      await timed(() =>
        run('docker', ['stats', '--no-stream', '--format', '{{.Name}} {{.CPUPerc}}', ...names], {
          env: {...process.env, DOCKER_HOST: testEnv.dockerHost},
        }),
      ),
    )
  }

  const result = {
    containers: CONTAINERS,
    status: {
      requests: REQUESTS,
      p50_ms: round(percentile(latencies, 50)),
      p99_ms: round(percentile(latencies, 99)),
      max_ms: round(latencies.at(-1)),
      body_bytes: bytes,
    },
    status_force: {
      requests: forced.length,
      p50_ms: round(percentile(forced, 50)),
      p99_ms: round(percentile(forced, 99)),
    },
    monitor_status_json_ms: round(median(cliTimes)),
    docker_stats_no_stream_ms: round(median(dockerTimes)),
    target_status_p50_ms: TARGET_P50_MS,
  }
  result.status_p50_vs_docker_stats = Number((result.status.p50_ms / result.docker_stats_no_stream_ms).toFixed(4))
  result.cli_vs_docker_stats = round(result.monitor_status_json_ms / result.docker_stats_no_stream_ms)
  console.log(
    `GET /status (${CONTAINERS} containers, ${REQUESTS} requests): p50 ${result.status.p50_ms} ms, p99 ${result.status.p99_ms} ms, max ${result.status.max_ms} ms (${bytes} bytes)`,
  )
  console.log(
    `GET /status?force=1 (50 requests, registry asked at most once a minute per image): p50 ${result.status_force.p50_ms} ms, p99 ${result.status_force.p99_ms} ms`,
  )
  console.log(`homeops monitor status --json: ${result.monitor_status_json_ms} ms (median of ${ROUNDS})`)
  console.log(`docker stats --no-stream (reference): ${result.docker_stats_no_stream_ms} ms (median of ${ROUNDS})`)
  console.log(
    `ratios: /status p50 = ${result.status_p50_vs_docker_stats} × docker stats; monitor status = ${result.cli_vs_docker_stats} × docker stats`,
  )
  mkdirSync(join(repoRoot, 'test-results'), {recursive: true})
  writeFileSync(join(repoRoot, 'test-results', 'bench-monitor.json'), JSON.stringify(result, null, 2) + '\n')
  const ok = result.status.p50_ms < TARGET_P50_MS
  console.log(
    ok
      ? `target met: /status p50 < ${TARGET_P50_MS} ms`
      : `TARGET MISSED: /status p50 ${result.status.p50_ms} ms ≥ ${TARGET_P50_MS} ms`,
  )
  await cleanup()
  process.exit(ok ? 0 : 1)
} catch (error) {
  console.error(`bench monitor: ${error instanceof BenchError ? error.message : (error.stack ?? error)}`)
  await cleanup()
  process.exit(2)
}
