import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

import {AREAS} from '../../../src/lib/areas.js'
import {
  findCycles,
  importGraph,
  importsOf,
  loadedWith,
  packagesLoadedBy,
  upwardImports,
} from '../../support/import-graph.js'

const src = fileURLToPath(new URL('../../../src', import.meta.url))
const groups = AREAS.map((a) => a.name)
const graph = importGraph(src)

describe('the import graph of src/', () => {
  it('reads the imports of every module', () => {
    // A sanity floor: a parser that found nothing would pass every rule below.
    expect(graph.length).toBeGreaterThan(500)
    expect(graph).toContainEqual({from: 'lib/areas.ts', to: 'lib/ddns/area.ts', typeOnly: false, dynamic: false})
    expect(graph.some((e) => e.dynamic && e.from === 'commands/ddns/update.ts')).toBe(true)
  })

  it('has no cycle, types included', () => {
    expect(findCycles(graph)).toEqual([])
  })

  it('has no import up the structure: the core reaches a group only through lib/areas.ts', () => {
    expect(upwardImports(graph, groups)).toEqual([])
  })

  it('keeps the list of areas cheap: no mode, no doctor check, no heavy package loads with it', () => {
    // Every command that reads the config loads lib/areas.ts (the lean `ddns update` bundle too).
    const loaded = [...loadedWith(graph, 'lib/areas.ts')]
    expect(loaded.filter((f) => /\/(mode|doctor|server|service|watcher|reconcile)\.ts$/.test(f))).toEqual([])
    const heavy = ['dockerode', 'undici', 'dns2', 'better-sqlite3', 'simple-git', 'execa', 'listr2', 'ora', 'semver']
    const packages = loaded.flatMap((f) => packagesLoadedBy(f, readFileSync(join(src, f), 'utf8')))
    expect(packages.filter((p) => heavy.includes(p) || p === 'yaml')).toEqual([])
  })
})

describe('the checks themselves', () => {
  const edges = [
    ...importsOf('lib/http/router.ts', "import type {AccessPolicy} from './access.js'"),
    ...importsOf('lib/http/access.ts', "import {HttpError} from './router.js'"),
    ...importsOf('lib/a.ts', "export async function f() { return import('./b.js') }"),
    ...importsOf('lib/b.ts', "import {f} from './a.js'"),
  ]

  it('finds a cycle through a type import, and none through import()', () => {
    expect(findCycles(edges)).toEqual(['lib/http/access.ts > lib/http/router.ts > lib/http/access.ts'])
  })

  it('finds a core module importing a group, and lets the list of areas import area.ts only', () => {
    const found = upwardImports(
      [
        ...importsOf('lib/config/root-schema.ts', "import {ddnsSchema} from '../ddns/config.js'"),
        ...importsOf('lib/doctor/checks.ts', "const m = () => import('../dns/native.js')"),
        ...importsOf('lib/areas.ts', "import {ddnsArea} from './ddns/area.js'\nimport {x} from './ddns/mode.js'"),
        ...importsOf('lib/images/watcher.ts', "import type {Row} from '../swarm/store.js'"),
        ...importsOf('commands/ddns/update.ts', "const u = () => import('../../lib/ddns/updater.js')"),
        ...importsOf('lib/ui/terminal.ts', "import {x} from '../../cli/homeops-command.js'"),
      ],
      ['ddns', 'dns', 'swarm', 'images'],
    )
    expect(found).toEqual([
      'lib/config/root-schema.ts -> lib/ddns/config.ts',
      'lib/doctor/checks.ts -> lib/dns/native.ts (import())',
      'lib/areas.ts -> lib/ddns/mode.ts',
      'lib/ui/terminal.ts -> cli/homeops-command.ts',
    ])
  })
})
