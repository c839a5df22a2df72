#!/usr/bin/env node
// Writes the table of every environment variable, generated from the config schema, into docs/environment.md
// (between its markers). `--check` exits 1 instead of writing when the committed table is out of date.
// Run through tsx (npm run docs), which loads the TypeScript sources.
import {readFileSync, writeFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

const {withEnvTable} = await import('../src/lib/config/env-docs.ts')
const file = fileURLToPath(new URL('../docs/environment.md', import.meta.url))
const current = readFileSync(file, 'utf8')
const next = withEnvTable(current)
if (process.argv.includes('--check')) {
  if (next !== current) {
    console.error(`${file} is out of date: run npm run docs`)
    process.exit(1)
  }
} else if (next !== current) {
  writeFileSync(file, next)
  console.log(`updated ${file}`)
}
