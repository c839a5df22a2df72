import {type IncomingMessage, type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

import {afterEach, describe, expect, it} from 'vitest'

import {Logger} from '../../../src/lib/log/logger.js'
import {type UpdateNotice, digestTitleFor, toNotice} from '../../../src/lib/images/notice.js'
import type {Digest} from '../../../src/lib/notify/message.js'
import {createNotifier, deliver} from '../../../src/lib/notify/notifiers.js'

interface Received {
  method: string
  path: string
  headers: IncomingMessage['headers']
  body: string
}

let servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  servers = []
})

/** A loopback receiver answering like the real service. */
async function receiver(status = 200, answer = '{}'): Promise<{url: string; got: Received[]}> {
  const got: Received[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      got.push({method: req.method!, path: req.url!, headers: req.headers, body})
      res.writeHead(status, {'content-type': 'application/json'}).end(answer)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  return {url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got}
}

const update: UpdateNotice = {
  event: 'update_available',
  workload: 'web',
  kind: 'service',
  image: 'ghcr.io/org/app',
  currentVersion: '1.2.3',
  newVersion: '1.3.0',
  releaseNotesUrl: 'https://github.com/org/app/releases/tag/v1.3.0',
  summary: '- Fixes a security issue',
  applyUrl: 'https://homelab.example/images/apply?token=abc.def',
  applyExpiresAt: '2026-11-29T12:00:00.000Z',
  host: 'nas',
}
const notice = update
const one = (u: UpdateNotice = update): Digest => ({
  title: digestTitleFor(1, 'nas'),
  notices: [toNotice(u)],
  host: 'nas',
})

const silent = new Logger({level: 'error', sink: {write: () => true}})

describe('webhook', () => {
  it('POSTs one JSON document with every field and the bearer token', async () => {
    const {url, got} = await receiver()
    await createNotifier({type: 'webhook', url: `${url}/hook`, token: 'tok-secret'}).send(one())
    expect(got).toHaveLength(1)
    expect(got[0]!.method).toBe('POST')
    expect(got[0]!.path).toBe('/hook')
    expect(got[0]!.headers['content-type']).toBe('application/json')
    expect(got[0]!.headers.authorization).toBe('Bearer tok-secret')
    const body = JSON.parse(got[0]!.body)
    expect(body).toMatchObject({
      source: 'homeops',
      event: 'update_available',
      title: 'Update available for web: 1.2.3 → 1.3.0',
      workload: 'web',
      kind: 'service',
      image: 'ghcr.io/org/app',
      currentVersion: '1.2.3',
      newVersion: '1.3.0',
      releaseNotesUrl: notice.releaseNotesUrl,
      summary: notice.summary,
      applyUrl: notice.applyUrl,
      host: 'nas',
    })
    expect(body.message).toContain('Release notes: https://github.com/org/app/releases/tag/v1.3.0')
  })
})

describe('ntfy', () => {
  it('publishes JSON to the server root with topic, title, click and view actions', async () => {
    const {url, got} = await receiver(200, '{"id":"x","event":"message"}')
    await createNotifier({type: 'ntfy', url, topic: 'homelab', token: 'tk_abc123'}).send(one())
    expect(got[0]!.path).toBe('/')
    expect(got[0]!.headers.authorization).toBe('Bearer tk_abc123')
    const body = JSON.parse(got[0]!.body)
    expect(body.topic).toBe('homelab')
    expect(body.title).toBe('Update available for web: 1.2.3 → 1.3.0')
    expect(body.click).toBe(notice.releaseNotesUrl)
    expect(body.priority).toBe(3)
    expect(body.tags).toEqual(['package'])
    expect(body.actions).toEqual([
      {action: 'view', label: 'Release notes', url: notice.releaseNotesUrl},
      {action: 'view', label: 'Apply update', url: notice.applyUrl, clear: true},
    ])
    expect(body.message).toContain('1.2.3 → 1.3.0')
    expect(body.message).not.toContain('token=')
  })
  it('refuses a notifier without topic', async () => {
    const {url} = await receiver()
    await expect(createNotifier({type: 'ntfy', url}).send(one())).rejects.toThrow('topic is not set')
  })
})

describe('gotify', () => {
  it('POSTs /message with X-Gotify-Key, markdown extras and a click URL', async () => {
    const {url, got} = await receiver(200, '{"id":1}')
    await createNotifier({type: 'gotify', url: `${url}/`, token: 'AppToken.123'}).send(one())
    expect(got[0]!.path).toBe('/message')
    expect(got[0]!.headers['x-gotify-key']).toBe('AppToken.123')
    const body = JSON.parse(got[0]!.body)
    expect(body.title).toBe('Update available for web: 1.2.3 → 1.3.0')
    expect(body.priority).toBe(5)
    expect(body.extras['client::display']).toEqual({contentType: 'text/markdown'})
    expect(body.extras['client::notification']).toEqual({click: {url: notice.applyUrl}})
    expect(body.message).toContain(`[Release notes](${notice.releaseNotesUrl})`)
  })
})

describe('discord', () => {
  it('POSTs an embed within Discord limits and waits for the message', async () => {
    const {url, got} = await receiver(200, '{"id":"1"}')
    await createNotifier({type: 'discord', url: `${url}/api/webhooks/1/abc`}).send(
      one({...update, summary: 'x'.repeat(5000)}),
    )
    expect(got[0]!.path).toBe('/api/webhooks/1/abc?wait=true')
    const body = JSON.parse(got[0]!.body)
    expect(body.username).toBe('homeops')
    const [embed] = body.embeds
    expect(embed.title).toBe('Update available for web: 1.2.3 → 1.3.0')
    expect(embed.url).toBe(notice.releaseNotesUrl)
    expect(embed.description.length).toBeLessThanOrEqual(4096)
    expect(embed.color).toBe(0xf0b400)
    expect(embed.fields.map((f: {name: string}) => f.name)).toEqual(['Current', 'New', 'Service', 'Apply'])
    expect(embed.fields[3].value).toContain(notice.applyUrl)
    expect(new Date(embed.timestamp).getTime()).toBeGreaterThan(0)
  })
})

describe('slack', () => {
  it('POSTs Block Kit with a text fallback and link buttons', async () => {
    const {url, got} = await receiver(200, 'ok')
    await createNotifier({type: 'slack', url: `${url}/services/T/B/X`}).send(one({...update, workload: 'a<b>&c'}))
    const body = JSON.parse(got[0]!.body)
    expect(body.text).toBe('Update available for a<b>&c: 1.2.3 → 1.3.0')
    expect(body.blocks[0]).toEqual({type: 'header', text: {type: 'plain_text', text: body.text}})
    expect(body.blocks[1].type).toBe('section')
    expect(body.blocks[1].text.type).toBe('mrkdwn')
    expect(body.blocks[1].text.text).toContain('a&lt;b&gt;&amp;c')
    expect(body.blocks[2].elements.map((e: {url: string}) => e.url)).toEqual([notice.releaseNotesUrl, notice.applyUrl])
  })
})

describe('deliver', () => {
  it('delivers to the working notifiers when one fails, and names the failing one without its URL', async () => {
    const ok = await receiver()
    const broken = await receiver(404, '{"message":"Unknown Webhook"}')
    const {reports, outcomes} = await deliver(
      [
        createNotifier({type: 'webhook', url: ok.url}),
        createNotifier({type: 'discord', url: `${broken.url}/api/webhooks/1/secret-part`, name: 'team'}),
      ],
      [toNotice(update)],
      {logger: silent, title: (n) => digestTitleFor(n)},
    )
    expect(reports[0]).toEqual({notifier: 'webhook notifier', ok: true, sent: 1})
    expect(reports[1]!.ok).toBe(false)
    expect(reports[1]!.error).toContain('notifier team: the service answered HTTP 404')
    expect(reports[1]!.error).not.toContain('secret-part')
    expect(outcomes).toEqual([{delivered: 1, failed: 1}])
    expect(ok.got).toHaveLength(1)
    expect(broken.got).toHaveLength(1) // 4xx: not retried
  })
  it('retries a 5xx once', async () => {
    const flaky = await receiver(503)
    const {reports} = await deliver([createNotifier({type: 'webhook', url: flaky.url})], [toNotice(update)], {
      logger: silent,
      title: (n) => digestTitleFor(n),
    })
    expect(reports[0]!.ok).toBe(false)
    expect(flaky.got).toHaveLength(2)
  })

  const updates = [
    toNotice({...update, workload: 'patchy', currentVersion: '1.2.3', newVersion: '1.2.4'}),
    toNotice({...update, workload: 'minor', currentVersion: '1.2.3', newVersion: '1.3.0'}),
    toNotice({...update, workload: 'major', currentVersion: '1.2.3', newVersion: '2.0.0'}),
    toNotice({
      ...update,
      workload: 'digest',
      currentVersion: 'latest',
      newVersion: 'latest (abcdef123456)',
      newTag: 'latest',
    }),
    toNotice({
      ...update,
      event: 'update_failed',
      workload: 'broken',
      currentVersion: '1.0.0',
      newVersion: '1.0.1',
      error: 'x',
    }),
  ]

  it('sends one digest per notifier and run, with only what each threshold wants', async () => {
    const all = await receiver()
    const majors = await receiver()
    const {outcomes, reports} = await deliver(
      [
        createNotifier({type: 'webhook', url: all.url}),
        createNotifier({type: 'webhook', url: majors.url, threshold: 'MAJOR', name: 'mail'}),
      ],
      updates,
      {logger: silent, title: (n) => digestTitleFor(n, 'nas'), host: 'nas'},
    )
    expect(all.got).toHaveLength(1)
    const digest = JSON.parse(all.got[0]!.body)
    expect(digest).toMatchObject({event: 'digest', title: '5 image updates on nas', count: 5, host: 'nas'})
    expect(digest.notices.map((n: {workload: string}) => n.workload)).toEqual([
      'patchy',
      'minor',
      'major',
      'digest',
      'broken',
    ])
    expect(digest.message).toContain('• Update available for major: 1.2.3 → 2.0.0')
    // MAJOR: the major update and the failure (failures always go), nothing else.
    expect(majors.got).toHaveLength(1)
    const filtered = JSON.parse(majors.got[0]!.body)
    expect(filtered.notices.map((n: {workload: string}) => n.workload)).toEqual(['major', 'broken'])
    expect(reports[1]).toEqual({notifier: 'notifier mail', ok: true, sent: 2})
    expect(outcomes.map((o) => o.delivered)).toEqual([1, 1, 2, 1, 2])
  })

  it('sends one message per notice with batching off, and nothing to a notifier that wants none', async () => {
    const each = await receiver()
    const minorUp = await receiver()
    await deliver(
      [
        createNotifier({type: 'webhook', url: each.url}),
        createNotifier({type: 'webhook', url: minorUp.url, threshold: 'MINOR'}),
      ],
      updates.slice(0, 1),
      {logger: silent, title: (n) => digestTitleFor(n), batch: false},
    )
    expect(each.got).toHaveLength(1)
    expect(JSON.parse(each.got[0]!.body)).toMatchObject({event: 'update_available', workload: 'patchy', count: 1})
    expect(minorUp.got).toHaveLength(0)
  })
})
