import {describe, expect, it} from 'vitest'

import type {ModeStatus} from '../../../src/lib/serve/supervisor.js'
import {SystemdStatus} from '../../../src/lib/serve/systemd-status.js'
import {FakeClock} from '../../support/fake-clock.js'

function mode(name: string, up: boolean, lastError?: string): ModeStatus {
  return {name, state: up ? 'up' : 'backoff', up, since: '', restarts: 0, failures: 0, lastError}
}

function notifier(socket: string | undefined) {
  const sent: string[] = []
  return {
    sent,
    socket,
    status: async (text: string) => void sent.push(`STATUS=${text}`),
    ready: async (text?: string) => void sent.push(`READY STATUS=${text}`),
  }
}

describe('systemd STATUS= line', () => {
  it('coalesces changes within 100 ms into one line and does not repeat an unchanged one', async () => {
    const clock = new FakeClock()
    let modes = [mode('dns', true), mode('ddns', true)]
    const n = notifier('/run/systemd/notify')
    const status = new SystemdStatus(n, () => modes, clock)
    await status.ready()
    modes = [mode('dns', false, 'bind EADDRINUSE'), mode('ddns', true)]
    status.changed()
    status.changed()
    await clock.advance(99)
    expect(n.sent).toEqual(['READY STATUS=2/2 modes up'])
    await clock.advance(1)
    expect(n.sent.at(-1)).toBe('STATUS=1/2 modes up; down: dns (bind EADDRINUSE)')
    status.changed()
    await clock.advance(100)
    expect(n.sent).toHaveLength(2)
  })

  it('sends nothing outside systemd, and nothing after cancel', async () => {
    const clock = new FakeClock()
    const outside = notifier(undefined)
    new SystemdStatus(outside, () => [mode('dns', true)], clock).changed()
    await clock.advance(1000)
    expect(outside.sent).toEqual([])
    const n = notifier('/run/systemd/notify')
    const status = new SystemdStatus(n, () => [mode('dns', true)], clock)
    status.changed()
    status.cancel()
    await clock.advance(1000)
    expect(n.sent).toEqual([])
    expect(clock.pending).toBe(0)
  })
})
