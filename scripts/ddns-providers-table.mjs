#!/usr/bin/env node
// Regenerates the ddns provider table in docs/ddns.md from the provider registry. Run through tsx (npm run docs),
// which loads the TypeScript sources. test/unit/ddns/provider-table.test.ts fails when the page is out of date.
import {readFileSync, writeFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

const page = fileURLToPath(new URL('../docs/ddns.md', import.meta.url))
const {withProviderTable} = await import('../src/lib/ddns/providers/table.ts')
const current = readFileSync(page, 'utf8')
const next = withProviderTable(current)
if (next !== current) {
  writeFileSync(page, next)
  console.log(`updated ${page}: ddns provider table`)
}
