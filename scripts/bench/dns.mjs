#!/usr/bin/env node
// DNS server throughput: `homeops dns serve` (built CLI, its native answerer) against dnsmasq (Debian), in
// the same run, on loopback, measured by dnsperf with the same query files, duration and concurrency, in
// alternating order. Both serve the same hosts files (owned names and a blocklist) and forward everything
// else to the same upstream (a third dnsmasq) with their caches warmed first. Three workloads:
//   owned      names from the hosts file                          goal ≥ 1.3 × dnsmasq
//   forwarded  names answered from the forwarding cache           goal ≥ 1.0 × dnsmasq
//   mix        80 % forwarded, 15 % owned, 5 % blocked (0.0.0.0)  goal ≥ 1.0 × dnsmasq
// with zero queries lost. Also reports CPU time per query of both servers (utime+stime of the process from
// /proc, over each measured run) and the time to answer and peak RSS with a 1 000 000-line blocklist
// loaded (dnsmasq the same, for reference). Exit 1 when a goal is missed.
// Usage: node scripts/bench/dns.mjs [--seconds 8] [--rounds 3] [--clients 4] [--outstanding 64] [--million 1]
//        (needs `npm run build`, dnsperf and /usr/sbin/dnsmasq)
import {execFileSync, spawn} from 'node:child_process'
import {appendFileSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createSocket} from 'node:dgram'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const SECONDS = arg('seconds', 8)
const ROUNDS = arg('rounds', 3)
const CLIENTS = arg('clients', 4)
const OUTSTANDING = arg('outstanding', 64)
const MILLION = arg('million', 1) !== 0
const NAMES = 1000
const cli = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
const dnsmasqBin = '/usr/sbin/dnsmasq'
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).trim()) || 100

const dir = mkdtempSync(join(tmpdir(), 'homeops-bench-dns-'))
const hostsDir = join(dir, 'hosts')
mkdirSync(hostsDir)
chmodSync(dir, 0o755) // dnsmasq reads the hosts files after dropping to nobody
const owned = []
const forwarded = []
const blocked = []
const ownedLines = []
const upstreamLines = []
const blockLines = []
for (let i = 0; i < NAMES; i++) {
  ownedLines.push(`10.77.${i >> 8}.${i & 255} host${i}.bench.lan`)
  owned.push(`host${i}.bench.lan A`)
  upstreamLines.push(`10.88.${i >> 8}.${i & 255} www${i}.remote.test`)
  forwarded.push(`www${i}.remote.test A`)
  blockLines.push(`0.0.0.0 ads${i}.tracker.test`)
  blocked.push(`ads${i}.tracker.test A`)
}
writeFileSync(join(hostsDir, 'bench'), ownedLines.join('\n') + '\n')
writeFileSync(join(hostsDir, 'blocklist'), blockLines.join('\n') + '\n')
writeFileSync(join(dir, 'upstream-hosts'), upstreamLines.join('\n') + '\n')
// The mix, interleaved the same way in every 20 queries: 16 forwarded, 3 owned, 1 blocked.
const mix = []
for (let i = 0; i < NAMES; i++) {
  for (let k = 0; k < 16; k++) mix.push(forwarded[(i * 16 + k) % NAMES])
  for (let k = 0; k < 3; k++) mix.push(owned[(i * 3 + k) % NAMES])
  mix.push(blocked[i])
}
const files = {owned: join(dir, 'q-owned'), forwarded: join(dir, 'q-forwarded'), mix: join(dir, 'q-mix')}
writeFileSync(files.owned, owned.join('\n') + '\n')
writeFileSync(files.forwarded, forwarded.join('\n') + '\n')
writeFileSync(files.mix, mix.join('\n') + '\n')

async function freePort(taken = []) {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 30000)
    if (taken.includes(port)) continue
    const ok = await new Promise((resolve) => {
      const s = createSocket('udp4')
      s.once('error', () => resolve(false))
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)))
    })
    if (ok) return port
  }
}

function dig(port, name) {
  try {
    return execFileSync('dig', ['+short', '+tries=1', '+time=1', '-p', String(port), '@127.0.0.1', name], {
      encoding: 'utf8',
    }).trim()
  } catch {
    return ''
  }
}

async function waitFor(port, name, expected, what, tries = 300) {
  for (let i = 0; i < tries; i++) {
    if (dig(port, name) === expected) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${what} did not answer ${name} on 127.0.0.1:${port}`)
}

/** utime + stime of a process (all its threads), in seconds. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS
}

function peakRssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024)
}

function dnsperf(port, file, seconds) {
  const out = execFileSync(
    'dnsperf',
    [
      '-s',
      '127.0.0.1',
      '-p',
      String(port),
      '-d',
      file,
      '-l',
      String(seconds),
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
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    latencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
  }
}

const children = []
function stop(child) {
  try {
    process.kill(child.pid, 'SIGTERM')
  } catch {
    // already gone
  }
}
process.on('exit', () => {
  for (const child of children) stop(child)
  rmSync(dir, {recursive: true, force: true})
})

function startDnsmasq(port, args) {
  const child = spawn(
    dnsmasqBin,
    [
      '--keep-in-foreground',
      '--no-resolv',
      '--no-hosts',
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      `--pid-file=${join(dir, `dnsmasq-${port}.pid`)}`,
      ...args,
    ],
    {stdio: ['ignore', 'ignore', 'pipe']},
  )
  children.push(child)
  child.log = ''
  child.stderr.on('data', (d) => (child.log += d))
  return child
}

function startHomeops(port, hosts, upstreamPort) {
  const child = spawn(
    process.execPath,
    [cli, 'dns', 'serve', '--port', String(port), '--bind', '127.0.0.1', '--http-listen', 'off', '--no-docker'],
    {
      env: {
        ...process.env,
        HOMEOPS_CONFIG: join(dir, 'config.yaml'),
        HOMEOPS_DB_PATH: join(dir, `state-${port}.db`),
        HOSTS_DIRECTORY: hosts,
        HOSTIP: '10.0.0.1',
        DNS_IPV6: 'false',
        ...(upstreamPort ? {DNS_UPSTREAMS: `127.0.0.1:${upstreamPort}`} : {}),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  )
  children.push(child)
  child.log = ''
  child.stderr.on('data', (d) => (child.log += d))
  return child
}

writeFileSync(join(dir, 'config.yaml'), 'dns:\n  docker: false\n')
const upstreamPort = await freePort()
const homeopsPort = await freePort([upstreamPort])
const dnsmasqPort = await freePort([upstreamPort, homeopsPort])
// The upstream: long TTLs, so both caches stay warm for the whole run.
const upstream = startDnsmasq(upstreamPort, [
  `--addn-hosts=${join(dir, 'upstream-hosts')}`,
  '--local-ttl=86400',
  '--local=/remote.test/',
])
const homeops = startHomeops(homeopsPort, hostsDir, upstreamPort)
const dnsmasq = startDnsmasq(dnsmasqPort, [
  `--addn-hosts=${join(hostsDir, 'bench')}`,
  `--addn-hosts=${join(hostsDir, 'blocklist')}`,
  `--server=127.0.0.1#${upstreamPort}`,
  '--cache-size=10000',
  '--dns-forward-max=150',
])
try {
  await waitFor(upstreamPort, 'www7.remote.test', '10.88.0.7', 'the upstream dnsmasq')
  await waitFor(homeopsPort, 'host7.bench.lan', '10.77.0.7', 'homeops dns serve')
  // The start-up line arrives through a pipe: give the event loop a moment to read it.
  for (let i = 0; i < 50 && !/udpPath=/.test(homeops.log); i++) await new Promise((r) => setTimeout(r, 100))
  if (!/udpPath=native/.test(homeops.log))
    throw new Error('homeops is not on its native answerer: this would measure the full path')
  await waitFor(dnsmasqPort, 'host7.bench.lan', '10.77.0.7', 'dnsmasq')
} catch (error) {
  console.error(String(error.message), '\n', homeops.log, dnsmasq.log, upstream.log)
  process.exit(1)
}

// Warm-up: every forwarded name cached by both, JIT warm; not measured.
for (const port of [homeopsPort, dnsmasqPort]) {
  for (const file of [files.forwarded, files.mix, files.owned]) dnsperf(port, file, 2)
}

const servers = {homeops: {port: homeopsPort, pid: homeops.pid}, dnsmasq: {port: dnsmasqPort, pid: dnsmasq.pid}}
const workloads = ['owned', 'forwarded', 'mix']
const results = {}
for (const w of workloads) results[w] = {homeops: [], dnsmasq: []}
const load = []
for (let round = 0; round < ROUNDS; round++) {
  for (const w of workloads) {
    const order = round % 2 === 0 ? ['homeops', 'dnsmasq'] : ['dnsmasq', 'homeops']
    for (const who of order) {
      load.push(loadavg()[0])
      const before = cpuSeconds(servers[who].pid)
      const run = dnsperf(servers[who].port, files[w], SECONDS)
      run.cpuUsPerQuery = ((cpuSeconds(servers[who].pid) - before) * 1e6) / run.completed
      results[w][who].push(run)
    }
  }
}

const summary = (runs) => {
  const sorted = [...runs].sort((a, b) => a.qps - b.qps)
  const median = sorted[Math.floor((sorted.length - 1) / 2)]
  return {
    qps: Math.round(median.qps),
    lost: runs.reduce((n, r) => n + r.lost, 0),
    latencyMs: Number(median.latencyMs.toFixed(3)),
    cpuUsPerQuery: Number((runs.reduce((n, r) => n + r.cpuUsPerQuery, 0) / runs.length).toFixed(2)),
    runs: runs.map((r) => Math.round(r.qps)),
  }
}
const goals = {owned: 1.3, forwarded: 1.0, mix: 1.0}
const table = {}
for (const w of workloads) {
  const h = summary(results[w].homeops)
  const d = summary(results[w].dnsmasq)
  const ratio = Number((h.qps / d.qps).toFixed(2))
  table[w] = {homeops: h, dnsmasq: d, ratio, goal: goals[w], met: ratio >= goals[w] && h.lost === 0}
}
stop(homeops)
stop(dnsmasq)

// A 1 000 000-line blocklist: time to answer its last name and peak RSS, homeops and dnsmasq.
let million = null
if (MILLION) {
  const bigDir = join(dir, 'million')
  mkdirSync(bigDir)
  chmodSync(bigDir, 0o755)
  const file = join(bigDir, 'blocklist')
  writeFileSync(file, '')
  const chunk = []
  for (let i = 0; i < 1_000_000; i++) {
    chunk.push(`0.0.0.0 ad${i}.tracker${i % 5000}.example${i % 3}.com`)
    if (chunk.length === 100_000) {
      appendFileSync(file, chunk.join('\n') + '\n')
      chunk.length = 0
    }
  }
  chmodSync(file, 0o644)
  const last = 'ad999999.tracker4999.example0.com'
  const measure = async (start, what) => {
    const port = await freePort([upstreamPort])
    const started = performance.now()
    const child = start(port)
    await waitFor(port, last, '0.0.0.0', what, 1200)
    const ms = Math.round(performance.now() - started)
    const rss = peakRssMb(child.pid)
    const before = cpuSeconds(child.pid)
    const run = dnsperf(port, files.blocked ?? writeBlocked(), 4)
    const cpu = ((cpuSeconds(child.pid) - before) * 1e6) / run.completed
    stop(child)
    return {
      readyMs: ms,
      peakRssMb: rss,
      qps: Math.round(run.qps),
      lost: run.lost,
      cpuUsPerQuery: Number(cpu.toFixed(2)),
    }
  }
  const writeBlocked = () => {
    files.blocked = join(dir, 'q-million')
    const names = []
    for (let i = 0; i < 1000; i++) names.push(`ad${i * 997}.tracker${(i * 997) % 5000}.example${(i * 997) % 3}.com A`)
    writeFileSync(files.blocked, names.join('\n') + '\n')
    return files.blocked
  }
  million = {
    homeops: await measure((port) => startHomeops(port, bigDir), 'homeops with 1 000 000 lines'),
    dnsmasq: await measure((port) => startDnsmasq(port, [`--addn-hosts=${file}`]), 'dnsmasq with 1 000 000 lines'),
  }
}

const pad = (text, n) => String(text).padEnd(n)
const avgLoad = (load.reduce((a, b) => a + b, 0) / load.length).toFixed(2)
console.log(
  `dns: ${NAMES} names per set, dnsperf -l ${SECONDS} -c ${CLIENTS} -q ${OUTSTANDING}, ${ROUNDS} rounds (median), loopback, ` +
    `load average during the runs ${avgLoad} (${load.map((l) => l.toFixed(1)).join(' ')})`,
)
console.log(
  `${pad('workload', 11)}${pad('server', 9)}${pad('qps', 9)}${pad('lost', 6)}${pad('latency', 11)}${pad('CPU/query', 12)}runs`,
)
for (const w of workloads) {
  for (const who of ['homeops', 'dnsmasq']) {
    const r = table[w][who]
    console.log(
      `${pad(who === 'homeops' ? w : '', 11)}${pad(who, 9)}${pad(r.qps, 9)}${pad(r.lost, 6)}${pad(r.latencyMs + ' ms', 11)}${pad(r.cpuUsPerQuery + ' µs', 12)}${r.runs.join(' ')}`,
    )
  }
  const t = table[w]
  console.log(`${pad('', 11)}ratio ${t.ratio}× (goal ≥ ${t.goal} with none lost: ${t.met ? 'met' : 'NOT met'})`)
}
if (million) {
  for (const who of ['homeops', 'dnsmasq']) {
    const m = million[who]
    console.log(
      `1 000 000-line blocklist, ${pad(who, 8)} answering after ${m.readyMs} ms, peak RSS ${m.peakRssMb} MB, ` +
        `${m.qps} qps on its names (lost ${m.lost}, ${m.cpuUsPerQuery} µs CPU/query)`,
    )
  }
}
console.log(JSON.stringify({bench: 'dns', loadAverage: Number(avgLoad), workloads: table, million}))
// The exit handler stops the upstream and removes the files; the children's pipes would keep us alive.
process.exit(workloads.every((w) => table[w].met) ? 0 : 1)
