import {mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {anchors, brokenLinks, linkedPages, slug} from '../../support/markdown-links.js'

const root = join(import.meta.dirname, '../../..')
const pages = [
  join(root, 'README.md'),
  ...readdirSync(join(root, 'docs'))
    .filter((n) => n.endsWith('.md'))
    .map((n) => join(root, 'docs', n)),
]

describe('documentation links', () => {
  it('every relative link and anchor in README.md and docs/*.md resolves', () => {
    expect(brokenLinks(pages, root)).toEqual([])
  })

  it('every page of docs/ is reachable from README.md', () => {
    const reached = new Set<string>()
    const queue = [join(root, 'README.md')]
    while (queue.length > 0) {
      const page = resolve(queue.shift()!)
      if (reached.has(page)) continue
      reached.add(page)
      queue.push(...linkedPages(page).filter((p) => p.startsWith(join(root, 'docs'))))
    }
    expect(pages.map((p) => resolve(p)).filter((p) => !reached.has(p))).toEqual([])
  })
})

describe('the link checker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'homeops-doclinks-'))
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  it('gives headings the anchors GitHub gives them', () => {
    expect(slug('`homeops images history [WORKLOAD]`')).toBe('homeops-images-history-workload')
    expect(slug('`homeops serve`: every mode in one process, one web UI')).toBe(
      'homeops-serve-every-mode-in-one-process-one-web-ui',
    )
    expect(slug('Units and least privilege')).toBe('units-and-least-privilege')
    expect(slug('`homeops ddns update [--force] [--dry-run] [--record NAME…]`')).toBe(
      'homeops-ddns-update---force---dry-run---record-name',
    )
    expect([...anchors('# Files\n## Files\n```\n# not a heading\n```\n## Files\n')]).toEqual([
      'files',
      'files-1',
      'files-2',
    ])
  })

  it('reports a missing page, a missing anchor, and ignores links shown as code or to other sites', () => {
    writeFileSync(join(dir, 'a.md'), '# A\n\n## Second part\n')
    writeFileSync(
      join(dir, 'b.md'),
      [
        '# B',
        '[ok](a.md#second-part) [self](#b) [web](https://example.org/x.md#nope)',
        '[gone](missing.md) [bad anchor](a.md#third-part)',
        '`[code](missing.md)`',
        '```',
        '[fenced](missing.md)',
        '```',
      ].join('\n'),
    )
    expect(brokenLinks([join(dir, 'b.md')], dir)).toEqual([
      {file: 'b.md', line: 3, target: 'missing.md', problem: 'no such file: missing.md'},
      {file: 'b.md', line: 3, target: 'a.md#third-part', problem: 'no heading with anchor #third-part in a.md'},
    ])
  })
})
