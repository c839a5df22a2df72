import {describe, expect, it} from 'vitest'

import {withDeadline} from '../../../src/lib/time/deadline.js'
import {FakeClock, settle} from '../../support/fake-clock.js'

describe('withDeadline', () => {
  it('gives the work its answer when it comes in time, and leaves no timer behind', async () => {
    const clock = new FakeClock()
    const answer = await withDeadline(Promise.resolve('done'), 1000, () => 'late', {clock})
    expect(answer).toBe('done')
    expect(clock.pending).toBe(0)
  })

  it('answers with the fallback once the time is up, not a moment before', async () => {
    const clock = new FakeClock()
    let result: string | undefined
    void withDeadline(new Promise<string>(() => {}), 1000, () => 'fallback', {clock}).then((r) => (result = r))
    await clock.advance(999)
    expect(result).toBeUndefined()
    await clock.advance(1)
    expect(result).toBe('fallback')
  })

  it('rejects with what the timeout throws, and passes on a failure of the work', async () => {
    const clock = new FakeClock()
    const late = withDeadline(
      new Promise<string>(() => {}),
      2 ** 31 + 10,
      () => {
        throw new Error('took too long')
      },
      {clock},
    )
    const caught = late.catch((error: Error) => error.message)
    await clock.advance(2 ** 31 + 10)
    expect(await caught).toBe('took too long')
    await expect(withDeadline(Promise.reject(new Error('refused')), 10, () => 'x', {clock})).rejects.toThrow('refused')
    await settle()
    expect(clock.pending).toBe(0)
  })
})
