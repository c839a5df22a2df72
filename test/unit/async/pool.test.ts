import {describe, expect, it} from 'vitest'

import {forEachLimited} from '../../../src/lib/async/pool.js'

/** A run whose end the test decides: resolve(i) / reject(i, error). */
function gated() {
  const started: number[] = []
  const gates = new Map<number, {resolve: () => void; reject: (e: unknown) => void}>()
  const run = (_item: string, index: number) =>
    new Promise<void>((resolve, reject) => {
      started.push(index)
      gates.set(index, {resolve, reject})
    })
  const tick = () => new Promise((r) => setImmediate(r))
  return {started, run, tick, gate: (i: number) => gates.get(i)!}
}

describe('forEachLimited', () => {
  it('keeps at most `limit` runs going, starts them in list order and fills a freed slot at once', async () => {
    const g = gated()
    const done = forEachLimited(['a', 'b', 'c', 'd', 'e'], 2, g.run)
    await g.tick()
    expect(g.started).toEqual([0, 1])
    g.gate(1).resolve()
    await g.tick()
    expect(g.started).toEqual([0, 1, 2])
    for (const i of [0, 2]) g.gate(i).resolve()
    await g.tick()
    expect(g.started).toEqual([0, 1, 2, 3, 4])
    for (const i of [3, 4]) g.gate(i).resolve()
    await expect(done).resolves.toBeUndefined()
  })

  it('after a failure starts nothing new, waits for the runs already going, then rejects with that failure', async () => {
    const g = gated()
    let settled = false
    const done = forEachLimited(['a', 'b', 'c', 'd'], 2, g.run).finally(() => (settled = true))
    done.catch(() => undefined)
    await g.tick()
    g.gate(0).reject(new Error('first'))
    await g.tick()
    expect(g.started).toEqual([0, 1])
    expect(settled).toBe(false) // run 1 is still going
    g.gate(1).reject(new Error('second'))
    await expect(done).rejects.toThrow('first')
    expect(g.started).toEqual([0, 1])
  })

  it('starts nothing once the signal is aborted', async () => {
    const g = gated()
    const stop = new AbortController()
    const done = forEachLimited(['a', 'b', 'c'], 1, g.run, {signal: stop.signal})
    await g.tick()
    stop.abort()
    g.gate(0).resolve()
    await expect(done).resolves.toBeUndefined()
    expect(g.started).toEqual([0])
  })

  it('treats a limit below 1, fractional or NaN as 1, and an empty list as done', async () => {
    for (const limit of [0, -3, 0.5, Number.NaN]) {
      const order: number[] = []
      await forEachLimited([1, 2, 3], limit, async (item) => {
        order.push(item)
        await new Promise((r) => setImmediate(r))
        order.push(-item)
      })
      expect(order).toEqual([1, -1, 2, -2, 3, -3])
    }
    await expect(forEachLimited([], 4, () => Promise.reject(new Error('never')))).resolves.toBeUndefined()
  })
})
