import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {type IncomingHttpHeaders, type Server, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {advertisedRefs, parseAdvertisement, remoteBranchHead} from '../../../src/lib/swarm/remote-head.js'
import {git as gitIn} from './fixtures.js'

const ADVERTISEMENT = 'application/x-git-upload-pack-advertisement'
const dir = mkdtempSync(join(tmpdir(), 'hotest-swarm-remote-head-'))
const git = (...args: string[]) => gitIn(dir, ...args)

/** What `git http-backend` sends for `GET info/refs?service=git-upload-pack` (protocol v0). */
function realAdvertisement(): Buffer {
  const refs = execFileSync('git', ['upload-pack', '--stateless-rpc', '--advertise-refs', dir])
  return Buffer.concat([Buffer.from('001e# service=git-upload-pack\n0000'), refs])
}

let main = ''
let feature = ''
beforeAll(() => {
  git('init', '-q', '-b', 'main')
  writeFileSync(join(dir, 'a'), 'a')
  git('add', 'a')
  git('commit', '-q', '-m', 'a')
  main = git('rev-parse', 'HEAD')
  git('checkout', '-q', '-b', 'feature')
  git('commit', '-q', '--allow-empty', '-m', 'b')
  feature = git('rev-parse', 'HEAD')
  git('checkout', '-q', 'main')
  git('tag', 'v1')
})

/** A remote on 127.0.0.1 answering every request with `answer`, recording the requests' headers. */
interface FakeRemote {
  url: string
  requests: {url?: string; headers: IncomingHttpHeaders}[]
}
const servers: Server[] = []
async function remote(answer: (res: ServerResponse) => void): Promise<FakeRemote> {
  const requests: FakeRemote['requests'] = []
  const server = createServer((req, res) => {
    requests.push({url: req.url, headers: req.headers})
    answer(res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  return {url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/stacks.git`, requests}
}
const advertise = (body: Buffer) => (res: ServerResponse) =>
  res.writeHead(200, {'content-type': ADVERTISEMENT}).end(body)

afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
  rmSync(dir, {recursive: true, force: true})
})

describe('advertisedRefs', () => {
  it('reads the refs of a real upload-pack advertisement', () => {
    const refs = advertisedRefs(realAdvertisement())!
    expect(refs.get('HEAD')).toBe(main)
    expect(refs.get('refs/heads/main')).toBe(main)
    expect(refs.get('refs/heads/feature')).toBe(feature)
    expect(refs.get('refs/tags/v1')).toBe(main)
  })

  it('refuses anything else: protocol v2, a dumb answer, a cut or padded advertisement', () => {
    const real = realAdvertisement()
    expect(advertisedRefs(Buffer.from('001e# service=git-upload-pack\n0000000eversion 2\n0000'))).toBeUndefined()
    expect(advertisedRefs(Buffer.from(`${main}\trefs/heads/main\n`))).toBeUndefined()
    expect(advertisedRefs(real.subarray(0, real.length - 4))).toBeUndefined()
    expect(advertisedRefs(real.subarray(0, real.length - 10))).toBeUndefined()
    expect(advertisedRefs(Buffer.concat([real, Buffer.from('0000')]))).toBeUndefined()
    expect(advertisedRefs(Buffer.alloc(0))).toBeUndefined()
  })
})

describe('parseAdvertisement', () => {
  it("reads the remote's default branch from the symref capability", () => {
    expect(parseAdvertisement(realAdvertisement())?.defaultBranch).toBe('main')
    git('symbolic-ref', 'HEAD', 'refs/heads/feature')
    try {
      expect(parseAdvertisement(realAdvertisement())?.defaultBranch).toBe('feature')
    } finally {
      git('symbolic-ref', 'HEAD', 'refs/heads/main')
    }
  })
})

describe('remoteBranchHead', () => {
  it('asks info/refs once and returns the tip of the branch, sending the authorization it is given', async () => {
    const fake = await remote(advertise(realAdvertisement()))
    expect(await remoteBranchHead({url: fake.url, branch: 'feature', authorization: 'Basic abc', env: {}})).toBe(
      feature,
    )
    expect(await remoteBranchHead({url: `${fake.url}/`, branch: 'main', env: {}})).toBe(main)
    expect(fake.requests.map((r) => r.url)).toEqual([
      '/stacks.git/info/refs?service=git-upload-pack',
      '/stacks.git/info/refs?service=git-upload-pack',
    ])
    expect(fake.requests.map((r) => r.headers.authorization)).toEqual(['Basic abc', undefined])
    expect(fake.requests[0]!.headers['git-protocol']).toBeUndefined()
  })

  it('is undefined for a branch the remote does not have', async () => {
    const fake = await remote(advertise(realAdvertisement()))
    expect(await remoteBranchHead({url: fake.url, branch: 'gone', env: {}})).toBeUndefined()
  })

  it('does not follow a redirect, so the authorization never reaches another host', async () => {
    const elsewhere = await remote(advertise(realAdvertisement()))
    const fake = await remote((res) =>
      res.writeHead(302, {location: `${elsewhere.url}/info/refs?service=git-upload-pack`}).end(),
    )
    expect(await remoteBranchHead({url: fake.url, branch: 'main', authorization: 'Basic abc', env: {}})).toBeUndefined()
    expect(elsewhere.requests).toEqual([])
  })

  it('is undefined on an auth challenge, a dumb-HTTP answer or a server error (the caller fetches)', async () => {
    const challenge = await remote((res) => res.writeHead(401, {'www-authenticate': 'Basic realm="git"'}).end())
    const dumb = await remote((res) =>
      res.writeHead(200, {'content-type': 'text/plain'}).end(`${main}\trefs/heads/main\n`),
    )
    const broken = await remote((res) => res.writeHead(500).end())
    for (const fake of [challenge, dumb, broken]) {
      expect(await remoteBranchHead({url: fake.url, branch: 'main', env: {}})).toBeUndefined()
      expect(fake.requests).toHaveLength(1)
    }
  })

  it('is undefined when the remote does not answer in time or cannot be reached', async () => {
    const silent = await remote(() => {
      // never answers
    })
    expect(await remoteBranchHead({url: silent.url, branch: 'main', timeoutMs: 200, env: {}})).toBeUndefined()
    const closed = await remote(advertise(realAdvertisement()))
    const server = servers.pop()!
    await new Promise((resolve) => server.close(resolve))
    expect(await remoteBranchHead({url: closed.url, branch: 'main', env: {}})).toBeUndefined()
  })

  it('leaves ssh, file remotes and proxied environments to git', async () => {
    const fake = await remote(advertise(realAdvertisement()))
    expect(await remoteBranchHead({url: 'git@github.com:me/stacks.git', branch: 'main', env: {}})).toBeUndefined()
    expect(await remoteBranchHead({url: dir, branch: 'main', env: {}})).toBeUndefined()
    expect(await remoteBranchHead({url: `file://${dir}`, branch: 'main', env: {}})).toBeUndefined()
    expect(
      await remoteBranchHead({url: fake.url, branch: 'main', env: {HTTPS_PROXY: 'http://proxy.example:3128'}}),
    ).toBeUndefined()
    expect(
      await remoteBranchHead({url: fake.url, branch: 'main', env: {http_proxy: 'http://proxy:3128'}}),
    ).toBeUndefined()
    expect(fake.requests).toEqual([])
  })
})
