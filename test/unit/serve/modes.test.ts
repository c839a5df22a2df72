import {describe, expect, it} from 'vitest'

import {MODES} from '../../../src/lib/config/root-schema.js'
import {MODE_TABLE, loadMode, modeLoader} from '../../../src/lib/serve/modes.js'

const fixture = (name: string) => new URL(`fixtures/${name}`, import.meta.url).href

describe('the mode table', () => {
  it('names a module and factory for every mode, and each loads into a ServiceMode of that name', async () => {
    expect(Object.keys(MODE_TABLE).sort()).toEqual([...MODES].sort())
    for (const name of MODES) {
      const mode = await loadMode(name)
      expect(mode.name, `${MODE_TABLE[name].module} ${MODE_TABLE[name].factory}()`).toBe(name)
      expect(typeof mode.health).toBe('function')
    }
  })

  it('explains a missing module, a broken one, a missing factory and a factory that returns something else', async () => {
    const load = modeLoader({
      ...MODE_TABLE,
      ddns: {module: fixture('missing.mjs'), factory: 'createDdnsMode'},
      images: {module: fixture('no-factory.mjs'), factory: 'createImagesMode'},
      dns: {module: fixture('broken-import.mjs'), factory: 'createDnsMode'},
      swarm: {module: fixture('bad-factory.mjs'), factory: 'createSwarmMode'},
    })
    await expect(load('ddns')).rejects.toThrow(/fixtures\/missing\.mjs/)
    await expect(load('images')).rejects.toThrow(/no-factory\.mjs does not export createImagesMode\(\)/)
    await expect(load('dns')).rejects.toThrow(/cannot load .*broken-import\.mjs: .*does-not-exist/)
    await expect(load('swarm')).rejects.toThrow(
      /createSwarmMode\(\) of .*bad-factory\.mjs did not return a ServiceMode/,
    )
  })
})
