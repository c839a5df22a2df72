import {afterEach, describe, expect, it} from 'vitest'

import {createApplyToken, linkKey} from '../../../src/lib/images/links.js'
import {createImagesMode} from '../../../src/lib/images/mode.js'
import {type ServeHandle, startServe} from '../../../src/lib/serve/app.js'
import {captureLogs, configFrom, fakeContext} from '../serve/fakes.js'

const handles: ServeHandle[] = []
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.stop(1000)))
})

async function serveImages(yaml: string) {
  const {config} = configFrom(yaml)
  const logs = captureLogs()
  const context = await fakeContext(config, logs.logger)
  const handle = await startServe(context, {
    listen: '127.0.0.1:0',
    accessLog: false,
    loadMode: async (name) => {
      if (name !== 'images') throw new Error(`lib/${name}/mode.js is not part of this build`)
      return createImagesMode()
    },
  })
  handles.push(handle)
  return {handle, context}
}

describe('images mode inside homeops serve', () => {
  it('lets apply links through without the API key, but still checks the token', async () => {
    const {handle, context} = await serveImages('serve:\n  apiKey: k3y-for-writes-0123\nimages:\n  enabled: true\n')
    const db = await context.state()
    const expired = createApplyToken(linkKey(db), 'web', '1.2.0', 1000, Date.now() - 60_000).token
    const page = await fetch(`${handle.url}/images/apply?token=${expired}`)
    expect(page.status).toBe(410)
    expect(await page.text()).toContain('this link expired')
    const forged = createApplyToken(Buffer.alloc(32, 3), 'web', '1.2.0', 60_000).token
    const post = await fetch(`${handle.url}/images/apply`, {
      method: 'POST',
      headers: {'content-type': 'application/x-www-form-urlencoded'},
      body: `token=${forged}`,
    })
    expect(post.status).toBe(403)
    expect(await post.text()).toContain('bad signature')
    const status = await fetch(`${handle.url}/images/status`)
    expect(status.status).toBe(200)
    expect(await status.json()).toMatchObject({running: false, lastRunAt: null, results: []})
  })

  it('keeps the network allow-list on apply links', async () => {
    const {handle} = await serveImages('serve:\n  allowedIps: [10.0.0.0/8]\nimages:\n  enabled: true\n')
    const page = await fetch(`${handle.url}/images/apply?token=x.y`)
    expect(page.status).toBe(403)
  })

  it('refuses an invalid cron schedule at start, naming it', async () => {
    const mode = createImagesMode({schedule: 'every day'})
    const {config} = configFrom('')
    const context = await fakeContext(config, captureLogs().logger)
    const {MetricsRegistry} = await import('../../../src/lib/metrics/registry.js')
    await expect(
      mode.start({context, metrics: new MetricsRegistry(), signal: context.signal, crashed: () => undefined}),
    ).rejects.toThrow('images.schedule "every day" is not a cron expression')
    await context.close()
  })

  it('schedules the next check from the cron expression', async () => {
    const {nextRun} = await import('../../../src/lib/images/schedule.js')
    const from = new Date('2026-01-01T10:07:00Z')
    const next = await nextRun('0 */6 * * *', 3600, from)
    // Cron runs in local time: the next multiple of 6 hours, on the hour.
    expect(next.getTime()).toBeGreaterThan(from.getTime())
    expect(next.getTime() - from.getTime()).toBeLessThanOrEqual(6 * 3_600_000)
    expect([next.getMinutes(), next.getSeconds(), next.getHours() % 6]).toEqual([0, 0, 0])
    expect((await nextRun(undefined, 600, from)).toISOString()).toBe('2026-01-01T10:17:00.000Z')
  })
})
