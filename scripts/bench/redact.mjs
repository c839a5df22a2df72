#!/usr/bin/env node
// Benchmark of secret redaction on the paths every run takes: a log line through the Logger and a
// `--json` report through redactDeep. Reported as ratios against the same work with no secret
// registered, measured in the same run (targets: a log line ≤ 2× with the config's secrets,
// ≤ 4× with the set full of registry tokens; a 500-container `--json` report ≤ 8× JSON.stringify
// alone: one scan of its ~150 kB, about a millisecond, once per command run).
// Usage: node scripts/bench/redact.mjs [--seconds S]   (needs `npm run build` first)
import {randomBytes} from 'node:crypto'

const {Logger} = await import('../../dist/lib/log/logger.js')
const {registerSecret, redact, redactDeep, clearSecrets, MAX_SECRETS} = await import('../../dist/lib/log/redact.js')

const secondsFlag = process.argv.indexOf('--seconds')
const SECONDS = secondsFlag > 0 ? Number(process.argv[secondsFlag + 1]) : 1

/** Operations per second of fn, over about SECONDS (at most 5 million calls). */
function rate(fn) {
  for (let i = 0; i < 2000; i++) fn(i)
  let calls = 0
  const start = performance.now()
  const end = start + SECONDS * 1000
  while (performance.now() < end && calls < 5_000_000) {
    for (let i = 0; i < 500; i++) fn(calls + i)
    calls += 500
  }
  return calls / ((performance.now() - start) / 1000)
}

const sink = {write: () => true}
const logger = new Logger({format: 'text', sink, now: () => new Date(0)})
const line = (i) =>
  logger.info('image checked', {
    workload: `web-${i % 50}`,
    image: 'ghcr.io/example/app:1.2.3',
    digest: `sha256:${'0123456789abcdef'.repeat(4)}`,
    result: 'up_to_date',
    error: i % 10 === 0 ? 'registry answered 401 "unauthorized: authentication required"' : undefined,
  })
const report = {
  containers: Array.from({length: 500}, (_, i) => ({
    name: `container-${i}`,
    image: `registry.example.lan/team/app-${i % 20}:1.${i % 7}.0`,
    status: 'running',
    update: i % 3 === 0 ? 'update_available' : 'up_to_date',
    cpu: 1.5,
    memory: 123456789,
    labels: {'com.docker.compose.project': 'home', 'homeops.images.mode': 'NOTIFICATION'},
  })),
}
// What HomeopsCommand.logJson does: the text once, scanned; the value rewritten only if a secret is in it.
const json = () => JSON.stringify(report, null, 2)
const jsonRedacted = () => {
  const text = JSON.stringify(report, null, 2)
  return redact(text) === text ? text : JSON.stringify(redactDeep(report), null, 2)
}

clearSecrets()
const bare = {line: rate(line), json: rate(json)}

for (const s of [
  'ddns-password-Grüße',
  'serve-api-key-0123456789abcdef',
  'ghp_0123456789abcdefghijklmnopqrstuvwx',
  'openai-key-sk-abcdef0123456789',
  'nfs "secret"\nvalue',
])
  registerSecret(s, {pinned: true})
const config = {line: rate(line), json: rate(jsonRedacted)}

for (let i = 0; i < MAX_SECRETS; i++) registerSecret(randomBytes(600).toString('base64url'), {ttlMs: 300_000})
const full = {line: rate(line), json: rate(jsonRedacted)}
clearSecrets()

const fmt = (n) => `${Math.round(n).toLocaleString('en')}/s`
const ratio = (a, b) => a / b
const rows = [
  ['log line', 'no secret', fmt(bare.line), '1.00×'],
  ['log line', '5 config secrets', fmt(config.line), `${ratio(bare.line, config.line).toFixed(2)}×`],
  ['log line', `full set (${MAX_SECRETS} tokens + 5)`, fmt(full.line), `${ratio(bare.line, full.line).toFixed(2)}×`],
  ['--json report (500 containers)', 'JSON.stringify only', fmt(bare.json), '1.00×'],
  [
    '--json report (500 containers)',
    '5 config secrets',
    fmt(config.json),
    `${ratio(bare.json, config.json).toFixed(2)}×`,
  ],
  ['--json report (500 containers)', `full set`, fmt(full.json), `${ratio(bare.json, full.json).toFixed(2)}×`],
]
console.log(
  `--json report: ${(1000 / full.json).toFixed(2)} ms with the full set, ${(1000 / bare.json).toFixed(2)} ms to serialise`,
)
for (const row of rows) console.log(row[0].padEnd(32), row[1].padEnd(30), row[2].padStart(14), row[3].padStart(8))

const checks = [
  ['log line, config secrets ≤ 2×', ratio(bare.line, config.line) <= 2],
  ['log line, full set ≤ 4×', ratio(bare.line, full.line) <= 4],
  ['--json, full set ≤ 8×', ratio(bare.json, full.json) <= 8],
]
let failed = 0
for (const [name, ok] of checks) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}`)
  if (!ok) failed++
}
process.exit(failed ? 1 : 0)
