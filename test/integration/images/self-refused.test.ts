import {afterAll, describe, expect, it} from 'vitest'

import {updateContainer} from '../../../src/lib/images/apply.js'
import {recordUpdate, updateHistory} from '../../../src/lib/images/history.js'
import {createRegistryClient} from '../../../src/lib/images/watcher.js'
import {Cleanup, appImage, docker, monitorContext, runContainer, silent, uniqueName} from '../monitor/harness.js'

const d = docker()
const cleanup = new Cleanup(d)

afterAll(() => cleanup.run(), 120_000)

describe('images update of the container homeops runs in', () => {
  it('is recorded as refused, and the container is left exactly as it was', async () => {
    const name = uniqueName('self')
    const container = await runContainer(d, cleanup, {name, Image: appImage('1.0.0')})
    const before = await d.getContainer(name).inspect()
    const context = await monitorContext(cleanup)
    const client = createRegistryClient(context)
    try {
      const outcome = await updateContainer(
        {docker: d, client, logger: silent, self: {ids: [container.id], hostname: 'not-a-hex-name'}},
        name,
        {tag: '1.1.0'},
        'manual',
      )
      expect(outcome.result).toBe('refused')
      expect(outcome.error).toContain('homeops itself runs in this container')
      const db = await context.state()
      recordUpdate(db, {...outcome, at: new Date().toISOString()})
      expect(updateHistory(db, {workload: name}).map((r) => r.result)).toEqual(['refused'])
    } finally {
      await client.close()
      await context.close()
    }
    const after = await d.getContainer(name).inspect()
    expect(after.Id).toBe(before.Id)
    expect(after.Name).toBe(`/${name}`)
    expect(after.Config.Image).toBe(appImage('1.0.0'))
    expect(after.State.Running).toBe(true)
    expect(after.State.StartedAt).toBe(before.State.StartedAt)
  })
})
