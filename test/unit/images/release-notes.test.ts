import {type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

import {afterEach, describe, expect, it} from 'vitest'

import {
  chatCompletionsUrl,
  expandReleaseUrl,
  findReleaseNotes,
  githubRepository,
  summarizeReleaseNotes,
} from '../../../src/lib/images/release-notes.js'
import {Logger} from '../../../src/lib/log/logger.js'

const lines: string[] = []
const logger = new Logger({level: 'debug', sink: {write: (l: string) => lines.push(l)}})
let servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  servers = []
  lines.length = 0
})

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('release-notes links', () => {
  it('expands the label template', async () => {
    expect(expandReleaseUrl('https://x/releases/v${version}?t=${tag}', 'v1.2')).toBe('https://x/releases/v1.2?t=v1.2')
    expect(
      await findReleaseNotes('1.3.0', {template: 'https://x/${tag}', source: 'https://github.com/a/b', logger}),
    ).toEqual({
      url: 'https://x/1.3.0',
    })
  })
  it('reads GitHub repositories from image sources', () => {
    expect(githubRepository('https://github.com/org/app')).toEqual({owner: 'org', repo: 'app'})
    expect(githubRepository('https://github.com/org/app.git')).toEqual({owner: 'org', repo: 'app'})
    expect(githubRepository('git@github.com:org/app.git')).toEqual({owner: 'org', repo: 'app'})
    expect(githubRepository('https://gitlab.com/org/app')).toBeUndefined()
    expect(githubRepository(undefined)).toBeUndefined()
  })

  it('asks GitHub releases/tags/{tag} with the token, trying the v-prefixed tag too', async () => {
    const seen: {path: string; auth?: string; accept?: string}[] = []
    const api = await serve((req, res) => {
      seen.push({path: req.url!, auth: req.headers.authorization, accept: req.headers.accept})
      if (req.url === '/repos/org/app/releases/tags/v1.3.0') {
        res.writeHead(200, {'content-type': 'application/json'})
        res.end(
          JSON.stringify({html_url: 'https://github.com/org/app/releases/tag/v1.3.0', body: '## Fixes\n- CVE-2026-1'}),
        )
      } else res.writeHead(404, {'content-type': 'application/json'}).end('{"message":"Not Found"}')
    })
    const notes = await findReleaseNotes('1.3.0', {
      source: 'https://github.com/org/app',
      githubApiUrl: api,
      githubToken: 'ghp_x',
      logger,
    })
    expect(notes).toEqual({url: 'https://github.com/org/app/releases/tag/v1.3.0', body: '## Fixes\n- CVE-2026-1'})
    expect(seen.map((s) => s.path)).toEqual([
      '/repos/org/app/releases/tags/1.3.0',
      '/repos/org/app/releases/tags/v1.3.0',
    ])
    expect(seen[0]!.auth).toBe('Bearer ghp_x')
    expect(seen[0]!.accept).toBe('application/vnd.github+json')
  })

  it('falls back to the releases page when GitHub has no release or fails', async () => {
    const api = await serve((_req, res) => res.writeHead(404).end('{}'))
    expect(await findReleaseNotes('2.0.0', {source: 'https://github.com/org/app', githubApiUrl: api, logger})).toEqual({
      url: 'https://github.com/org/app/releases',
    })
    const down = await serve((_req, res) => res.writeHead(500).end())
    expect(await findReleaseNotes('2.0.0', {source: 'https://github.com/org/app', githubApiUrl: down, logger})).toEqual(
      {
        url: 'https://github.com/org/app/releases',
      },
    )
    expect(await findReleaseNotes('2.0.0', {logger})).toEqual({})
  })
})

describe('OpenAI-compatible summary', () => {
  it('appends /chat/completions to a base URL, keeps a full URL as given', () => {
    expect(chatCompletionsUrl('https://api.openai.com/v1')).toBe('https://api.openai.com/v1/chat/completions')
    expect(chatCompletionsUrl('http://ollama:11434/v1/')).toBe('http://ollama:11434/v1/chat/completions')
    expect(chatCompletionsUrl('http://x/v1/chat/completions')).toBe('http://x/v1/chat/completions')
  })

  it('POSTs a chat completion with model, key and the notes, and returns the answer', async () => {
    let request: {path?: string; auth?: string; body?: {model: string; messages: {role: string; content: string}[]}} =
      {}
    const api = await serve((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => (body += c.toString()))
      req.on('end', () => {
        request = {path: req.url, auth: req.headers.authorization, body: JSON.parse(body)}
        res.writeHead(200, {'content-type': 'application/json'})
        res.end(
          JSON.stringify({
            id: 'c',
            object: 'chat.completion',
            choices: [{index: 0, message: {role: 'assistant', content: ' - Security fix\n'}, finish_reason: 'stop'}],
          }),
        )
      })
    })
    const summary = await summarizeReleaseNotes(
      'notes here',
      {image: 'app', from: '1.0', to: '1.1'},
      {url: `${api}/v1`, key: 'sk-test', model: 'llama3', logger},
    )
    expect(summary).toBe('- Security fix')
    expect(request.path).toBe('/v1/chat/completions')
    expect(request.auth).toBe('Bearer sk-test')
    expect(request.body!.model).toBe('llama3')
    expect(request.body!.messages[1]!.content).toContain('notes here')
  })

  it('returns undefined (never throws) when off, failing or slow', async () => {
    expect(await summarizeReleaseNotes('n', {image: 'a', from: '1', to: '2'}, {logger})).toBeUndefined()
    const broken = await serve((_req, res) => res.writeHead(500).end('boom'))
    expect(await summarizeReleaseNotes('n', {image: 'a', from: '1', to: '2'}, {url: broken, logger})).toBeUndefined()
    const garbage = await serve((_req, res) => res.writeHead(200).end('not json'))
    expect(await summarizeReleaseNotes('n', {image: 'a', from: '1', to: '2'}, {url: garbage, logger})).toBeUndefined()
    const slow = await serve(() => undefined)
    expect(
      await summarizeReleaseNotes('n', {image: 'a', from: '1', to: '2'}, {url: slow, timeoutMs: 200, logger}),
    ).toBeUndefined()
    expect(lines.some((l) => l.includes('release-notes summary failed'))).toBe(true)
  })
})
