import {afterEach, describe, expect, it} from 'vitest'

import {runPass} from '../../../src/lib/ddns/updater.js'
import {type SeenRequest, startApi, startDyndns2, startEcho} from './fakes.js'
import {ddnsContext} from './harness.js'

const V4 = '84.16.66.10'
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!()
})

async function setup(password = 'pass-word-1', server?: string) {
  const provider = await startDyndns2()
  const source = await startEcho(V4)
  const hook = await startApi(() => ({status: 200, body: 'ok'}))
  cleanups.push(
    () => provider.close(),
    () => source.close(),
    () => hook.close(),
  )
  const yaml = `ddns:
  ipSources: {v4: ['${source.url}']}
  notifyAfterFailures: 2
  notifiers: [{type: webhook, url: '${hook.url}/hook'}]
  records:
    - {name: home, provider: dyndns2, hostname: home.example.org, username: user, password: ${password}, server: '${server ?? provider.url}'}
`
  let dbPath: string | undefined
  const run = async () => {
    const harness = await ddnsContext({yaml, dbPath, env: {DDNS_RETRY_BACKOFF: '0', DDNS_MAX_RETRIES: '0'}})
    dbPath = harness.dbPath
    try {
      return await runPass(harness.context)
    } finally {
      await harness.context.close()
    }
  }
  const posted = () => hook.requests.map((r: SeenRequest) => JSON.parse(r.body!) as Record<string, unknown>)
  return {provider, source, hook, run, posted}
}

describe('ddns notifications (through the notifier layer)', () => {
  it('notifies when the address changes, not when it stays', async () => {
    const {source, run, posted} = await setup()
    await run()
    await run()
    source.answer = '84.16.66.77'
    await run()
    expect(posted().map((p) => [p.event, p.subject, p.previousIp, p.ip, p.level])).toEqual([
      ['address_changed', 'home (IPv4)', null, V4, 'success'],
      ['address_changed', 'home (IPv4)', V4, '84.16.66.77', 'success'],
    ])
    expect(posted()[1]!.title).toBe('home.example.org now points at 84.16.66.77')
  })

  it('notifies once when a record gets blocked, not on the runs it stays blocked', async () => {
    const {run, posted} = await setup('wrong-password')
    await run()
    await run()
    expect(posted()).toHaveLength(1)
    expect(posted()[0]).toMatchObject({
      event: 'record_blocked',
      subject: 'home (IPv4)',
      level: 'error',
      result: 'badauth',
      title: 'home.example.org is blocked: badauth',
    })
    expect(JSON.stringify(posted())).not.toContain('wrong-password')
  })

  it('notifies once when a record has failed notifyAfterFailures runs in a row', async () => {
    const {run, posted} = await setup('pass-word-1', 'http://127.0.0.1:9')
    await run()
    expect(posted()).toHaveLength(0)
    await run()
    await run()
    expect(posted().map((p) => [p.event, p.failures, p.result])).toEqual([['record_failing', 2, 'unreachable']])
    expect(posted()[0]!.title).toBe('home.example.org has failed 2 runs in a row')
  })

  it('keeps the outcome of the run when a notifier is down', async () => {
    const provider = await startDyndns2()
    const source = await startEcho(V4)
    cleanups.push(
      () => provider.close(),
      () => source.close(),
    )
    const harness = await ddnsContext({
      yaml: `ddns:
  ipSources: {v4: ['${source.url}']}
  notifiers: [{type: webhook, url: 'http://127.0.0.1:9/hook'}]
  records: [{name: home, provider: dyndns2, hostname: home.example.org, username: user, password: pass-word-1, server: '${provider.url}'}]
`,
    })
    try {
      const report = await runPass(harness.context)
      expect(report.exitCode).toBe(0)
      expect(harness.logs.join('')).toMatch(/notification failed/)
    } finally {
      await harness.context.close()
    }
  })
})
