#!/usr/bin/env node
// Bundles the lean `ddns update` entry (dist/cli/lean-ddns-update.js and every project module it reaches)
// into one CommonJS file, dist/lean/ddns-update.cjs: one file to load instead of ~40 saves about a fifth of the
// CPU of an unchanged timer run (scripts/bench/ddns.mjs). CommonJS so that bin/homeops.cjs, the installed
// command, runs it without booting Node's ES module loader (~5 ms of every run); bin/run.js requires the same
// file. npm packages stay external (better-sqlite3 is native, yaml loads only with a config file), except chalk:
// resolving it and its two subpath imports through node_modules as ES modules cost ~7 ms of CPU per run, more
// than its code (16 KB) costs to parse here.
// Runs after tsc in `npm run build`.
import {build} from 'esbuild'
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const {dependencies} = JSON.parse(readFileSync(`${root}package.json`, 'utf8'))
const bundled = new Set(['chalk'])
await build({
  entryPoints: [`${root}dist/cli/lean-ddns-update.js`],
  outfile: `${root}dist/lean/ddns-update.cjs`,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  // The modules resolve files next to themselves (config/load.ts: yaml; state/database.ts: better-sqlite3).
  define: {'import.meta.url': 'importMetaUrl'},
  banner: {js: "'use strict'\nconst importMetaUrl = require('node:url').pathToFileURL(__filename).href;"},
  target: 'node20',
  external: Object.keys(dependencies).filter((name) => !bundled.has(name)),
  logLevel: 'warning',
})
