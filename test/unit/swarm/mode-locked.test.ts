import {afterEach, describe, expect, it} from 'vitest'

import {ActivityLog} from '../../../src/lib/activity/log.js'
import type {Context} from '../../../src/lib/context.js'
import type {HttpRequest} from '../../../src/lib/http/router.js'
import {Router} from '../../../src/lib/http/router.js'
import {MetricsRegistry} from '../../../src/lib/metrics/registry.js'
import {createSwarmMode} from '../../../src/lib/swarm/mode.js'
import {captureLogs, configFrom, fakeContext} from '../serve/fakes.js'

const contexts: Context[] = []
afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()))
})

describe('swarm mode: a reconcile asked for while another run holds the lock', () => {
  it('answers 409 "locked" and records the run as skipped, not failed', async () => {
    const logs = captureLogs()
    const context = await fakeContext(configFrom('swarm: {}\n').config, logs.logger)
    contexts.push(context)
    const mode = createSwarmMode({initialDelayMs: 3_600_000})
    const router = new Router()
    mode.routes!(router)
    await mode.start({context, metrics: new MetricsRegistry(), signal: context.signal, crashed: () => {}})
    // What `sudo homeops swarm reconcile` from cron holds while it runs.
    const cron = await context.lock('swarm')
    try {
      const post = router.match('POST', '/reconcile')
      if (post.kind !== 'found') throw new Error('no POST /reconcile')
      const request = {params: {}, remoteAddress: '192.168.1.20'} as unknown as HttpRequest
      await expect(Promise.resolve(post.route.handler(request))).rejects.toMatchObject({
        status: 409,
        body: {error: 'locked'},
      })
      const history = new ActivityLog(await context.state())
      await expect
        .poll(() => history.list(1)[0])
        .toMatchObject({
          action: 'reconcile',
          by: 'Swarm page or API (192.168.1.20)',
          state: 'skipped',
          message: expect.stringMatching(/lock/),
        })
    } finally {
      cron.release()
      await mode.stop()
    }
  })
})
