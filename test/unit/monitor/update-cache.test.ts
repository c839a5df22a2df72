import {describe, expect, it} from 'vitest'

import {UpdateCache} from '../../../src/lib/monitor/update-cache.js'

function setup(ttlMs = 15 * 60_000) {
  let now = 1_000_000
  const calls: string[] = []
  let status: 'up_to_date' | 'update_available' = 'up_to_date'
  let release: (() => void) | undefined
  let gate: Promise<void> | undefined
  const cache = new UpdateCache({
    ttlMs,
    now: () => now,
    check: async (image) => {
      calls.push(image)
      if (gate) await gate
      return {status, remoteDigest: 'sha256:' + 'a'.repeat(64)}
    },
  })
  return {
    cache,
    calls,
    advance: (ms: number) => (now += ms),
    setStatus: (s: typeof status) => (status = s),
    hold: () => {
      gate = new Promise<void>((r) => (release = r))
    },
    release: () => {
      gate = undefined
      release?.()
    },
  }
}

const digests = async () => ['repo@sha256:' + 'a'.repeat(64)]

describe('UpdateCache', () => {
  it('asks the registry once and serves the answer from memory', async () => {
    const t = setup()
    await t.cache.get('nginx:1', 'id1', digests)
    await t.cache.get('nginx:1', 'id1', digests)
    expect(t.calls).toEqual(['nginx:1'])
  })

  it('refreshes on force at most once a minute per image, however often it is polled', async () => {
    const t = setup()
    await t.cache.get('nginx:1', 'id1', digests)
    for (let i = 0; i < 7; i++) {
      t.advance(10_000)
      await t.cache.get('nginx:1', 'id1', digests, {force: true})
    }
    expect(t.calls).toHaveLength(2) // the first, then once after 60 s
    t.advance(40_000)
    t.setStatus('update_available')
    expect((await t.cache.get('nginx:1', 'id1', digests, {force: true})).status).toBe('up_to_date')
    t.advance(11_000)
    expect((await t.cache.get('nginx:1', 'id1', digests, {force: true})).status).toBe('update_available')
  })

  it('serves a stale entry while refreshing it in the background', async () => {
    const t = setup(60_000)
    await t.cache.get('nginx:1', 'id1', digests)
    t.advance(61_000)
    t.setStatus('update_available')
    t.hold()
    expect((await t.cache.get('nginx:1', 'id1', digests)).status).toBe('up_to_date')
    t.release()
    await new Promise((r) => setTimeout(r, 0))
    expect((await t.cache.get('nginx:1', 'id1', digests)).status).toBe('update_available')
  })

  it('shares one registry request between concurrent callers', async () => {
    const t = setup()
    t.hold()
    const all = Promise.all([1, 2, 3].map(() => t.cache.get('nginx:1', 'id1', digests)))
    t.release()
    await all
    expect(t.calls).toHaveLength(1)
  })

  it('keys by local image, and forgets an image on invalidate', async () => {
    const t = setup()
    await t.cache.get('nginx:1', 'id1', digests)
    await t.cache.get('nginx:1', 'id2', digests)
    expect(t.calls).toHaveLength(2)
    t.cache.invalidate('nginx:1')
    expect(t.cache.peek('nginx:1', 'id1')).toBeUndefined()
  })
})
