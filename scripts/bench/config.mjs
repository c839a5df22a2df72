#!/usr/bin/env node
// Benchmark of loading a large config file (issue 19: the YAML library's own duplicate-key check
// made 1 MB take 29 s, and a SIGHUP reload stalled `serve` for seconds).
// Targets, as ratios against references measured in the same run (median of N):
//   - loadConfig(1 MB) ≤ 3× a bare YAML parse of the same text (the linear duplicate check,
//     alias bound and schema validation cost little on top of parsing);
//   - loadConfig(2 MB) ≤ 3× loadConfig(1 MB) (linear is 2×, quadratic 4×).
// Usage: node scripts/bench/config.mjs [--runs N]   (needs `npm run build` first)
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

const runsFlag = process.argv.indexOf('--runs')
const RUNS = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 7
const {loadConfig} = await import(new URL('../../dist/lib/config/load.js', import.meta.url).href)
const yaml = createRequire(import.meta.url)('yaml')

const dir = mkdtempSync(join(tmpdir(), 'homeops-bench-config-'))
function config(records) {
  const lines = ['dns:', '  records:']
  for (let i = 0; i < records; i++)
    lines.push(`    host-${i}.home.lan: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)
  const text = lines.join('\n') + '\n'
  const path = join(dir, `c${records}.yaml`)
  writeFileSync(path, text)
  return {path, text}
}

function median(fn) {
  const times = []
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now()
    fn()
    times.push(performance.now() - started)
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]
}

try {
  const env = {XDG_CONFIG_HOME: join(dir, 'none')}
  const one = config(30_000)
  const two = config(60_000)
  const parse = median(() => yaml.parseDocument(one.text, {uniqueKeys: false}).toJS())
  const load1 = median(() => loadConfig({path: one.path, env}))
  const load2 = median(() => loadConfig({path: two.path, env}))
  const overParse = load1 / parse
  const scaling = load2 / load1
  console.log(`config file sizes: ${(one.text.length / 1e6).toFixed(2)} MB, ${(two.text.length / 1e6).toFixed(2)} MB`)
  console.log(`bare YAML parse (1 MB): ${parse.toFixed(0)} ms`)
  console.log(`loadConfig (1 MB): ${load1.toFixed(0)} ms  = ${overParse.toFixed(2)}× the bare parse (target ≤ 3)`)
  console.log(`loadConfig (2 MB): ${load2.toFixed(0)} ms  = ${scaling.toFixed(2)}× the 1 MB load (target ≤ 3)`)
  const ok = overParse <= 3 && scaling <= 3
  console.log(ok ? 'config bench: ok' : 'config bench: FAILED a target')
  process.exitCode = ok ? 0 : 1
} finally {
  rmSync(dir, {recursive: true, force: true})
}
