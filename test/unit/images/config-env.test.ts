import {describe, expect, it} from 'vitest'

import {loadConfig} from '../../../src/lib/config/load.js'

const load = (env: Record<string, string>) =>
  loadConfig({
    env: {XDG_CONFIG_HOME: '/nonexistent/homeops-test', HOME: '/nonexistent/homeops-test', ...env},
    isRoot: false,
  }).config

describe('images env variables', () => {
  it('reads HOMEOPS_IMAGES_<KEY> as docs/images.md spells it and in snake case', () => {
    expect(load({HOMEOPS_IMAGES_CONCURRENCYPERREGISTRY: '16'}).images.concurrencyPerRegistry).toBe(16)
    expect(load({HOMEOPS_IMAGES_CONCURRENCY_PER_REGISTRY: '24'}).images.concurrencyPerRegistry).toBe(24)
    expect(load({HOMEOPS_IMAGES_REQUESTTIMEOUTSECONDS: '7'}).images.requestTimeoutSeconds).toBe(7)
    expect(load({HOMEOPS_IMAGES_WATCHBYDEFAULT: 'false'}).images.watchByDefault).toBe(false)
    expect(load({RUN_ON_BOOT: 'true'}).images.runOnBoot).toBe(true)
    expect(load({}).images.concurrencyPerRegistry).toBe(128)
  })
})
