import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'

import type {DoctorChecks} from '../../../src/lib/area.js'
import {AREAS} from '../../../src/lib/areas.js'
import {MODES, configSchema} from '../../../src/lib/config/root-schema.js'
import {MODE_TABLE} from '../../../src/lib/serve/modes.js'
import {allMigrations} from '../../../src/lib/state/registry.js'

describe('the list of areas', () => {
  it('gives each area its config section (with `enabled`), its mode and its place on the page', () => {
    expect(MODES).toEqual(AREAS.map((a) => a.name))
    const sections = Object.keys(configSchema.shape)
    for (const area of AREAS) {
      expect(sections, area.name).toContain(area.name)
      expect(Object.keys(area.schema.shape), area.name).toContain('enabled')
      expect(MODE_TABLE[area.name]).toMatchObject({module: `../${area.mode.module}`, title: area.title})
    }
    expect(new Set(AREAS.map((a) => a.mode.page)).size).toBe(AREAS.length)
  })

  it("registers each area's migrations under its own name, once", () => {
    for (const area of AREAS) {
      for (const m of area.migrations) expect(m.area, `${area.name} migration ${m.version}`).toBe(area.name)
      expect(allMigrations.filter((m) => m.area === area.name)).toEqual(area.migrations)
    }
  })

  it('points each doctor module at an export of its checks', async () => {
    for (const area of AREAS) {
      const module = (area.doctor as {module?: string}).module
      if (!module) continue
      const loaded = (await import(`../../../src/lib/${module.replace(/\.js$/, '.ts')}`)) as {
        doctorChecks?: DoctorChecks<unknown>
      }
      expect(loaded.doctorChecks, module).toBeDefined()
      // eslint-disable-next-line @typescript-eslint/unbound-method -- only checked for presence, never called
      const hooks = [loaded.doctorChecks?.host, loaded.doctorChecks?.settings].filter((h) => h !== undefined)
      expect(hooks.length, module).toBeGreaterThan(0)
      for (const hook of hooks) expect(typeof hook, module).toBe('function')
    }
  })

  it('has a command topic for each area (oclif reads topics from package.json, not from code)', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      oclif: {topics: Record<string, {description?: string}>}
    }
    for (const area of AREAS) expect(pkg.oclif.topics[area.name]?.description, area.name).toBeTruthy()
  })
})
