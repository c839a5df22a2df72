import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

import {afterEach, describe, expect, it} from 'vitest'

import {OperationError, TransientError} from '../../../src/lib/errors.js'
import {RegistryClient} from '../../../src/lib/registry/client.js'
import {parseImageReference} from '../../../src/lib/registry/reference.js'

/** Protocol-faithful loopback fakes: an OCI registry with token auth, and its token service. */
type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void
interface Hit {
  method: string
  path: string
  authorization?: string
}
let servers: Server[] = []
const clients: RegistryClient[] = []

async function fake(handler: Handler, address = '127.0.0.1'): Promise<{host: string; hits: Hit[]}> {
  const hits: Hit[] = []
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    hits.push({method: req.method ?? '', path: url.pathname + url.search, authorization: req.headers.authorization})
    handler(req, res, url)
  })
  await new Promise<void>((resolve) => server.listen(0, address, resolve))
  servers.push(server)
  return {host: `${address}:${(server.address() as AddressInfo).port}`, hits}
}

function client(options: ConstructorParameters<typeof RegistryClient>[0] = {}): RegistryClient {
  const c = new RegistryClient({dockerConfigPath: '/nonexistent', ...options})
  clients.push(c)
  return c
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close()
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  servers = []
})

const DIGEST = 'sha256:' + 'd'.repeat(64)
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`

/** A registry whose tokens carry their scope, as distribution's token server does. */
async function tokenRegistry(latencyMs = 20) {
  const auth = await fake((_req, res, url) => {
    const scopes = url.searchParams.getAll('scope').join(' ')
    setTimeout(
      () =>
        res
          .writeHead(200, {'content-type': 'application/json'})
          .end(JSON.stringify({token: `t:${scopes}`, expires_in: 300})),
      latencyMs,
    )
  })
  const registry = await fake((req, res, url) => {
    const repo = /^\/v2\/(.+)\/(manifests|tags)\//.exec(url.pathname)?.[1]
    const wanted = `Bearer t:repository:${repo}:pull`
    setTimeout(() => {
      if (req.headers.authorization !== wanted) {
        res
          .writeHead(401, {
            'www-authenticate': `Bearer realm="http://${auth.host}/token",service="fake",scope="repository:${repo}:pull"`,
          })
          .end()
        return
      }
      if (url.pathname.endsWith('/tags/list'))
        res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({name: repo, tags: ['1.0.0']}))
      else res.writeHead(200, {'docker-content-digest': DIGEST}).end()
    }, latencyMs)
  })
  return {auth, registry}
}

describe('token auth request economy', () => {
  it('makes one token request per scope and no needless 401 when many checks start at once', async () => {
    const {auth, registry} = await tokenRegistry()
    const c = client({credentials: [{host: registry.host, username: 'u', password: 'pw'}]})
    const repos = ['a/one', 'a/two', 'a/three']
    await Promise.all(
      repos.flatMap((repo) => [
        ...['1', '2', '3', '4'].map((tag) => c.manifestDigest(parseImageReference(`${registry.host}/${repo}:${tag}`))),
        c.listTags(parseImageReference(`${registry.host}/${repo}`)),
      ]),
    )
    // One 401 teaches the scheme; then exactly one token per repository scope.
    expect(registry.hits.filter((h) => h.authorization === undefined)).toHaveLength(1)
    expect(auth.hits).toHaveLength(3)
    expect(new Set(auth.hits.map((h) => new URL(h.path, 'http://x').searchParams.get('scope')))).toEqual(
      new Set(repos.map((r) => `repository:${r}:pull`)),
    )
    expect(c.stats.byKind).toEqual({auth_challenge: 1, token: 3, manifest_head: 12, tags_list: 3})
    expect(c.stats.requests).toBe(registry.hits.length + auth.hits.length)
  })

  it('sends basic credentials up front once the scheme is known (no 401 per request)', async () => {
    const registry = await fake((req, res) => {
      if (req.headers.authorization !== basic('u', 'pw'))
        res.writeHead(401, {'www-authenticate': 'Basic realm="r"'}).end()
      else res.writeHead(200, {'docker-content-digest': DIGEST}).end()
    })
    const c = client({credentials: [{host: registry.host, username: 'u', password: 'pw'}]})
    await Promise.all(
      Array.from({length: 10}, (_, i) => c.manifestDigest(parseImageReference(`${registry.host}/a/b:${i}`))),
    )
    expect(registry.hits.filter((h) => h.authorization === undefined)).toHaveLength(1)
    expect(registry.hits).toHaveLength(11)
  })
})

describe('credentials never follow a redirect to another host', () => {
  it('does not send 127.0.0.1’s password to the realm named by 127.0.0.2, nor remember that realm', async () => {
    const foreignToken = await fake(
      (_req, res) =>
        res
          .writeHead(200, {'content-type': 'application/json'})
          .end(JSON.stringify({token: 'foreign', expires_in: 300})),
      '127.0.0.2',
    )
    const foreign = await fake((req, res) => {
      if (req.headers.authorization !== 'Bearer foreign')
        res
          .writeHead(401, {'www-authenticate': `Bearer realm="http://${foreignToken.host}/token",service="evil"`})
          .end()
      else res.writeHead(200, {'docker-content-digest': DIGEST}).end()
    }, '127.0.0.2')
    const own = await fake((req, res, url) => {
      res.writeHead(307, {location: `http://${foreign.host}${url.pathname}`}).end()
    })
    const c = client({credentials: [{host: own.host, username: 'alice', password: 's3cret-pw'}]})
    expect(await c.manifestDigest(parseImageReference(`${own.host}/a/b:1`))).toBe(DIGEST)
    expect(await c.manifestDigest(parseImageReference(`${own.host}/a/b:2`))).toBe(DIGEST)
    const everything = [...own.hits, ...foreign.hits, ...foreignToken.hits]
    expect(everything.some((h) => h.authorization?.startsWith('Basic'))).toBe(false)
    expect(JSON.stringify(everything)).not.toContain(Buffer.from('alice:s3cret-pw').toString('base64'))
    // The foreign realm is the foreign host's, not 127.0.0.1's: its own host never gets a bearer token.
    expect(own.hits.every((h) => h.authorization === undefined)).toBe(true)
    expect(foreignToken.hits).toHaveLength(1)
  })

  it('still sends credentials to the realm the configured host itself names, on another host (auth.docker.io)', async () => {
    const realm = await fake(
      (req, res) =>
        req.headers.authorization === basic('alice', 'pw')
          ? res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({token: 'ok', expires_in: 300}))
          : res.writeHead(401).end(),
      '127.0.0.2',
    )
    const own = await fake((req, res) => {
      if (req.headers.authorization !== 'Bearer ok')
        res.writeHead(401, {'www-authenticate': `Bearer realm="http://${realm.host}/token",service="hub"`}).end()
      else res.writeHead(200, {'docker-content-digest': DIGEST}).end()
    })
    const c = client({credentials: [{host: own.host, username: 'alice', password: 'pw'}]})
    expect(await c.manifestDigest(parseImageReference(`${own.host}/a/b:1`))).toBe(DIGEST)
    expect(realm.hits[0]!.authorization).toBe(basic('alice', 'pw'))
  })

  it('refuses to answer a Basic challenge from a redirect target with the first host’s password', async () => {
    const foreign = await fake(
      (_req, res) => res.writeHead(401, {'www-authenticate': 'Basic realm="x"'}).end(),
      '127.0.0.2',
    )
    const own = await fake((_req, res, url) =>
      res.writeHead(302, {location: `http://${foreign.host}${url.pathname}`}).end(),
    )
    const c = client({credentials: [{host: own.host, username: 'alice', password: 'pw'}]})
    const error = await c.manifestDigest(parseImageReference(`${own.host}/a/b:1`)).catch((e) => e)
    expect(error).toBeInstanceOf(OperationError)
    expect(foreign.hits.every((h) => h.authorization === undefined)).toBe(true)
  })
})

describe('tag list pagination cycles', () => {
  it('fails at once when pages link back (A → B → A)', async () => {
    const registry = await fake((_req, res, url) => {
      const page = url.searchParams.get('last') === 'b' ? 'B' : 'A'
      const next = page === 'A' ? '/v2/a/b/tags/list?n=2&last=b' : '/v2/a/b/tags/list?n=1000'
      res
        .writeHead(200, {'content-type': 'application/json', link: `<${next}>; rel="next"`})
        .end(JSON.stringify({tags: page === 'A' ? ['1', '2'] : ['3']}))
    })
    const c = client()
    const started = Date.now()
    const error = await c.listTags(parseImageReference(`${registry.host}/a/b`)).catch((e) => e)
    expect(error).toBeInstanceOf(OperationError)
    expect(error.message).toContain('link back to a page already read (a loop after 2 pages)')
    expect(registry.hits).toHaveLength(2)
    expect(Date.now() - started).toBeLessThan(2000)
  })
})

describe('a registry that is down', () => {
  it('counts the requests it tried and names the cause once, without the image in it', async () => {
    const dead = await fake(() => {})
    const port = dead.host.split(':')[1]
    await new Promise((r) => servers.pop()!.close(r))
    const c = client()
    const errors = await Promise.all(
      ['a/b:1', 'a/b:2', 'c/d:1'].map((ref) =>
        c.manifestDigest(parseImageReference(`127.0.0.1:${port}/${ref}`)).catch((e: TransientError) => e.message),
      ),
    )
    expect(new Set(errors)).toEqual(new Set([`cannot reach the registry 127.0.0.1:${port}: connection refused`]))
    // The first one tried; the others learnt that the registry is down instead of each trying again.
    expect(c.stats.requests).toBe(1)
  })
})
