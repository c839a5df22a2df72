import {describe, expect, it} from 'vitest'

import {pruneRefusal} from '../../../src/lib/swarm/prune-guard.js'

describe('pruneRefusal', () => {
  const deployed = ['a', 'b', 'c', 'd']

  it('refuses a stacks.yaml that lists nothing while stacks are deployed', () => {
    expect(pruneRefusal({deployed, removing: deployed, listed: 0, maxShare: 1})).toMatch(
      /stacks\.yaml lists no stacks any more, which would remove all 4 deployed .*\(a, b, c, d\)/,
    )
  })

  it('refuses removing more than the share, naming the stacks and the share', () => {
    expect(pruneRefusal({deployed, removing: ['a', 'b', 'c'], listed: 1, maxShare: 0.5})).toMatch(
      /would remove 3 of the 4 stacks .*\(a, b, c\), more than swarm\.pruneMaxShare \(50 %\)/,
    )
  })

  it('lets a share or less go, and always one stack (renaming the only stack)', () => {
    expect(pruneRefusal({deployed, removing: ['a', 'b'], listed: 2, maxShare: 0.5})).toBeUndefined()
    expect(pruneRefusal({deployed: ['a'], removing: ['a'], listed: 1, maxShare: 0.5})).toBeUndefined()
    expect(pruneRefusal({deployed, removing: [], listed: 0, maxShare: 0})).toBeUndefined()
  })

  it('a share of 0 refuses every removal', () => {
    expect(pruneRefusal({deployed, removing: ['a'], listed: 3, maxShare: 0})).toMatch(
      /more than swarm\.pruneMaxShare \(0 %\)/,
    )
  })
})
