import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it, vi} from 'vitest'

import {Logger} from '../../../src/lib/log/logger.js'
import {createNotifier, type Notifier} from '../../../src/lib/systemd/notify.js'
import {type FakeSystemd, startFakeSystemd} from './fake-systemd.js'

const started: {stop(): Promise<void>}[] = []
const notifiers: Notifier[] = []
const dirs: string[] = []
afterEach(async () => {
  await Promise.all(notifiers.splice(0).map((n) => n.close()))
  await Promise.all(started.splice(0).map((s) => s.stop()))
  for (const dir of dirs.splice(0)) rmSync(dir, {recursive: true, force: true})
})

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.push(dir)
  return dir
}

function logCapture() {
  const lines: string[] = []
  return {lines, logger: new Logger({level: 'debug', format: 'text', sink: {write: (l: string) => lines.push(l)}})}
}

async function fakeSystemd(abstract = false): Promise<FakeSystemd> {
  const address = abstract
    ? `@homeops-test-notify-${process.pid}-${Math.random().toString(36).slice(2)}`
    : join(tempDir('homeops-hn-'), 'notify.sock')
  const fake = await startFakeSystemd(address)
  started.push(fake)
  return fake
}

describe.each(['systemd-notify', 'python3'] as const)('systemd notifications through %s', (helper) => {
  it('delivers READY=1 with MAINPID and STATUS, then STOPPING=1, in order, to a path socket', async () => {
    const fake = await fakeSystemd()
    const env: NodeJS.ProcessEnv = {...process.env, NOTIFY_SOCKET: fake.address, HOMEOPS_NOTIFY_HELPER: helper}
    const {logger, lines} = logCapture()
    const notifier = createNotifier({logger, env})
    notifiers.push(notifier)
    expect(notifier.helper).toBe(helper)
    // children of homeops must not inherit the socket
    expect(env.NOTIFY_SOCKET).toBeUndefined()

    await notifier.ready('3/3 modes up')
    await notifier.stopping()
    const ready = await fake.waitFor((m) => m.fields.READY === '1')
    expect(ready.fields).toMatchObject({MAINPID: String(process.pid), STATUS: '3/3 modes up'})
    // systemd attributes a message by its sender: systemd-notify --pid (as root) sends on our behalf;
    // the python3 helper is a long-lived child in the same cgroup (NotifyAccess=all).
    if (helper === 'systemd-notify') expect(ready.pid).toBe(process.pid)
    else expect(ready.pid).not.toBeNull()
    const stopping = await fake.waitFor((m) => m.fields.STOPPING === '1')
    expect(fake.messages.indexOf(stopping)).toBeGreaterThan(fake.messages.indexOf(ready))
    expect(lines.filter((l) => / (warn|error) /.test(l))).toEqual([])
  })

  it('reaches an abstract socket (@name) and sends RELOADING=1 with MONOTONIC_USEC', async () => {
    const fake = await fakeSystemd(true)
    const notifier = createNotifier({
      logger: logCapture().logger,
      env: {...process.env, NOTIFY_SOCKET: fake.address, HOMEOPS_NOTIFY_HELPER: helper},
    })
    notifiers.push(notifier)
    await notifier.reloading()
    await notifier.ready()
    const reloading = await fake.waitFor((m) => m.fields.RELOADING === '1')
    const monotonic = BigInt(reloading.fields.MONOTONIC_USEC!)
    expect(monotonic).toBeGreaterThan(0n)
    expect(monotonic).toBeLessThanOrEqual(process.hrtime.bigint() / 1000n)
    await fake.waitFor((m) => m.fields.READY === '1')
  })
})

describe('systemd watchdog and fallbacks', () => {
  it('pings WATCHDOG=1 at half of WATCHDOG_USEC', async () => {
    const fake = await fakeSystemd()
    const notifier = createNotifier({
      logger: logCapture().logger,
      env: {...process.env, NOTIFY_SOCKET: fake.address, WATCHDOG_USEC: '600000', HOMEOPS_NOTIFY_HELPER: 'python3'},
    })
    notifiers.push(notifier)
    expect(notifier.watchdogIntervalMs).toBe(300)
    // The watchdog's interval runs on the fake clock; the messages and the socket stay real.
    vi.useFakeTimers({toFake: ['setInterval', 'clearInterval', 'Date']})
    let took: number
    try {
      const before = Date.now()
      notifier.startWatchdog()
      await vi.advanceTimersByTimeAsync(900)
      await fake.waitFor((m) => m.fields.WATCHDOG === '1' && fake.messages.filter((x) => x.fields.WATCHDOG).length >= 3)
      took = Date.now() - before
    } finally {
      vi.useRealTimers()
    }
    expect(took).toBeGreaterThanOrEqual(850)
    expect(took).toBeLessThan(5000)
  })

  it('ignores a watchdog meant for another process (WATCHDOG_PID)', () => {
    const notifier = createNotifier({
      logger: logCapture().logger,
      env: {NOTIFY_SOCKET: '/nonexistent', WATCHDOG_USEC: '1000000', WATCHDOG_PID: '1', HOMEOPS_NOTIFY_HELPER: 'none'},
    })
    expect(notifier.watchdogIntervalMs).toBeUndefined()
  })

  it('does nothing without NOTIFY_SOCKET', async () => {
    const notifier = createNotifier({logger: logCapture().logger, env: {PATH: process.env.PATH}})
    expect(notifier.socket).toBeUndefined()
    await notifier.ready('x')
    notifier.startWatchdog()
    await notifier.close()
  })

  it('warns once, and keeps running, when no helper can send', async () => {
    const {logger, lines} = logCapture()
    const notifier = createNotifier({
      logger,
      env: {NOTIFY_SOCKET: '/run/x.sock', PATH: tempDir('homeops-e-')},
    })
    expect(notifier.helper).toBeUndefined()
    await notifier.ready()
    expect(lines.filter((l) => l.includes('neither systemd-notify nor python3'))).toHaveLength(1)
  })

  it('logs a warning, not a crash, when the socket is gone', async () => {
    const {logger, lines} = logCapture()
    const notifier = createNotifier({
      logger,
      env: {
        ...process.env,
        NOTIFY_SOCKET: join(tmpdir(), 'no-such-dir-x', 'sock'),
        HOMEOPS_NOTIFY_HELPER: 'systemd-notify',
      },
    })
    notifiers.push(notifier)
    await notifier.ready()
    await notifier.status('still here')
    expect(lines.filter((l) => / warn systemd-notify failed/.test(l))).toHaveLength(1)
  })
})
