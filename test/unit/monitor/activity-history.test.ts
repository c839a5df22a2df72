import {describe, expect, it} from 'vitest'

import {ActivityLog} from '../../../src/lib/activity/log.js'
import {LockedError} from '../../../src/lib/errors.js'
import {HISTORY_SAMPLES, MetricHistory} from '../../../src/lib/monitor/metric-history.js'

describe('the shared activity history', () => {
  it('records steps and the outcome of each action, newest first', () => {
    const log = new ActivityLog()
    const first = log.begin('update', 'web', 'web 127.0.0.1')
    first.step('pulling')
    first.step('health check')
    expect(log.list()[0]).toMatchObject({state: 'running', step: 'health check', steps: ['pulling', 'health check']})
    first.finish(false, 'web did not become healthy; rolled back to the previous container')
    log.begin('prune images', 'unused images', 'api 10.0.0.2').finish(true, 'removed 2')
    const [newest, older] = log.list()
    expect(newest).toMatchObject({action: 'prune images', by: 'api 10.0.0.2', state: 'ok'})
    expect(older).toMatchObject({state: 'failed', message: expect.stringContaining('rolled back')})
  })

  it('records an action that found its lock held by another run as skipped, any other error as failed', () => {
    const log = new ActivityLog()
    log.begin('update', 'web', 'command line').fail(new LockedError('another update of web holds the lock', 4242))
    log.begin('update', 'db', 'command line').fail(new Error('pull refused: 401'))
    const [db, web] = log.list()
    expect(web).toMatchObject({state: 'skipped', message: 'another update of web holds the lock'})
    expect(db).toMatchObject({state: 'failed', message: 'pull refused: 401'})
  })

  it('stays bounded however many actions and steps arrive', () => {
    const log = new ActivityLog()
    for (let i = 0; i < 1000; i++) {
      const r = log.begin('update', 'x'.repeat(10_000), 'web')
      for (let s = 0; s < 100; s++) r.step(`step ${s}`)
      r.finish(true, 'y'.repeat(10_000))
    }
    const all = log.list(10_000)
    expect(all).toHaveLength(200)
    expect(all[0]!.target).toHaveLength(200)
    expect(all[0]!.message).toHaveLength(500)
    expect(all[0]!.steps).toHaveLength(20)
  })
})

describe('server-side metric history', () => {
  it('keeps a bounded ring per running container and forgets the ones gone', () => {
    const history = new MetricHistory()
    for (let i = 0; i < HISTORY_SAMPLES + 30; i++) {
      history.record(
        new Map([
          ['a', {cpu: i, mem: i * 2}],
          ['b', {cpu: null, mem: 1}],
        ]),
      )
    }
    expect(history.of('a').cpu).toHaveLength(HISTORY_SAMPLES)
    expect(history.of('a').cpu.at(-1)).toBe(HISTORY_SAMPLES + 29)
    history.record(new Map([['a', {cpu: 1, mem: 1}]]))
    expect(history.of('b').cpu).toEqual([])
  })
})
