#!/usr/bin/env node
// DNS server throughput: the same 1 000 names served by `homeops dns serve` (built CLI, hosts directory;
// once as it runs by default, with the native UDP answerer, once with dns.native=false, the JavaScript
// hot path, for reference) and by dnsmasq (Debian, --addn-hosts), all on loopback, measured by dnsperf in
// the same run with the same query file, duration and concurrency, in alternating rounds. Reports queries
// per second, lost queries and average latency for each, and the ratios to dnsmasq. Target: homeops (the
// default) ≥ 1.0 × dnsmasq with no lost queries; exit 1 when it is missed.
// Usage: node scripts/bench/dns.mjs [--seconds 10] [--rounds 3] [--clients 4] [--outstanding 64]
//        (needs `npm run build`, dnsperf and /usr/sbin/dnsmasq)
import {execFileSync, spawn} from 'node:child_process'
import {chmodSync, mkdtempSync, mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {createSocket} from 'node:dgram'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const SECONDS = arg('seconds', 10)
const ROUNDS = arg('rounds', 3)
const CLIENTS = arg('clients', 4)
const OUTSTANDING = arg('outstanding', 64)
const NAMES = 1000
const cli = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
const dnsmasqBin = '/usr/sbin/dnsmasq'

const dir = mkdtempSync(join(tmpdir(), 'homeops-bench-dns-'))
const hostsDir = join(dir, 'hosts')
mkdirSync(hostsDir)
chmodSync(dir, 0o755) // dnsmasq reads the hosts file after dropping to nobody
const lines = []
const queries = []
for (let i = 0; i < NAMES; i++) {
  lines.push(`10.77.${i >> 8}.${i & 255} host${i}.bench.lan`)
  queries.push(`host${i}.bench.lan A`)
}
writeFileSync(join(hostsDir, 'bench'), lines.join('\n') + '\n')
writeFileSync(join(dir, 'queries'), queries.join('\n') + '\n')
writeFileSync(join(dir, 'config.yaml'), 'dns:\n  docker: false\n')

async function freePort() {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 30000)
    const ok = await new Promise((resolve) => {
      const s = createSocket('udp4')
      s.once('error', () => resolve(false))
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)))
    })
    if (ok) return port
  }
}

function dig(port) {
  try {
    return execFileSync('dig', ['+short', '+tries=1', '+time=1', '-p', String(port), '@127.0.0.1', 'host7.bench.lan'], {
      encoding: 'utf8',
    }).trim()
  } catch {
    return ''
  }
}

async function waitFor(port, what) {
  for (let i = 0; i < 100; i++) {
    if (dig(port) === '10.77.0.7') return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${what} did not answer on 127.0.0.1:${port}`)
}

function dnsperf(port) {
  const out = execFileSync(
    'dnsperf',
    [
      '-s',
      '127.0.0.1',
      '-p',
      String(port),
      '-d',
      join(dir, 'queries'),
      '-l',
      String(SECONDS),
      '-c',
      String(CLIENTS),
      '-q',
      String(OUTSTANDING),
    ],
    {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']},
  )
  const num = (re) => Number(re.exec(out)?.[1] ?? NaN)
  return {
    qps: num(/Queries per second:\s+([\d.]+)/),
    sent: num(/Queries sent:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    latencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    noerror: num(/NOERROR (\d+)/),
  }
}

const children = []
function stopAll() {
  for (const child of children) {
    try {
      process.kill(child.pid, 'SIGTERM')
    } catch {
      // already gone
    }
  }
}
process.on('exit', () => {
  stopAll()
  rmSync(dir, {recursive: true, force: true})
})

const homeopsPort = await freePort()
let jsPort = await freePort()
while (jsPort === homeopsPort) jsPort = await freePort()
let dnsmasqPort = await freePort()
while (dnsmasqPort === homeopsPort || dnsmasqPort === jsPort) dnsmasqPort = await freePort()

let homeopsLog = ''
function startHomeops(port, native) {
  const child = spawn(
    process.execPath,
    [cli, 'dns', 'serve', '--port', String(port), '--bind', '127.0.0.1', '--http-listen', 'off', '--no-docker'],
    {
      env: {
        ...process.env,
        HOMEOPS_CONFIG: join(dir, 'config.yaml'),
        HOMEOPS_DB_PATH: join(dir, 'state.db'),
        HOSTS_DIRECTORY: hostsDir,
        HOSTIP: '10.0.0.1',
        DNS_IPV6: 'false',
        HOMEOPS_DNS_NATIVE: String(native),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  )
  children.push(child)
  child.stderr.on('data', (d) => (homeopsLog += d))
  return child
}
startHomeops(homeopsPort, true)
startHomeops(jsPort, false)
const dnsmasq = spawn(
  dnsmasqBin,
  [
    '--keep-in-foreground',
    '--no-resolv',
    '--no-hosts',
    `--port=${dnsmasqPort}`,
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    `--addn-hosts=${join(hostsDir, 'bench')}`,
    `--pid-file=${join(dir, 'dnsmasq.pid')}`,
  ],
  {stdio: ['ignore', 'ignore', 'pipe']},
)
children.push(dnsmasq)
let dnsmasqLog = ''
dnsmasq.stderr.on('data', (d) => (dnsmasqLog += d))

try {
  await waitFor(homeopsPort, 'homeops dns serve')
  await waitFor(jsPort, 'homeops dns serve (dns.native=false)')
  // The default run must be on the native answerer, or this measures the fallback.
  const paths = [...homeopsLog.matchAll(/udpPath=(\w+)/g)].map((m) => m[1]).sort()
  if (paths.join(',') !== 'js,native') throw new Error(`expected one native and one js server, got ${paths}`)
  await waitFor(dnsmasqPort, 'dnsmasq')
} catch (error) {
  console.error(String(error.message), '\n', homeopsLog, dnsmasqLog)
  process.exit(1)
}

// Warm-up (JIT, caches) for both, not measured.
const warm = (port) =>
  execFileSync(
    'dnsperf',
    [
      '-s',
      '127.0.0.1',
      '-p',
      String(port),
      '-d',
      join(dir, 'queries'),
      '-l',
      '2',
      '-c',
      String(CLIENTS),
      '-q',
      String(OUTSTANDING),
    ],
    {
      stdio: 'ignore',
    },
  )
warm(homeopsPort)
warm(jsPort)
warm(dnsmasqPort)

const ports = {homeops: homeopsPort, js: jsPort, dnsmasq: dnsmasqPort}
const results = {homeops: [], js: [], dnsmasq: []}
const orders = [
  ['homeops', 'js', 'dnsmasq'],
  ['dnsmasq', 'homeops', 'js'],
  ['js', 'dnsmasq', 'homeops'],
]
for (let round = 0; round < ROUNDS; round++) {
  for (const who of orders[round % orders.length]) results[who].push(dnsperf(ports[who]))
}

const summary = (runs) => {
  const sorted = [...runs].sort((a, b) => a.qps - b.qps)
  const median = sorted[Math.floor((sorted.length - 1) / 2)]
  return {
    qps: Math.round(median.qps),
    lost: runs.reduce((n, r) => n + r.lost, 0),
    sent: runs.reduce((n, r) => n + r.sent, 0),
    latencyMs: Number(median.latencyMs.toFixed(3)),
    runs: runs.map((r) => Math.round(r.qps)),
  }
}
const h = summary(results.homeops)
const j = summary(results.js)
const d = summary(results.dnsmasq)
const ratio = Number((h.qps / d.qps).toFixed(2))
const jsRatio = Number((j.qps / d.qps).toFixed(2))
const pad = (text, n) => String(text).padEnd(n)
const row = (name, r) =>
  console.log(`${pad(name, 22)}${pad(r.qps, 10)}${pad(r.lost, 8)}${pad(r.latencyMs + ' ms', 14)}${r.runs.join(' ')}`)
console.log(
  `dns: ${NAMES} names, dnsperf -l ${SECONDS} -c ${CLIENTS} -q ${OUTSTANDING}, ${ROUNDS} rounds (median), loopback`,
)
console.log(`${pad('server', 22)}${pad('qps', 10)}${pad('lost', 8)}${pad('avg latency', 14)}runs (qps)`)
row('homeops', h)
row('homeops (JS path)', j)
row('dnsmasq', d)
const verdict = (r, x) => (x >= 1 && r.lost === 0 ? 'met' : 'NOT met')
console.log(`ratio homeops/dnsmasq: ${ratio}× (target ≥ 1.0 with no lost queries: ${verdict(h, ratio)})`)
console.log(`ratio homeops JS path/dnsmasq: ${jsRatio}× (reference: the fallback without the native addon)`)
console.log(JSON.stringify({bench: 'dns', homeops: h, homeopsJsPath: j, dnsmasq: d, ratio, jsRatio}))
stopAll()
if (verdict(h, ratio) !== 'met') process.exitCode = 1
