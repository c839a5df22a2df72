import {type ChildProcess, spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {connect} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {TransientError} from '../../../src/lib/errors.js'
import {type UpdateNotice, digestTitleFor, toNotice, workloadEntity} from '../../../src/lib/images/notice.js'
import type {Digest} from '../../../src/lib/notify/message.js'
import {createNotifier} from '../../../src/lib/notify/notifiers.js'
import {freePort} from '../../support/free-port.js'

/**
 * The notifiers that speak a protocol of their own, against real servers from Debian started here on
 * loopback: mosquitto (MQTT) and aiosmtpd (SMTP, python3-aiosmtpd). Stopped by pid.
 */
const dir = mkdtempSync(join(tmpdir(), 'hotest-images-notify-'))
const children: ChildProcess[] = []

async function waitForPort(port: number, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 15_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode} before listening`)
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    if (Date.now() > deadline) throw new Error(`${what} did not listen on 127.0.0.1:${port} within 15 s`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

function start(program: string, args: string[]): ChildProcess {
  if (!existsSync(program)) throw new Error(`${program} is missing: run scripts/testenv.sh start (it installs it)`)
  const child = spawn(program, args, {stdio: ['ignore', 'ignore', 'pipe']})
  children.push(child)
  return child
}

let mqttPort: number
let smtpPort: number
const maildir = join(dir, 'Maildir')

beforeAll(async () => {
  mqttPort = await freePort()
  const conf = join(dir, 'mosquitto.conf')
  writeFileSync(conf, `listener ${mqttPort} 127.0.0.1\nallow_anonymous true\npersistence false\n`)
  const broker = start('/usr/sbin/mosquitto', ['-c', conf])
  smtpPort = await freePort()
  const smtp = start('/usr/bin/python3', [
    '-m',
    'aiosmtpd',
    '-n',
    '-l',
    `127.0.0.1:${smtpPort}`,
    '-c',
    'aiosmtpd.handlers.Mailbox',
    maildir,
  ])
  await Promise.all([waitForPort(mqttPort, broker, 'mosquitto'), waitForPort(smtpPort, smtp, 'aiosmtpd')])
})

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))])
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }
  rmSync(dir, {recursive: true, force: true})
})

const update: UpdateNotice = {
  event: 'update_available',
  workload: 'web',
  kind: 'container',
  image: 'ghcr.io/org/app',
  currentVersion: '1.2.3',
  newVersion: '2.0.0',
  releaseNotesUrl: 'https://github.com/org/app/releases/tag/v2.0.0',
  host: 'nas',
}
const digest = (...updates: UpdateNotice[]): Digest => ({
  title: digestTitleFor(updates.length, 'nas'),
  notices: updates.map(toNotice),
  host: 'nas',
})

describe('email through a real SMTP server (aiosmtpd)', () => {
  it('delivers one digest mail with subject, recipients, text and HTML parts', async () => {
    await createNotifier({
      type: 'email',
      url: `smtp://127.0.0.1:${smtpPort}`,
      from: 'homeops@nas.lan',
      to: ['me@example.org', 'ops@example.org'],
    }).send(digest(update, {...update, workload: 'db', newVersion: '1.3.0'}))
    const files = readdirSync(join(maildir, 'new'))
    expect(files).toHaveLength(1)
    const mail = readFileSync(join(maildir, 'new', files[0]!), 'utf8')
    expect(mail).toMatch(/^Subject: 2 image updates on nas$/m)
    expect(mail).toMatch(/^To: me@example.org, ops@example.org$/m)
    expect(mail).toMatch(/^From: homeops@nas.lan$/m)
    expect(mail).toContain('multipart/alternative')
    expect(mail).toContain('Update available for db: 1.2.3 =E2=86=92 1.3.0')
  })

  it('reports a mail server that is not there as temporary', async () => {
    const port = await freePort()
    const error = await createNotifier(
      {type: 'email', url: `smtp://127.0.0.1:${port}`, to: ['me@example.org']},
      {timeoutMs: 2000},
    )
      .send(digest(update))
      .catch((e) => e)
    expect(error).toBeInstanceOf(TransientError)
  })
})

describe('MQTT with Home Assistant discovery through a real broker (mosquitto)', () => {
  it('publishes a retained update entity per workload and a notification per digest', async () => {
    const notifier = createNotifier({type: 'mqtt', url: `mqtt://127.0.0.1:${mqttPort}`})
    const entities = [
      workloadEntity({
        workload: 'web',
        image: 'ghcr.io/org/app',
        currentTag: '1.2.3',
        currentDigest: null,
        update: {type: 'version', tag: '2.0.0'},
        releaseUrl: 'https://example.org/notes',
      }),
      workloadEntity({
        workload: 'cache.1',
        image: 'redis',
        currentTag: '7.2',
        currentDigest: 'sha256:' + 'a'.repeat(64),
        update: null,
        releaseUrl: null,
      }),
    ]
    await notifier.publishState!('images', entities, 'nas')

    // A new subscriber gets the retained discovery configs and states, as Home Assistant would at start.
    const mqtt = await import('mqtt')
    const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {reconnectPeriod: 0})
    const got = new Map<string, string>()
    sub.on('message', (topic, payload) => got.set(topic, payload.toString()))
    await sub.subscribeAsync(['homeassistant/#', 'homeops/#'])
    const deadline = Date.now() + 5000
    while (got.size < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))

    const config = JSON.parse(got.get('homeassistant/update/homeops_nas/homeops_nas_images_web/config')!)
    expect(config).toMatchObject({
      name: 'web',
      unique_id: 'homeops_nas_images_web',
      state_topic: 'homeops/nas/images/web/state',
      device: {identifiers: ['homeops_nas'], name: 'homeops on nas'},
    })
    expect(JSON.parse(got.get('homeops/nas/images/web/state')!)).toEqual({
      installed_version: '1.2.3',
      latest_version: '2.0.0',
      title: 'ghcr.io/org/app',
      release_url: 'https://example.org/notes',
    })
    expect(JSON.parse(got.get('homeops/nas/images/cache_1/state')!)).toMatchObject({
      installed_version: '7.2',
      latest_version: '7.2',
    })

    await notifier.send(digest(update))
    while (!got.has('homeops/nas/notification') && Date.now() < deadline + 5000)
      await new Promise((r) => setTimeout(r, 50))
    expect(JSON.parse(got.get('homeops/nas/notification')!)).toMatchObject({
      title: 'Update available for web: 1.2.3 → 2.0.0',
      notices: [{event: 'update_available', workload: 'web', newVersion: '2.0.0'}],
    })
    await sub.endAsync()
  })

  it('removes the entity of a workload that is gone (empty retained config), and nothing else', async () => {
    const notifier = createNotifier({type: 'mqtt', url: `mqtt://127.0.0.1:${mqttPort}`, topic: 'gone-test'})
    const entity = (workload: string) =>
      workloadEntity({workload, image: 'app', currentTag: '1', currentDigest: null, update: null, releaseUrl: null})
    await notifier.publishState!('images', [entity('a'), entity('b')], 'box')
    await notifier.publishState!('images', [entity('a')], 'box')
    const mqtt = await import('mqtt')
    const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {reconnectPeriod: 0})
    const got = new Map<string, string>()
    sub.on('message', (topic, payload) => got.set(topic, payload.toString()))
    await sub.subscribeAsync(['homeassistant/update/homeops_box/#', 'gone-test/#'])
    await new Promise((r) => setTimeout(r, 500))
    await sub.endAsync()
    expect([...got.keys()].sort()).toEqual([
      'gone-test/box/images/a/state',
      'gone-test/box/images/entities',
      'homeassistant/update/homeops_box/homeops_box_images_a/config',
    ])
    expect(JSON.parse(got.get('gone-test/box/images/entities')!)).toEqual([
      {config: 'homeassistant/update/homeops_box/homeops_box_images_a/config', state: 'gone-test/box/images/a/state'},
    ])
  })

  it('reports a broker that is not there as temporary', async () => {
    const port = await freePort()
    const error = await createNotifier({type: 'mqtt', url: `mqtt://127.0.0.1:${port}`}, {timeoutMs: 2000})
      .send(digest(update))
      .catch((e) => e)
    expect(error).toBeInstanceOf(TransientError)
    expect(error.message).toContain('cannot connect to the MQTT broker')
  })
})
