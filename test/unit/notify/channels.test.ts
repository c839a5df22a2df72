import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {type IncomingMessage, type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, afterEach, describe, expect, it} from 'vitest'

import {OperationError} from '../../../src/lib/errors.js'
import {type UpdateNotice, digestTitleFor, toNotice} from '../../../src/lib/images/notice.js'
import type {Digest} from '../../../src/lib/notify/message.js'
import {createNotifier, missingNotifierKeys} from '../../../src/lib/notify/notifiers.js'

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
async function receiver(answer: string, status = 200): Promise<{url: string; got: Received[]}> {
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
  workload: 'web<1>',
  kind: 'container',
  image: 'ghcr.io/org/app',
  currentVersion: '1.2.3',
  newVersion: '1.3.0',
  releaseNotesUrl: 'https://github.com/org/app/releases/tag/v1.3.0',
  applyUrl: 'https://homelab.example/images/apply?token=abc.def',
  host: 'nas',
}
const digest = (...updates: UpdateNotice[]): Digest => ({
  title: digestTitleFor(updates.length, 'nas'),
  notices: updates.map(toNotice),
  host: 'nas',
})

describe('telegram', () => {
  it('calls sendMessage of the bot with HTML, escaped, and checks "ok"', async () => {
    const api = await receiver('{"ok":true,"result":{"message_id":1}}')
    await createNotifier({type: 'telegram', url: api.url, token: '123:ABC', chatId: '-10042'}).send(digest(update))
    expect(api.got[0]!.path).toBe('/bot123:ABC/sendMessage')
    const body = JSON.parse(api.got[0]!.body)
    expect(body).toMatchObject({chat_id: '-10042', parse_mode: 'HTML', disable_web_page_preview: true})
    expect(body.text).toContain('<b>Update available for web&lt;1&gt;: 1.2.3 → 1.3.0</b>')
    expect(body.text).toContain(`<a href="${update.releaseNotesUrl}">Release notes</a>`)
  })
  it('fails on {"ok":false} and never names the token', async () => {
    const api = await receiver('{"ok":false,"description":"Bad Request: chat not found"}', 400)
    const error = await createNotifier({type: 'telegram', url: api.url, token: '123:SECRET', chatId: 'x'})
      .send(digest(update))
      .catch((e) => e)
    expect(error).toBeInstanceOf(OperationError)
    expect(error.message).toContain('chat not found')
    expect(error.message).not.toContain('SECRET')
  })
})

describe('pushover', () => {
  it('posts token, user, title and an HTML message with the first link as URL', async () => {
    const api = await receiver('{"status":1,"request":"r"}')
    await createNotifier({type: 'pushover', url: api.url, token: 'apptoken', user: 'userkey'}).send(
      digest(update, {...update, workload: 'db', newVersion: '2.0.0'}),
    )
    expect(api.got[0]!.path).toBe('/1/messages.json')
    const body = JSON.parse(api.got[0]!.body)
    expect(body).toMatchObject({token: 'apptoken', user: 'userkey', html: 1, title: '2 image updates on nas'})
    expect(body).toMatchObject({url: update.releaseNotesUrl, url_title: 'Release notes', priority: 0})
    expect(body.message.length).toBeLessThanOrEqual(1024)
    expect(body.message).toContain('• Update available for db: 1.2.3 → 2.0.0')
  })
})

describe('matrix', () => {
  it('PUTs an m.notice with an HTML body into the room, with the access token', async () => {
    const hs = await receiver('{"event_id":"$e"}')
    await createNotifier({type: 'matrix', url: `${hs.url}/`, token: 'syt_tok', room: '!room:example.org'}).send(
      digest(update),
    )
    expect(hs.got[0]!.method).toBe('PUT')
    expect(hs.got[0]!.path).toMatch(
      /^\/_matrix\/client\/v3\/rooms\/!room%3Aexample\.org\/send\/m\.room\.message\/homeops-[0-9a-f-]{36}$/,
    )
    expect(hs.got[0]!.headers.authorization).toBe('Bearer syt_tok')
    const body = JSON.parse(hs.got[0]!.body)
    expect(body).toMatchObject({msgtype: 'm.notice', format: 'org.matrix.custom.html'})
    expect(body.body).toContain('Update available for web<1>')
    expect(body.formatted_body).toContain('web&lt;1&gt;')
  })
})

describe('apprise', () => {
  it('POSTs title, markdown body, type and tag to the notify URL', async () => {
    const apprise = await receiver('{}')
    await createNotifier({type: 'apprise', url: `${apprise.url}/notify/homelab`, topic: 'admins'}).send(
      digest({...update, event: 'update_failed', error: 'did not converge'}),
    )
    expect(apprise.got[0]!.path).toBe('/notify/homelab')
    const body = JSON.parse(apprise.got[0]!.body)
    expect(body).toMatchObject({type: 'failure', format: 'markdown', tag: 'admins'})
    expect(body.body).toContain('Staying on 1.2.3: did not converge')
  })
})

describe('command hook', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hotest-images-hook-'))
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  it('runs the program without a shell, the digest as JSON on stdin, in a clean environment', async () => {
    process.env.HOMEOPS_API_KEY = 'never-for-hooks'
    try {
      const out = join(dir, 'out')
      await createNotifier({
        type: 'command',
        command: ['sh', '-c', `cat > "${out}.json"; env > "${out}.env"`, 'ignored $(rm -rf /)'],
      }).send(digest(update))
      const stdin = JSON.parse(readFileSync(`${out}.json`, 'utf8'))
      expect(stdin.title).toBe('Update available for web<1>: 1.2.3 → 1.3.0')
      expect(stdin.notices[0]).toMatchObject({event: 'update_available', workload: 'web<1>', newVersion: '1.3.0'})
      const env = readFileSync(`${out}.env`, 'utf8')
      expect(env).toContain('HOMEOPS_EVENT=update_available')
      expect(env).toContain('HOMEOPS_COUNT=1')
      expect(env).not.toContain('never-for-hooks')
    } finally {
      delete process.env.HOMEOPS_API_KEY
    }
  })

  it('reports a failing command with its exit code and the end of its stderr', async () => {
    const error = await createNotifier({type: 'command', command: ['sh', '-c', 'echo nope >&2; exit 3'], name: 'hook'})
      .send(digest(update))
      .catch((e) => e)
    expect(error).toBeInstanceOf(OperationError)
    expect(error.message).toBe('notifier hook: the command exited with 3 (nope)')
  })

  it('stops a command that runs too long', async () => {
    const started = Date.now()
    const error = await createNotifier({type: 'command', command: ['sleep', '30']}, {timeoutMs: 300})
      .send(digest(update))
      .catch((e) => e)
    expect(error.message).toContain('did not finish within 0.3 s')
    expect(Date.now() - started).toBeLessThan(5000)
  })
})

describe('notifier configuration', () => {
  it('names the keys a notifier lacks, per type', () => {
    expect(missingNotifierKeys({type: 'email', url: 'smtp://h'})).toEqual(['to'])
    expect(missingNotifierKeys({type: 'telegram', token: 't'})).toEqual(['chatId'])
    expect(missingNotifierKeys({type: 'matrix', url: 'u', token: 't', room: ''})).toEqual(['room'])
    expect(missingNotifierKeys({type: 'command', command: []})).toEqual(['command'])
    expect(missingNotifierKeys({type: 'mqtt', url: 'mqtt://b'})).toEqual([])
  })
})
