#!/usr/bin/env node
// Regenerates the ddns provider table in README.md from the provider registry (run `npm run build` first).
// test/unit/ddns/provider-table.test.ts fails when the README is out of date.
import {readFileSync, writeFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

const readme = fileURLToPath(new URL('../README.md', import.meta.url))
const {withProviderTable} = await import('../dist/lib/ddns/providers/table.js')
writeFileSync(readme, withProviderTable(readFileSync(readme, 'utf8')))
console.log('README.md: ddns provider table updated')
