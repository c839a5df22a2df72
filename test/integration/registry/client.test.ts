import {type ChildProcess, execFileSync, spawn} from 'node:child_process'
import {createSign, randomBytes} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'

import {OperationError, TransientError} from '../../../src/lib/errors.js'
import {RegistryClient} from '../../../src/lib/registry/client.js'
import {parseImageReference} from '../../../src/lib/registry/reference.js'
import {checkImageStatus} from '../../../src/lib/registry/update-status.js'
import {testEnv} from '../../support/testenv.js'

const env = testEnv()
const dockerConfigPath = join(env.dockerConfigDir, 'config.json')
const ref = (text: string) => parseImageReference(text)

describe('registry client against the real registry (no auth)', () => {
  const app = `${env.registry.host}/${env.images.app}`

  it('reads the manifest digest of each tag with one HEAD', async () => {
    const client = new RegistryClient({dockerConfigPath: '/nonexistent'})
    for (const tag of ['1.0.0', '2.0.0', 'latest', '1.0.0-alpine'])
      expect(await client.manifestDigest(ref(`${app}:${tag}`))).toBe(env.images.digests[tag])
    expect(client.stats.byKind).toEqual({manifest_head: 4})
    // Memoised for the run: asking again costs nothing.
    await client.manifestDigest(ref(`${app}:1.0.0`))
    expect(client.stats.requests).toBe(4)
    await client.close()
  })

  // docker-registry 2.8 ignores `n` and answers one page; Link paging is covered against a fake in unit tests.
  it('lists every tag, once per repository per run', async () => {
    const client = new RegistryClient({tagPageSize: 2, dockerConfigPath: '/nonexistent'})
    const result = await client.listTagsDetailed(ref(app))
    expect(result.tags.sort()).toEqual([...env.images.tags].sort())
    expect(result.truncated).toBe(false)
    expect(client.stats.byKind.tags_list).toBe(result.pages)
    await client.listTags(ref(`${app}:1.0.0`))
    expect(client.stats.byKind.tags_list).toBe(result.pages)
    await client.close()
  })

  it('caps the tag list and says so', async () => {
    const client = new RegistryClient({tagPageSize: 2, dockerConfigPath: '/nonexistent'})
    const result = await client.listTagsDetailed(ref(app), {maxTags: 3})
    expect(result.tags).toHaveLength(3)
    expect(result.truncated).toBe(true)
    await client.close()
  })

  it('reports a missing repository or tag as an OperationError naming image and registry', async () => {
    const client = new RegistryClient({dockerConfigPath: '/nonexistent'})
    const error = await client.manifestDigest(ref(`${env.registry.host}/hotest/missing:1.0.0`)).catch((e) => e)
    expect(error).toBeInstanceOf(OperationError)
    expect(error.message).toContain(`${env.registry.host}/hotest/missing:1.0.0`)
    expect(error.message).toContain('404')
    await expect(client.listTags(ref(`${env.registry.host}/hotest/missing`))).rejects.toThrow(OperationError)
    await expect(client.manifestDigest(ref(`${app}:9.9.9`))).rejects.toThrow('not found')
    await client.close()
  })

  it('reports an unreachable registry as a TransientError', async () => {
    const client = new RegistryClient({dockerConfigPath: '/nonexistent', timeoutMs: 2000})
    const error = await client.manifestDigest(ref('127.0.0.1:9/hotest/app:1.0.0')).catch((e) => e)
    expect(error).toBeInstanceOf(TransientError)
    expect(error.message).toContain('127.0.0.1:9')
    const status = await checkImageStatus(client, '127.0.0.1:9/hotest/app:1.0.0', [
      `127.0.0.1:9/hotest/app@${env.images.digests['1.0.0']}`,
    ])
    expect(status.status).toBe('registry_error')
    await client.close()
  })

  it('computes the update status from RepoDigests and pinned digests', async () => {
    const client = new RegistryClient({dockerConfigPath: '/nonexistent'})
    const d = env.images.digests
    expect(await checkImageStatus(client, `${app}:1.0.0`, [`${app}@${d['1.0.0']}`])).toEqual({
      status: 'up_to_date',
      remoteDigest: d['1.0.0'],
    })
    expect((await checkImageStatus(client, `${app}:latest`, [`${app}@${d['1.0.0']}`])).status).toBe('update_available')
    // A RepoDigest of another repository does not count.
    expect((await checkImageStatus(client, `${app}:1.0.0`, [`other.example/hotest/app@${d['1.0.0']}`])).status).toBe(
      'unknown_local_digest',
    )
    expect((await checkImageStatus(client, `${app}:1.0.0`, [])).status).toBe('unknown_local_digest')
    // Swarm's pinned form: the pinned digest is the local one.
    expect((await checkImageStatus(client, `${app}:1.0.0@${d['1.0.0']}`, [])).status).toBe('up_to_date')
    expect((await checkImageStatus(client, `${app}:1.0.0@${d['2.0.0']}`, [])).status).toBe('update_available')
    expect((await checkImageStatus(client, 'sha256:' + 'a'.repeat(64), [])).status).toBe('unknown_image')
    expect((await checkImageStatus(client, 'Not An Image', [])).status).toBe('unknown_image')
    await client.close()
  })
})

describe('registry client against the htpasswd registry', () => {
  const app = `${env.authRegistry.host}/${env.images.app}`

  it('answers the Basic challenge with credentials from the Docker config', async () => {
    const client = new RegistryClient({dockerConfigPath})
    expect(await client.manifestDigest(ref(`${app}:1.0.0`))).toBe(env.images.digests['1.0.0'])
    expect(await client.manifestDigest(ref(`${app}:2.0.0`))).toBe(env.images.digests['2.0.0'])
    expect((await client.listTags(ref(app))).sort()).toEqual([...env.images.authTags].sort())
    // One challenge, then credentials are sent up front.
    expect(client.stats.byKind).toEqual({auth_challenge: 1, manifest_head: 2, tags_list: 1})
    await client.close()
  })

  it('uses credentials from the config before the Docker config', async () => {
    const client = new RegistryClient({
      dockerConfigPath: '/nonexistent',
      credentials: [
        {host: env.authRegistry.host, username: env.authRegistry.username, password: env.authRegistry.password},
      ],
    })
    expect(await client.manifestDigest(ref(`${app}:1.0.0`))).toBe(env.images.digests['1.0.0'])
    await client.close()
  })

  it('refuses clearly without credentials, and never prints the password', async () => {
    const client = new RegistryClient({dockerConfigPath: '/nonexistent'})
    const error = await client.manifestDigest(ref(`${app}:1.0.0`)).catch((e) => e)
    expect(error).toBeInstanceOf(OperationError)
    expect(error.message).toContain(env.authRegistry.host)
    expect(error.message).toContain('no credentials')
    const wrong = new RegistryClient({
      dockerConfigPath: '/nonexistent',
      credentials: [{host: env.authRegistry.host, username: env.authRegistry.username, password: 'wrong-password-123'}],
    })
    const refused = await wrong.manifestDigest(ref(`${app}:1.0.0`)).catch((e) => e)
    expect(refused).toBeInstanceOf(OperationError)
    expect(refused.message).toContain('config registries')
    expect(refused.message).not.toContain('wrong-password-123')
    expect(refused.message + (refused.hint ?? '')).not.toContain(env.authRegistry.password)
    await client.close()
    await wrong.close()
  })
})

// ---- bearer tokens: a real docker-registry configured for token auth, with a token issuer written here ----

describe('registry client against a token-auth registry', () => {
  let dir: string
  let registry: ChildProcess | undefined
  let issuer: Server
  let registryHost: string
  const issued: {service: string | null; scope: string[]; auth?: string}[] = []
  let expiresIn = 300
  const user = 'tokenuser'
  const pass = randomBytes(12).toString('hex')

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hotest-registry-token-'))
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=hotest-token-issuer',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      {stdio: 'ignore'},
    )
    const key = readFileSync(join(dir, 'key.pem'), 'utf8')
    const certDer = Buffer.from(
      readFileSync(join(dir, 'cert.pem'), 'utf8')
        .replace(/-----[^-]+-----/g, '')
        .replace(/\s+/g, ''),
      'base64',
    )
    const b64 = (v: Buffer | string) => Buffer.from(v).toString('base64url')

    issuer = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const auth = req.headers.authorization
      issued.push({service: url.searchParams.get('service'), scope: url.searchParams.getAll('scope'), auth})
      if (auth !== `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`) {
        res.writeHead(401, {'content-type': 'application/json'}).end('{"details":"incorrect username or password"}')
        return
      }
      const access = url.searchParams.getAll('scope').map((s) => {
        const [type, name, actions] = s.split(':')
        return {type, name, actions: actions!.split(',')}
      })
      const now = Math.floor(Date.now() / 1000)
      const header = b64(JSON.stringify({typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')]}))
      const claims = b64(
        JSON.stringify({
          iss: 'hotest-issuer',
          sub: user,
          aud: url.searchParams.get('service'),
          exp: now + expiresIn,
          nbf: now - 10,
          iat: now,
          jti: randomBytes(8).toString('hex'),
          access,
        }),
      )
      const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(key)
      res.writeHead(200, {'content-type': 'application/json'})
      res.end(
        JSON.stringify({
          token: `${header}.${claims}.${b64(signature)}`,
          expires_in: expiresIn,
          issued_at: new Date().toISOString(),
        }),
      )
    })
    await new Promise<void>((resolve) => issuer.listen(0, '127.0.0.1', resolve))
    const realm = `http://127.0.0.1:${(issuer.address() as AddressInfo).port}/token`

    // A free port for the registry.
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as AddressInfo).port
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    registryHost = `127.0.0.1:${port}`
    // Serves the images of the test environment's registry A read-only.
    writeFileSync(
      join(dir, 'config.yml'),
      [
        'version: 0.1',
        'log: {level: error, accesslog: {disabled: true}}',
        'storage:',
        `  filesystem: {rootdirectory: ${join(env.dir, 'registry')}}`,
        '  maintenance: {uploadpurging: {enabled: false}, readonly: {enabled: true}}',
        `http: {addr: "${registryHost}", secret: ${randomBytes(12).toString('hex')}}`,
        'auth:',
        '  token:',
        `    realm: "${realm}"`,
        '    service: hotest-registry',
        '    issuer: hotest-issuer',
        `    rootcertbundle: ${join(dir, 'cert.pem')}`,
      ].join('\n'),
    )
    registry = spawn('docker-registry', ['serve', join(dir, 'config.yml')], {stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    registry.stderr!.on('data', (c: Buffer) => (stderr += c.toString()))
    for (let i = 0; i < 100; i++) {
      const up = await fetch(`http://${registryHost}/v2/`)
        .then((r) => r.status)
        .catch(() => 0)
      if (up === 401) return
      if (registry.exitCode !== null) break
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`token-auth docker-registry did not start: ${stderr}`)
  }, 30_000)

  afterAll(async () => {
    if (registry?.pid && registry.exitCode === null) {
      process.kill(registry.pid, 'SIGTERM')
      await new Promise((r) => registry!.once('exit', r))
    }
    await new Promise<void>((resolve) => issuer?.close(() => resolve()))
    rmSync(dir, {recursive: true, force: true})
  })

  const creds = () => [{host: registryHost, username: user, password: pass}]

  it('follows the bearer challenge (realm, service, scope from the header) and caches the token per scope', async () => {
    issued.length = 0
    const client = new RegistryClient({dockerConfigPath: '/nonexistent', credentials: creds()})
    const app = `${registryHost}/${env.images.app}`
    expect(await client.manifestDigest(ref(`${app}:1.0.0`))).toBe(env.images.digests['1.0.0'])
    expect(await client.manifestDigest(ref(`${app}:2.0.0`))).toBe(env.images.digests['2.0.0'])
    expect((await client.listTags(ref(app))).sort()).toEqual([...env.images.tags].sort())
    expect(issued).toHaveLength(1)
    expect(issued[0]!.service).toBe('hotest-registry')
    expect(issued[0]!.scope).toEqual(['repository:hotest/app:pull'])
    expect(client.stats.byKind).toEqual({auth_challenge: 1, token: 1, manifest_head: 2, tags_list: 1})
    // Another repository is another scope: a new token, fetched up front (no second challenge).
    expect(await client.manifestDigest(ref(`${registryHost}/${env.images.other}:1.0.0`))).toMatch(/^sha256:/)
    expect(issued.map((i) => i.scope[0])).toEqual(['repository:hotest/app:pull', 'repository:hotest/other:pull'])
    expect(client.stats.byKind.auth_challenge).toBe(1)
    await client.close()
  })

  it('fetches a new token once expires_in has passed', async () => {
    issued.length = 0
    expiresIn = 2
    // Only the clock is fake (sockets and timers stay real): 2.1 s pass without waiting for them.
    vi.useFakeTimers({toFake: ['Date']})
    try {
      const client = new RegistryClient({dockerConfigPath: '/nonexistent', credentials: creds()})
      await client.manifestDigest(ref(`${registryHost}/${env.images.app}:1.0.0`))
      await client.manifestDigest(ref(`${registryHost}/${env.images.app}:1.0.1`))
      expect(issued).toHaveLength(1)
      vi.setSystemTime(Date.now() + 2100)
      await client.manifestDigest(ref(`${registryHost}/${env.images.app}:1.1.0`))
      expect(issued).toHaveLength(2)
      await client.close()
    } finally {
      vi.useRealTimers()
      expiresIn = 300
    }
  })

  it('reports refused credentials as an OperationError naming the registry, never the secret', async () => {
    const client = new RegistryClient({
      dockerConfigPath: '/nonexistent',
      credentials: [{host: registryHost, username: user, password: 'not-the-password'}],
    })
    const error = await client.manifestDigest(ref(`${registryHost}/${env.images.app}:1.0.0`)).catch((e) => e)
    expect(error).toBeInstanceOf(OperationError)
    expect(error.message).toContain(registryHost)
    expect(error.message).toContain('refused the credentials')
    expect(error.message).not.toContain('not-the-password')
    const anonymous = new RegistryClient({dockerConfigPath: '/nonexistent'})
    await expect(anonymous.manifestDigest(ref(`${registryHost}/${env.images.app}:1.0.0`))).rejects.toThrow(
      'requires credentials',
    )
    await client.close()
    await anonymous.close()
  })
})
