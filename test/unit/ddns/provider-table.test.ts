import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'

import {providerTable} from '../../../src/lib/ddns/providers/table.js'
import {PROVIDERS} from '../../../src/lib/ddns/providers/registry.js'

describe('docs/ddns.md provider table', () => {
  it('is the one generated from the registry (npm run docs)', () => {
    const page = readFileSync(new URL('../../../docs/ddns.md', import.meta.url), 'utf8')
    expect(page).toContain(providerTable())
  })

  it('lists every provider with its keys', () => {
    const table = providerTable()
    for (const p of PROVIDERS) expect(table).toContain(`| \`${p.name}\` |`)
  })
})
