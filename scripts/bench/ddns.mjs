#!/usr/bin/env node
// Benchmark of a no-change `homeops ddns update` (the systemd-timer case):
// requests made (target: 1 detection request per family, 0 provider requests)
// and wall time against `homeops --version` measured in the same run (target ≤ 1.5×, median of N).
// Loopback fakes only: an IPv4 echo on 127.0.0.1, an IPv6 echo on ::1, a dyndns2 server on 127.0.0.1.
// Usage: node scripts/bench/ddns.mjs [--runs N]   (needs `npm run build` first)
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const runsFlag = process.argv.indexOf('--runs')
const RUNS = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 15
const cli = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

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
  const ip = url.searchParams.get('myip')
  const key = `${url.searchParams.get('hostname')}/${ip.includes(':') ? 6 : 4}`
  const same = held.get(key) === ip
  held.set(key, ip)
  res.end(`${same ? 'nochg' : 'good'} ${ip}`)
})

const dir = mkdtempSync(join(tmpdir(), 'homeops-bench-ddns-'))
const env = {
  ...Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('HOMEOPS_') && !k.startsWith('DDNS_')),
  ),
  HOMEOPS_CONFIG: join(dir, 'none.yaml'),
  HOMEOPS_DB_PATH: join(dir, 'homeops.db'),
  INFOMANIAK_DDNS_HOSTNAME: 'home.example.org',
  INFOMANIAK_DDNS_USERNAME: 'bench',
  INFOMANIAK_DDNS_PASSWORD: 'bench-password',
  DDNS_SERVER: `http://127.0.0.1:${provider.address().port}`,
  DDNS_ENABLE_IPV6: 'true',
  DDNS_IP_SOURCES_V4: `http://127.0.0.1:${echo4.address().port}/`,
  DDNS_IP_SOURCES_V6: `http://[::1]:${echo6.address().port}/`,
}
// The default config location must not exist for this benchmark: env only, like a systemd unit with Environment=.
rmSync(env.HOMEOPS_CONFIG, {force: true})
delete env.HOMEOPS_CONFIG

// The CLI runs as a child while our event loop stays free to answer it.
function runAsync(args, extraEnv = {}) {
  const started = process.hrtime.bigint()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: {...env, XDG_CONFIG_HOME: dir, ...extraEnv},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      if (code !== 0) reject(new Error(`homeops ${args.join(' ')} exited ${code}\n${out}`))
      else resolve(ms)
    })
  })
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

try {
  await runAsync(['ddns', 'update']) // first run: sends one update per family
  const firstRun = {...counts}
  counts.v4 = counts.v6 = counts.provider = 0
  await runAsync(['ddns', 'update']) // the no-change case whose requests we count
  const noChange = {...counts}
  await runAsync(['--version']) // warm the file cache
  // The same record from a YAML config file instead of the environment (adds the YAML parser).
  const configFile = join(dir, 'config.yaml')
  writeFileSync(
    configFile,
    `ddns:\n  ipv6: true\n  records:\n    - {name: home.example.org, provider: infomaniak, hostname: home.example.org, username: bench, password: bench-password}\n`,
  )
  const fileEnv = {
    HOMEOPS_CONFIG: configFile,
    INFOMANIAK_DDNS_HOSTNAME: '',
    INFOMANIAK_DDNS_USERNAME: '',
    INFOMANIAK_DDNS_PASSWORD: '',
  }
  const update = []
  const updateFile = []
  const version = []
  for (let i = 0; i < RUNS; i++) {
    version.push(await runAsync(['--version']))
    update.push(await runAsync(['ddns', 'update']))
    updateFile.push(await runAsync(['ddns', 'update'], fileEnv))
  }
  const result = {
    bench: 'ddns',
    runs: RUNS,
    firstRunRequests: {detectionV4: firstRun.v4, detectionV6: firstRun.v6, provider: firstRun.provider},
    noChangeRequests: {detectionV4: noChange.v4, detectionV6: noChange.v6, provider: noChange.provider},
    medianMs: {
      ddnsUpdateNoChange: Math.round(median(update)),
      ddnsUpdateNoChangeConfigFile: Math.round(median(updateFile)),
      version: Math.round(median(version)),
    },
    ratio: Math.round((median(update) / median(version)) * 100) / 100,
    ratioConfigFile: Math.round((median(updateFile) / median(version)) * 100) / 100,
    targets: {detectionPerFamily: 1, provider: 0, ratio: 1.5},
  }
  result.ok =
    noChange.v4 === 1 && noChange.v6 === 1 && noChange.provider === 0 && firstRun.provider === 2 && result.ratio <= 1.5
  console.log(
    `ddns no-change update: ${noChange.v4} IPv4 + ${noChange.v6} IPv6 detection requests, ${noChange.provider} provider requests (first run: ${firstRun.provider})`,
  )
  console.log(
    `ddns no-change update: median ${result.medianMs.ddnsUpdateNoChange} ms vs homeops --version ${result.medianMs.version} ms = ${result.ratio}x (target <= 1.5x, ${RUNS} runs each)`,
  )
  console.log(
    `ddns no-change update, record in a config file: median ${result.medianMs.ddnsUpdateNoChangeConfigFile} ms = ${result.ratioConfigFile}x`,
  )
  console.log(JSON.stringify(result))
  process.exitCode = result.ok ? 0 : 1
} finally {
  for (const s of [echo4, echo6, provider]) s.close()
  rmSync(dir, {recursive: true, force: true})
}
