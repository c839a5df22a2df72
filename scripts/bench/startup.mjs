#!/usr/bin/env node
// Start-up time of homeops against a bare oclif CLI with one command (within 1.3×: docs/architecture.md
// "Conventions every command follows").
//
// Builds the bare CLI in a temporary directory (plain ESM JavaScript, an oclif manifest made by the
// repository's own `oclif manifest`, node_modules linked to the repository's, so both use the same
// @oclif/core), then times cold starts of both, interleaved: `--version`, and `--help` of one command
// (`ddns update`, else `config validate`, else the root help). Prints a table and the ratios of the
// medians, writes test-results/bench-startup.json, and exits 1 when a ratio exceeds the target.
//
//   node scripts/bench/startup.mjs [--rounds N] [--warmups N] [--target R]
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  if (i === -1) return fallback
  const value = Number(process.argv[i + 1])
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} needs a positive number`)
  return value
}

const rounds = Math.min(option('rounds', 20), 500)
const warmups = Math.min(option('warmups', 3), 50)
const target = option('target', 1.3)

function fail(message) {
  console.error(`bench startup: ${message}`)
  process.exit(2)
}

// --- the repository's CLI ---------------------------------------------------

const homeopsBin = join(repoRoot, 'bin', 'run.js')
const manifestFile = join(repoRoot, 'oclif.manifest.json')
if (!existsSync(join(repoRoot, 'dist')) || !existsSync(manifestFile)) {
  fail('dist/ or oclif.manifest.json is missing: run `npm run build` first')
}
const oclifBin = join(repoRoot, 'node_modules', '.bin', 'oclif')
if (!existsSync(oclifBin)) fail('node_modules/.bin/oclif is missing: run `npm ci` first')

const commandIds = Object.keys(JSON.parse(readFileSync(manifestFile, 'utf8')).commands ?? {})
const helpArgs = commandIds.includes('ddns:update')
  ? ['ddns', 'update', '--help']
  : commandIds.includes('config:validate')
    ? ['config', 'validate', '--help']
    : ['--help']

// --- the bare CLI ------------------------------------------------------------

const bareDir = mkdtempSync(join(tmpdir(), 'homeops-bench-bare-'))
process.on('exit', () => rmSync(bareDir, {recursive: true, force: true}))

const files = {
  'package.json': JSON.stringify(
    {
      name: 'bare',
      version: '1.0.0',
      type: 'module',
      bin: {bare: './bin/run.js'},
      files: ['bin', 'commands', 'oclif.manifest.json'],
      oclif: {bin: 'bare', dirname: 'bare', commands: './commands', topicSeparator: ' '},
    },
    null,
    2,
  ),
  'bin/run.js': "#!/usr/bin/env node\nimport {execute} from '@oclif/core'\n\nawait execute({dir: import.meta.url})\n",
  'commands/hello.js': [
    "import {Command, Flags} from '@oclif/core'",
    '',
    'export default class Hello extends Command {',
    "  static summary = 'Say hello'",
    "  static examples = ['<%= config.bin %> <%= command.id %> --name world']",
    "  static flags = {name: Flags.string({description: 'who to greet', default: 'world'})}",
    '',
    '  async run() {',
    '    const {flags} = await this.parse(Hello)',
    '    this.log(`hello ${flags.name}`)',
    '  }',
    '}',
    '',
  ].join('\n'),
}
for (const [name, text] of Object.entries(files)) {
  mkdirSync(join(bareDir, name, '..'), {recursive: true})
  writeFileSync(join(bareDir, name), text)
}
symlinkSync(join(repoRoot, 'node_modules'), join(bareDir, 'node_modules'), 'dir')
const manifest = spawnSync(oclifBin, ['manifest'], {
  cwd: bareDir,
  encoding: 'utf8',
  env: {...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true'},
})
if (manifest.status !== 0 || !existsSync(join(bareDir, 'oclif.manifest.json'))) {
  fail(`oclif manifest failed for the bare CLI: ${manifest.stderr || manifest.error?.message}`)
}
const bareBin = join(bareDir, 'bin', 'run.js')

// --- timing ------------------------------------------------------------------

const env = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !k.startsWith('HOMEOPS_') && !['DEBUG', 'NODE_OPTIONS'].includes(k)),
)

function once(bin, args) {
  const start = process.hrtime.bigint()
  const r = spawnSync(process.execPath, [bin, ...args], {env, encoding: 'utf8', timeout: 30_000})
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (r.status !== 0 || !r.stdout.trim()) {
    fail(`${bin} ${args.join(' ')} exited ${r.status ?? r.signal}: ${(r.stderr || r.error?.message || '').trim()}`)
  }
  return ms
}

const pairs = [
  {name: '--version', bare: ['--version'], homeops: ['--version']},
  {name: 'command --help', bare: ['hello', '--help'], homeops: helpArgs},
]

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b)
  const rank = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]
  return {median: rank(0.5), p90: rank(0.9), min: s[0], max: s.at(-1)}
}

const results = []
for (const pair of pairs) {
  const samples = {bare: [], homeops: []}
  for (let i = 0; i < warmups; i++) {
    once(bareBin, pair.bare)
    once(homeopsBin, pair.homeops)
  }
  for (let i = 0; i < rounds; i++) {
    // Alternate which goes first, so neither always runs on a warmer cache.
    const order = i % 2 === 0 ? ['bare', 'homeops'] : ['homeops', 'bare']
    for (const which of order) {
      samples[which].push(once(which === 'bare' ? bareBin : homeopsBin, pair[which]))
    }
  }
  const bare = stats(samples.bare)
  const homeops = stats(samples.homeops)
  results.push({
    name: pair.name,
    bare: {args: pair.bare, ...bare},
    homeops: {args: pair.homeops, ...homeops},
    ratio: homeops.median / bare.median,
  })
}

// --- report ------------------------------------------------------------------

const ms = (n) => `${n.toFixed(1)} ms`
const rows = [['case', 'median', 'p90', 'min', 'max']]
for (const r of results) {
  rows.push([`bare ${r.bare.args.join(' ')}`, ms(r.bare.median), ms(r.bare.p90), ms(r.bare.min), ms(r.bare.max)])
  rows.push([
    `homeops ${r.homeops.args.join(' ')}`,
    ms(r.homeops.median),
    ms(r.homeops.p90),
    ms(r.homeops.min),
    ms(r.homeops.max),
  ])
}
const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)))
console.log(`start-up, ${rounds} interleaved rounds after ${warmups} warm-ups, node ${process.version}`)
for (const row of rows)
  console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '))
let ok = true
for (const r of results) {
  const pass = r.ratio <= target
  ok &&= pass
  console.log(`ratio ${r.name}: ${r.ratio.toFixed(2)} (target ≤ ${target}) ${pass ? 'ok' : 'TOO SLOW'}`)
}

mkdirSync(join(repoRoot, 'test-results'), {recursive: true})
writeFileSync(
  join(repoRoot, 'test-results', 'bench-startup.json'),
  JSON.stringify(
    {bench: 'startup', date: new Date().toISOString(), node: process.version, rounds, warmups, target, ok, results},
    null,
    2,
  ) + '\n',
)
process.exitCode = ok ? 0 : 1
