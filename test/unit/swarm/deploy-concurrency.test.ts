import {describe, expect, it} from 'vitest'

import {loadConfig} from '../../../src/lib/config/load.js'

describe('swarm.deployConcurrency', () => {
  it('defaults to 8 stacks at once', () => {
    expect(loadConfig({env: {}}).config.swarm.deployConcurrency).toBe(8)
  })

  it('is read from HOMEOPS_SWARM_DEPLOY_CONCURRENCY', () => {
    expect(loadConfig({env: {HOMEOPS_SWARM_DEPLOY_CONCURRENCY: '3'}}).config.swarm.deployConcurrency).toBe(3)
  })

  it.each(['0', '33', '2.5', 'many', '2147483648'])('refuses %s, naming the variable', (value) => {
    expect(() => loadConfig({env: {HOMEOPS_SWARM_DEPLOY_CONCURRENCY: value}})).toThrow(
      /HOMEOPS_SWARM_DEPLOY_CONCURRENCY.*swarm\.deployConcurrency/,
    )
  })
})
