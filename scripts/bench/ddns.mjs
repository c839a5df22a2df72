#!/usr/bin/env node
// Cost of an unchanged `homeops ddns update` (the systemd-timer case) against ddclient doing the same job in the
// same script: both read the address from the same loopback echo service and both already hold it, so neither
// sends anything to the (loopback dyndns2) provider. Each tool runs N times, interleaved; CPU (user + sys) and peak
// RSS of every run come from GNU time. Goals (issue 14): CPU per run <= 2x ddclient's, peak RSS <= 40 MiB; the
// script exits 1 when either is missed. It also checks the request counts (1 detection request per family and
// 0 provider requests on an unchanged run) and prints two floors: a bare `node -e 0`, what any Node program pays,
// and ddns-floor.cjs, the least any Node program does for this job (open SQLite, one GET, one write).
// homeops runs the way the installed systemd unit and cron line run it (install.sh: `ExecStart=$bin ddns update`,
// $bin linked to bin/homeops.cjs): the executable itself, through its `#!/usr/bin/env node` line, no node flags.
// Needs: npm run build; apt-get install -y ddclient time. Usage: node scripts/bench/ddns.mjs [--runs N]
// HOMEOPS_BENCH_CLI=/other/checkout/bin/homeops.cjs measures another build (e.g. main, for a before/after table).
import {spawn} from 'node:child_process'
import {chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const runsFlag = process.argv.indexOf('--runs')
const RUNS = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 20
const cli = process.env.HOMEOPS_BENCH_CLI ?? fileURLToPath(new URL('../../bin/homeops.cjs', import.meta.url))
const TIME = '/usr/bin/time'
const DDCLIENT = '/usr/sbin/ddclient'
for (const [path, pkg] of [
  [TIME, 'time'],
  [DDCLIENT, 'ddclient'],
]) {
  if (!existsSync(path) && !(pkg === 'ddclient' && existsSync('/usr/bin/ddclient'))) {
    console.error(`${path} missing: apt-get install -y ${pkg}`)
    process.exit(2)
  }
}
const ddclientPath = existsSync(DDCLIENT) ? DDCLIENT : '/usr/bin/ddclient'

function serve(host, handler) {
  return new Promise((resolve) => {
    const server = createServer(handler)
    server.listen(0, host, () => resolve(server))
  })
}

const counts = {v4: 0, v6: 0, provider: 0}
const echo4 = await serve('127.0.0.1', (req, res) => {
  counts.v4++
  res.end('84.16.66.10\n')
})
const echo6 = await serve('::1', (req, res) => {
  counts.v6++
  res.end('2a02:1234::10\n')
})
const held = new Map()
const provider = await serve('127.0.0.1', (req, res) => {
  counts.provider++
  const url = new URL(req.url, 'http://x')
  const ip = url.searchParams.get('myip') ?? ''
  const key = `${url.searchParams.get('hostname')}/${ip.includes(':') ? 6 : 4}`
  const same = held.get(key) === ip
  held.set(key, ip)
  res.end(`${same ? 'nochg' : 'good'} ${ip}`)
})

const dir = mkdtempSync(join(tmpdir(), 'homeops-bench-ddns-'))
const baseEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => !k.startsWith('HOMEOPS_') && !k.startsWith('DDNS_') && !k.startsWith('INFOMANIAK_'),
  ),
)
const homeopsEnv = (extra = {}) => ({
  ...baseEnv,
  XDG_CONFIG_HOME: dir,
  HOMEOPS_DB_PATH: join(dir, 'homeops.db'),
  INFOMANIAK_DDNS_HOSTNAME: 'home.example.org',
  INFOMANIAK_DDNS_USERNAME: 'bench',
  INFOMANIAK_DDNS_PASSWORD: 'bench-password',
  DDNS_SERVER: `http://127.0.0.1:${provider.address().port}`,
  DDNS_IP_SOURCES_V4: `http://127.0.0.1:${echo4.address().port}/`,
  DDNS_IP_SOURCES_V6: `http://[::1]:${echo6.address().port}/`,
  ...extra,
})
const ddclientConf = join(dir, 'ddclient.conf')
writeFileSync(
  ddclientConf,
  [
    'daemon=0',
    'syslog=no',
    'ssl=no',
    `cache=${join(dir, 'ddclient.cache')}`,
    `pid=${join(dir, 'ddclient.pid')}`,
    `use=web, web=http://127.0.0.1:${echo4.address().port}/`,
    'protocol=dyndns2',
    `server=127.0.0.1:${provider.address().port}`,
    'login=bench',
    'password=bench-password',
    'ddclient.example.org',
    '',
  ].join('\n'),
)
chmodSync(ddclientConf, 0o600)

/** One run under GNU time: {code, cpuMs, rssKiB, wallMs, out}. Our event loop stays free to answer it. */
function measured(command, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(TIME, ['-f', '@@%U %S %M %e', command, ...args], {env, stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('error', reject)
    child.on('close', (code) => {
      const m = /@@([\d.]+) ([\d.]+) (\d+) ([\d.]+)\s*$/.exec(err)
      if (!m) return reject(new Error(`no timing from ${command}: ${err}`))
      const cpuMs = (Number(m[1]) + Number(m[2])) * 1000
      resolve({code, cpuMs, rssKiB: Number(m[3]), wallMs: Number(m[4]) * 1000, out: out + err})
    })
  })
}

const homeops = (extra) => measured(cli, ['ddns', 'update'], homeopsEnv(extra))
const ddclient = () => measured(ddclientPath, ['-file', ddclientConf, '-foreground', '-daemon=0'], baseEnv)
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d

try {
  // Request counts, both families: the first run sends one update per family, an unchanged run none.
  const first = await homeops({DDNS_ENABLE_IPV6: 'true'})
  if (first.code !== 0) throw new Error(`first homeops run exited ${first.code}\n${first.out}`)
  const firstRun = {...counts}
  counts.v4 = counts.v6 = counts.provider = 0
  await homeops({DDNS_ENABLE_IPV6: 'true'})
  const noChange = {...counts}

  // CPU and memory, IPv4 only for both tools (ddclient's `use=web` is IPv4): one echo request, no provider request.
  const warm = await ddclient()
  if (warm.code !== 0 || !/good|SUCCESS/i.test(warm.out + held.get('ddclient.example.org/4'))) {
    throw new Error(`ddclient's first run failed (exit ${warm.code})\n${warm.out}`)
  }
  await homeops()
  counts.provider = 0
  const floorEnv = {
    ...baseEnv,
    FLOOR_DB: join(dir, 'floor.db'),
    FLOOR_ECHO: `http://127.0.0.1:${echo4.address().port}/`,
  }
  const floor = () => measured(process.execPath, [fileURLToPath(new URL('ddns-floor.cjs', import.meta.url))], floorEnv)
  await floor()
  const rows = {homeops: [], ddclient: [], node: [], floor: []}
  for (let i = 0; i < RUNS; i++) {
    const d = await ddclient()
    const h = await homeops()
    const n = await measured(process.execPath, ['-e', '0'], baseEnv)
    const f = await floor()
    if (d.code !== 0 || h.code !== 0 || f.code !== 0) {
      throw new Error(`a run failed: ddclient ${d.code}, homeops ${h.code}, floor ${f.code}\n${h.out}${f.out}`)
    }
    rows.ddclient.push(d)
    rows.homeops.push(h)
    rows.node.push(n)
    rows.floor.push(f)
  }
  const stats = (list) => ({
    cpuMsMean: round(mean(list.map((r) => r.cpuMs))),
    cpuMsMedian: round(median(list.map((r) => r.cpuMs))),
    peakRssMiB: round(Math.max(...list.map((r) => r.rssKiB)) / 1024),
    wallMsMedian: round(median(list.map((r) => r.wallMs))),
  })
  const result = {
    bench: 'ddns',
    runs: RUNS,
    firstRunRequests: {detectionV4: firstRun.v4, detectionV6: firstRun.v6, provider: firstRun.provider},
    noChangeRequests: {detectionV4: noChange.v4, detectionV6: noChange.v6, provider: noChange.provider},
    providerRequestsDuringTimedRuns: counts.provider,
    homeops: stats(rows.homeops),
    ddclient: stats(rows.ddclient),
    bareNode: stats(rows.node),
    floor: stats(rows.floor),
    targets: {cpuRatio: 2, peakRssMiB: 40},
  }
  result.cpuRatio = round(result.homeops.cpuMsMean / result.ddclient.cpuMsMean, 2)
  result.rssRatio = round(result.homeops.peakRssMiB / result.ddclient.peakRssMiB, 2)
  const requestsOk =
    noChange.v4 === 1 &&
    noChange.v6 === 1 &&
    noChange.provider === 0 &&
    firstRun.provider === 2 &&
    counts.provider === 0
  result.ok = requestsOk && result.cpuRatio <= 2 && result.homeops.peakRssMiB <= 40
  console.log(
    `requests: unchanged run ${noChange.v4} IPv4 + ${noChange.v6} IPv6 detection, ${noChange.provider} provider (first run: ${firstRun.provider} provider)`,
  )
  console.log(
    `CPU per unchanged run: homeops ${result.homeops.cpuMsMean} ms, ddclient ${result.ddclient.cpuMsMean} ms = ${result.cpuRatio}x (goal <= 2x); bare node ${result.bareNode.cpuMsMean} ms`,
  )
  console.log(
    `peak RSS: homeops ${result.homeops.peakRssMiB} MiB, ddclient ${result.ddclient.peakRssMiB} MiB = ${result.rssRatio}x (goal <= 40 MiB); bare node ${result.bareNode.peakRssMiB} MiB`,
  )
  console.log(
    `floor (SQLite + one GET in Node): CPU ${result.floor.cpuMsMean} ms = ${round(result.floor.cpuMsMean / result.ddclient.cpuMsMean, 2)}x ddclient, peak RSS ${result.floor.peakRssMiB} MiB`,
  )
  console.log('| run | CPU mean (ms) | CPU median (ms) | peak RSS (MiB) | wall median (ms) |')
  console.log('|---|---|---|---|---|')
  for (const [name, row] of [
    ['homeops ddns update', result.homeops],
    ['ddclient', result.ddclient],
    ['node -e 0', result.bareNode],
    ['floor: SQLite + one GET (ddns-floor.cjs)', result.floor],
  ]) {
    console.log(`| ${name} | ${row.cpuMsMean} | ${row.cpuMsMedian} | ${row.peakRssMiB} | ${row.wallMsMedian} |`)
  }
  console.log(JSON.stringify(result))
  if (!result.ok) console.error('ddns bench: goal missed')
  process.exitCode = result.ok ? 0 : 1
} finally {
  for (const s of [echo4, echo6, provider]) s.close()
  rmSync(dir, {recursive: true, force: true})
}
