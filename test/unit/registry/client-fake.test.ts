import {createHash} from 'node:crypto'
import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

import {afterEach, describe, expect, it, vi} from 'vitest'

import {OperationError, TransientError} from '../../../src/lib/errors.js'
import {MANIFEST_ACCEPT, RegistryClient} from '../../../src/lib/registry/client.js'
import {parseImageReference} from '../../../src/lib/registry/reference.js'

/** A protocol-faithful fake OCI registry for the cases a real one cannot produce on demand. */
type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void
let servers: Server[] = []
const clients: RegistryClient[] = []

async function fake(
  handler: Handler,
): Promise<{host: string; hits: {method: string; path: string; headers: IncomingMessage['headers']}[]}> {
  const hits: {method: string; path: string; headers: IncomingMessage['headers']}[] = []
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    hits.push({method: req.method ?? '', path: url.pathname + url.search, headers: req.headers})
    handler(req, res, url)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  return {host: `127.0.0.1:${(server.address() as AddressInfo).port}`, hits}
}

function client(options: ConstructorParameters<typeof RegistryClient>[0] = {}): RegistryClient {
  const c = new RegistryClient({dockerConfigPath: '/nonexistent', ...options})
  clients.push(c)
  return c
}

/**
 * Runs `work` with the clock and timers fake (sockets stay real): once the fake registry has seen
 * `hits` requests, the clock moves `ms` on, so a Retry-After wait passes without waiting for it.
 */
async function afterWaiting<T>(work: () => Promise<T>, seen: () => number, hits: number, ms: number): Promise<T> {
  vi.useFakeTimers({toFake: ['setTimeout', 'clearTimeout', 'Date']})
  try {
    const result = work()
    await vi.waitFor(() => expect(seen()).toBeGreaterThanOrEqual(hits), {timeout: 5000})
    await vi.advanceTimersByTimeAsync(ms)
    return await result
  } finally {
    vi.useRealTimers()
  }
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close()
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  servers = []
})

const manifest = JSON.stringify({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: {mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:' + 'c'.repeat(64), size: 2},
  layers: [],
})
const manifestDigest = 'sha256:' + createHash('sha256').update(manifest).digest('hex')

describe('manifest digests', () => {
  it('sends the four Accept types on HEAD and reads Docker-Content-Digest', async () => {
    const {host, hits} = await fake((_req, res) => {
      res.writeHead(200, {'docker-content-digest': manifestDigest, 'content-type': MANIFEST_ACCEPT[0]}).end()
    })
    expect(await client().manifestDigest(parseImageReference(`${host}/a/b:1`))).toBe(manifestDigest)
    expect(hits).toHaveLength(1)
    expect(hits[0]!.method).toBe('HEAD')
    expect(hits[0]!.path).toBe('/v2/a/b/manifests/1')
    for (const type of MANIFEST_ACCEPT) expect(hits[0]!.headers.accept).toContain(type)
  })

  it('GETs and hashes the manifest when the digest header is missing', async () => {
    const {host, hits} = await fake((req, res) => {
      res.writeHead(200, {'content-type': 'application/vnd.oci.image.manifest.v1+json'})
      res.end(req.method === 'HEAD' ? undefined : manifest)
    })
    const c = client()
    expect(await c.manifestDigest(parseImageReference(`${host}/a/b:1`))).toBe(manifestDigest)
    expect(hits.map((h) => h.method)).toEqual(['HEAD', 'GET'])
    expect(c.stats.byKind).toEqual({manifest_head: 1, manifest_get: 1})
  })

  it('refuses a malformed manifest with a clear OperationError', async () => {
    const {host} = await fake((req, res) => {
      res.writeHead(200, {'content-type': 'application/json'})
      res.end(req.method === 'HEAD' ? undefined : '<html>oops</html>')
    })
    const error = await client()
      .manifestDigest(parseImageReference(`${host}/a/b:1`))
      .catch((e) => e)
    expect(error).toBeInstanceOf(OperationError)
    expect(error.message).toBe(`${host} served a malformed manifest for ${host}/a/b:1 (not JSON)`)
    const {host: host2} = await fake((req, res) =>
      res.writeHead(200).end(req.method === 'HEAD' ? undefined : '{"schemaVersion":2}'),
    )
    await expect(client().manifestDigest(parseImageReference(`${host2}/a/b:1`))).rejects.toThrow(
      'neither manifests nor layers',
    )
  })

  it('waits as Retry-After says on 429, then succeeds', async () => {
    let calls = 0
    const {host} = await fake((_req, res) => {
      calls++
      if (calls === 1) res.writeHead(429, {'retry-after': '1'}).end()
      else res.writeHead(200, {'docker-content-digest': manifestDigest}).end()
    })
    let took = 0
    const digest = await afterWaiting(
      async () => {
        const started = Date.now()
        const result = await client().manifestDigest(parseImageReference(`${host}/a/b:1`))
        took = Date.now() - started
        return result
      },
      () => calls,
      1,
      1000,
    )
    expect(digest).toBe(manifestDigest)
    expect(took).toBeGreaterThanOrEqual(950)
    expect(calls).toBe(2)
  })

  it('gives up with a TransientError when 429 persists or asks for too long a wait', async () => {
    const {host, hits} = await fake((_req, res) => res.writeHead(429, {'retry-after': '3600'}).end())
    const error = await client({maxRetryWaitMs: 5000})
      .manifestDigest(parseImageReference(`${host}/a/b:1`))
      .catch((e) => e)
    expect(error).toBeInstanceOf(TransientError)
    expect(error.message).toContain('429')
    expect(error.message).toContain('retry after 3600 s')
    expect(hits).toHaveLength(1)
    const {host: host2, hits: hits2} = await fake((_req, res) => res.writeHead(429, {'retry-after': '0'}).end())
    await expect(client({maxAttempts: 3}).manifestDigest(parseImageReference(`${host2}/a/b:1`))).rejects.toThrow(
      TransientError,
    )
    expect(hits2).toHaveLength(3)
  })

  it('stops fetching manifests once ratelimit-remaining reaches 0', async () => {
    const {host, hits} = await fake((_req, res) => res.writeHead(200, {'ratelimit-remaining': '0;w=21600'}).end())
    const error = await client()
      .manifestDigest(parseImageReference(`${host}/a/b:1`))
      .catch((e) => e)
    expect(error).toBeInstanceOf(TransientError)
    expect(error.message).toContain('rate limit')
    expect(hits.map((h) => h.method)).toEqual(['HEAD'])
  })

  it('retries a 5xx once, then reports a TransientError', async () => {
    const {host, hits} = await fake((_req, res) => res.writeHead(503).end())
    await expect(client().manifestDigest(parseImageReference(`${host}/a/b:1`))).rejects.toThrow(TransientError)
    expect(hits).toHaveLength(2)
  })

  it('times out a registry that never answers', async () => {
    const {host} = await fake(() => {
      /* never answers */
    })
    const error = await client({timeoutMs: 300})
      .manifestDigest(parseImageReference(`${host}/a/b:1`))
      .catch((e) => e)
    expect(error).toBeInstanceOf(TransientError)
    expect(error.message).toContain('no answer within 0.3 s')
  })

  it('aborts requests in flight when its signal fires (a serve mode stopping)', async () => {
    const {host} = await fake(() => {
      /* never answers */
    })
    const controller = new AbortController()
    const pending = client({signal: controller.signal, timeoutMs: 60_000})
      .manifestDigest(parseImageReference(`${host}/a/b:1`))
      .catch((e) => e)
    setTimeout(() => controller.abort(), 100)
    const error = await pending
    expect(error).toBeInstanceOf(TransientError)
    expect(error.message).toContain('aborted')
  })

  it('starts at concurrencyPerRegistry requests in flight and grows to at most 4× while the registry keeps up', async () => {
    let active = 0
    const peaks: number[] = []
    const {host} = await fake((_req, res) => {
      active++
      peaks.push(active)
      setTimeout(() => {
        active--
        res.writeHead(200, {'docker-content-digest': manifestDigest}).end()
      }, 30)
    })
    const c = client({concurrencyPerRegistry: 2})
    await Promise.all(Array.from({length: 40}, (_, i) => c.manifestDigest(parseImageReference(`${host}/a/b:${i}`))))
    // The first request learns the registry's auth scheme alone; then 2 (+1 for that answer) at once.
    expect(peaks[0]).toBe(1)
    expect(Math.max(...peaks.slice(1, 4))).toBe(3)
    expect(Math.max(...peaks)).toBe(8)
    expect(c.concurrencyOf(host)).toBe(8)
  })

  it('halves the limit on 429, waits the clamped Retry-After for every request to that registry, then succeeds', async () => {
    let first = true
    const times: number[] = []
    const {host, hits} = await fake((_req, res) => {
      times.push(Date.now())
      if (first) {
        first = false
        res.writeHead(429, {'retry-after': '1'}).end()
        return
      }
      res.writeHead(200, {'docker-content-digest': manifestDigest}).end()
    })
    const c = client({concurrencyPerRegistry: 8})
    let started = 0
    const digest = await afterWaiting(
      () => {
        started = Date.now()
        return c.manifestDigest(parseImageReference(`${host}/a/b:1`))
      },
      () => hits.length,
      1,
      1000,
    )
    expect(digest).toBe(manifestDigest)
    expect(c.concurrencyOf(host)).toBe(5) // 8 → 9 (answer) → 4 (halved) → 5 (answer)
    expect(times[1]! - started).toBeGreaterThanOrEqual(950)
    expect(hits).toHaveLength(2)
    // A Retry-After beyond maxRetryWaitMs gives up at once with a TransientError (no 2^31 ms timers).
    const {host: slow} = await fake((_req, res) => res.writeHead(429, {'retry-after': '99999999999'}).end())
    const error = await client({maxRetryWaitMs: 2000})
      .manifestDigest(parseImageReference(`${slow}/a/b:1`))
      .catch((e) => e)
    expect(error).toBeInstanceOf(TransientError)
    expect(error.message).toContain('retry after 99999999999 s')
  })
})

describe('tag lists', () => {
  it('follows relative Link headers across pages and drops cosign tags', async () => {
    const all = [
      '1.0.0',
      'sha256-' + 'a'.repeat(64) + '.sig',
      '1.1.0',
      'sha256-' + 'b'.repeat(64) + '.att',
      '2.0.0',
      'latest',
    ]
    const {host, hits} = await fake((_req, res, url) => {
      const n = Number(url.searchParams.get('n') ?? 100)
      const last = url.searchParams.get('last')
      const start = last ? all.indexOf(last) + 1 : 0
      const page = all.slice(start, start + n)
      const headers: Record<string, string> = {'content-type': 'application/json'}
      if (start + n < all.length)
        headers.link = `</v2/a/b/tags/list?n=${n}&last=${encodeURIComponent(page.at(-1)!)}>; rel="next"`
      res.writeHead(200, headers).end(JSON.stringify({name: 'a/b', tags: page}))
    })
    const c = client({tagPageSize: 2})
    const result = await c.listTagsDetailed(parseImageReference(`${host}/a/b`))
    expect(result.tags).toEqual(['1.0.0', '1.1.0', '2.0.0', 'latest'])
    expect(result.pages).toBe(3)
    expect(hits.map((h) => h.path)).toEqual([
      '/v2/a/b/tags/list?n=2',
      `/v2/a/b/tags/list?n=2&last=${encodeURIComponent(all[1]!)}`,
      `/v2/a/b/tags/list?n=2&last=${encodeURIComponent(all[3]!)}`,
    ])
  })

  it('reads a repository of 100 000 tags up to the cap and says it was capped', async () => {
    const all = Array.from({length: 100_000}, (_, i) => `${Math.floor(i / 1000)}.${i % 1000}.0`)
    const {host, hits} = await fake((_req, res, url) => {
      const n = Number(url.searchParams.get('n'))
      const last = url.searchParams.get('last')
      const start = last ? Number(last.split('.')[0]) * 1000 + Number(last.split('.')[1]) + 1 : 0
      const page = all.slice(start, start + n)
      const headers: Record<string, string> = {'content-type': 'application/json'}
      if (start + n < all.length) headers.link = `</v2/big/tags/list?n=${n}&last=${page.at(-1)}>; rel="next"`
      res.writeHead(200, headers).end(JSON.stringify({name: 'big', tags: page}))
    })
    const capped = await client().listTagsDetailed(parseImageReference(`${host}/big`), {maxTags: 25_000})
    expect(capped.tags).toHaveLength(25_000)
    expect(capped.truncated).toBe(true)
    expect(hits).toHaveLength(25)
    const full = await client().listTagsDetailed(parseImageReference(`${host}/big`), {maxTags: 200_000})
    expect(full.tags).toHaveLength(100_000)
    expect(full.truncated).toBe(false)
    expect(full.pages).toBe(100)
  })

  it('stops at the time limit of a slow, huge repository', async () => {
    let page = 0
    const {host} = await fake((_req, res) => {
      page++
      setTimeout(() => {
        res.writeHead(200, {link: `</v2/slow/tags/list?n=1000&last=${page}>; rel="next"`})
        res.end(JSON.stringify({tags: [`${page}.0.0`]}))
      }, 60)
    })
    const result = await client().listTagsDetailed(parseImageReference(`${host}/slow`), {timeoutMs: 300})
    expect(result.truncated).toBe(true)
    expect(result.tags.length).toBeGreaterThan(0)
    expect(result.tags.length).toBeLessThan(20)
  })

  it('refuses a tag list that is not JSON', async () => {
    const {host} = await fake((_req, res) => res.writeHead(200).end('nope'))
    await expect(client().listTags(parseImageReference(`${host}/a`))).rejects.toThrow('not JSON')
  })
})

describe('bearer auth against a fake registry', () => {
  it('uses the realm and scope of the challenge, sends credentials only to the token service, and caches the token', async () => {
    const tokenHits: URL[] = []
    const auth = await fake((req, res, url) => {
      tokenHits.push(url)
      res
        .writeHead(200, {'content-type': 'application/json'})
        .end(JSON.stringify({access_token: 'tok-123456', expires_in: 300}))
    })
    const {host, hits} = await fake((req, res) => {
      if (req.headers.authorization !== 'Bearer tok-123456') {
        res
          .writeHead(401, {
            'www-authenticate': `Bearer realm="http://${auth.host}/token",service="fake.registry",scope="repository:a/b:pull"`,
          })
          .end()
        return
      }
      res.writeHead(200, {'docker-content-digest': manifestDigest}).end()
    })
    const c = client({credentials: [{host, username: 'u', password: 'p4ssw0rd'}]})
    await c.manifestDigest(parseImageReference(`${host}/a/b:1`))
    await c.manifestDigest(parseImageReference(`${host}/a/b:2`))
    expect(tokenHits).toHaveLength(1)
    expect(tokenHits[0]!.searchParams.get('service')).toBe('fake.registry')
    expect(tokenHits[0]!.searchParams.getAll('scope')).toEqual(['repository:a/b:pull'])
    expect(auth.hits[0]!.headers.authorization).toBe(`Basic ${Buffer.from('u:p4ssw0rd').toString('base64')}`)
    expect(hits.map((h) => h.headers.authorization)).toEqual([undefined, 'Bearer tok-123456', 'Bearer tok-123456'])
  })

  it('follows a redirect to another registry that challenges (lscr.io → ghcr.io)', async () => {
    const auth = await fake((_req, res) =>
      res
        .writeHead(200, {'content-type': 'application/json'})
        .end(JSON.stringify({token: 'ghcr-tok-1', expires_in: 300})),
    )
    const ghcr = await fake((req, res) => {
      if (req.headers.authorization !== 'Bearer ghcr-tok-1') {
        res
          .writeHead(401, {
            'www-authenticate': `Bearer realm="http://${auth.host}/token",service="ghcr.io",scope="repository:linuxserver/sonarr:pull"`,
          })
          .end()
        return
      }
      res.writeHead(200, {'docker-content-digest': manifestDigest}).end()
    })
    const lscr = await fake((req, res) => res.writeHead(307, {location: `http://${ghcr.host}${req.url}`}).end())
    const c = client()
    expect(await c.manifestDigest(parseImageReference(`${lscr.host}/linuxserver/sonarr:4`))).toBe(manifestDigest)
    expect(auth.hits).toHaveLength(1)
    expect(auth.hits[0]!.path).toContain('scope=repository%3Alinuxserver%2Fsonarr%3Apull')
    // The token went to ghcr only, never to the redirecting host.
    expect(lscr.hits.every((h) => h.headers.authorization === undefined)).toBe(true)
    expect(ghcr.hits.at(-1)!.headers.authorization).toBe('Bearer ghcr-tok-1')
  })
})
