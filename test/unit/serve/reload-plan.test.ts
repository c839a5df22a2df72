import {describe, expect, it} from 'vitest'

import {planReload} from '../../../src/lib/serve/reload.js'
import {configFrom} from './fakes.js'

const base = 'serve:\n  listen: 127.0.0.1:8080\n  apiKey: k3y-for-writes-0123\n'

function plan(before: string, after: string, running: string[], wanted: string[], listenFlag = false) {
  return planReload({
    previous: configFrom(base + before).config,
    next: configFrom(after.startsWith('serve:') ? after : base + after).config,
    running: running as never,
    wanted: wanted as never,
    listenFlag,
    listening: 'http://127.0.0.1:8080',
  })
}

describe('reload plan', () => {
  it('restarts only the modes whose settings changed, removes the disabled ones, adds the new ones', () => {
    const decided = plan(
      'ddns:\n  intervalSeconds: 300\ndns:\n  port: 5353\n',
      'ddns:\n  intervalSeconds: 600\ndns:\n  port: 5353\n',
      ['ddns', 'dns', 'swarm'],
      ['images', 'ddns', 'dns'],
    )
    expect(decided).toEqual({plan: {remove: ['swarm'], restart: ['ddns'], add: ['images'], needsRestart: []}})
  })

  it('restarts every running mode when the shared registries changed', () => {
    const decided = plan(
      '',
      'registries:\n  - host: registry.example.org\n    username: u\n    password: p4ssw0rd-long\n',
      ['ddns', 'dns'],
      ['ddns', 'dns'],
    )
    expect('plan' in decided && decided.plan.restart).toEqual(['ddns', 'dns'])
  })

  it('says what needs a restart of the process instead of pretending to apply it', () => {
    const decided = plan(
      'log:\n  level: info\n',
      'serve:\n  listen: 127.0.0.1:9090\n  apiKey: k3y-for-writes-0123\nlog:\n  level: debug\n',
      ['dns'],
      ['dns'],
    )
    if (!('plan' in decided)) throw new Error('refused')
    expect(decided.plan.needsRestart.map((n) => n.message)).toEqual([
      'serve.listen changed: restart homeops to listen on the new address',
      'log settings changed: restart homeops to apply them',
    ])
    const withFlag = plan(
      '',
      'serve:\n  listen: 127.0.0.1:9090\n  apiKey: k3y-for-writes-0123\n',
      ['dns'],
      ['dns'],
      true,
    )
    expect('plan' in withFlag && withFlag.plan.needsRestart).toEqual([])
  })

  it('refuses a file that would stop every mode or drop the key, and touches nothing', () => {
    expect(plan('', '', ['ddns', 'dns'], [])).toEqual({
      refusal: expect.objectContaining({reason: 'the new configuration enables no mode: it would stop ddns, dns'}),
    })
    expect(plan('', 'serve:\n  listen: 127.0.0.1:8080\n', ['dns'], ['dns'])).toEqual({
      refusal: expect.objectContaining({hint: expect.stringContaining('serve.allowNoApiKey')}),
    })
  })
})
