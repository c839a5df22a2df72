import {createHash} from 'node:crypto'
import {type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {checkExitCode, checkWorkloads} from '../../../src/lib/images/checker.js'
import type {Workload} from '../../../src/lib/images/workloads.js'
import {silentLogger} from '../../../src/lib/log/logger.js'
import {RegistryClient} from '../../../src/lib/registry/client.js'

// A protocol-faithful registry with one repository, and one that answers garbage.
const digest = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`
const TAGS: Record<string, string> = {
  '1.0.0': digest('a'),
  '1.0.1': digest('b'),
  '1.1.0': digest('c'),
  latest: digest('d'),
}
let good: Server
let broken: Server
let host: string
let brokenHost: string

beforeAll(async () => {
  good = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x')
    const tag = /\/manifests\/(.+)$/.exec(url.pathname)?.[1]
    if (url.pathname === '/v2/team/app/tags/list') {
      res
        .writeHead(200, {'content-type': 'application/json'})
        .end(JSON.stringify({name: 'team/app', tags: Object.keys(TAGS)}))
    } else if (tag && TAGS[tag] && url.pathname.startsWith('/v2/team/app/')) {
      res.writeHead(200, {'docker-content-digest': TAGS[tag]}).end()
    } else res.writeHead(404, {'content-type': 'application/json'}).end('{"errors":[{"code":"NAME_UNKNOWN"}]}')
  })
  broken = createServer((req, res) => res.writeHead(200).end(req.method === 'HEAD' ? undefined : '<html>'))
  await Promise.all([good, broken].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))))
  host = `127.0.0.1:${(good.address() as AddressInfo).port}`
  brokenHost = `127.0.0.1:${(broken.address() as AddressInfo).port}`
})
afterAll(async () => {
  await Promise.all([good, broken].map((s) => new Promise((r) => s.close(r))))
})

const workload = (
  name: string,
  image: string,
  labels: Record<string, string> = {},
  repoDigests?: string[],
): Workload => ({
  name,
  id: `id-${name}`,
  kind: 'container',
  image,
  labels,
  repoDigests: repoDigests ?? [`${image.replace(/:[^:/]+$/, '')}@${TAGS[image.split(':').at(-1)!] ?? digest('x')}`],
})

describe('checkWorkloads', () => {
  it('checks every workload even when some fail, and says which failures are temporary', async () => {
    const client = new RegistryClient({dockerConfigPath: '/nonexistent', timeoutMs: 2000})
    const report = await checkWorkloads(
      [
        workload('ok', `${host}/team/app:1.0.0`, {'homeops.images.strategy': 'PATCH'}),
        workload('rebuilt', `${host}/team/app:latest`, {}, [`${host}/team/app@${digest('old')}`]),
        workload('unreachable', '127.0.0.1:9/team/app:1.0.0'),
        workload('missing', `${host}/team/gone:1.0.0`),
        workload('malformed', `${brokenHost}/team/app:latest`),
        workload('badregex', `${host}/team/app:1.0.0`, {'homeops.images.exclude': '*'}),
        workload('disabled', `${host}/team/app:1.0.0`, {'image-watcher/mode': 'disabled'}),
        workload('local', `${host}/team/app:1.0.0`, {}, []),
        workload('byid', 'sha256:' + 'e'.repeat(64)),
      ],
      {client, logger: silentLogger},
    )
    await client.close()
    const by = Object.fromEntries(report.results.map((r) => [r.workload, r]))
    expect(by.ok).toMatchObject({
      status: 'update_available',
      newestAllowed: '1.0.1',
      newestOverall: '1.1.0',
      digestStatus: 'up_to_date',
    })
    expect(by.rebuilt).toMatchObject({
      status: 'update_available',
      update: {type: 'digest', tag: 'latest', digest: TAGS.latest},
    })
    expect(by.unreachable).toMatchObject({status: 'error', transient: true})
    expect(by.unreachable!.error).toContain('cannot reach the registry 127.0.0.1:9')
    expect(by.missing).toMatchObject({status: 'error', transient: false})
    expect(by.missing!.error).toContain('HTTP 404')
    expect(by.malformed).toMatchObject({status: 'error', transient: false})
    expect(by.malformed!.error).toContain('malformed manifest')
    expect(by.badregex).toMatchObject({status: 'error', currentTag: '1.0.0'})
    expect(by.badregex!.error).toMatch(/^label homeops.images.exclude is not a valid regular expression/)
    expect(by.disabled).toMatchObject({status: 'disabled'})
    expect(by.local).toMatchObject({status: 'local_image', digestStatus: 'unknown_local_digest', error: null})
    expect(by.local!.note).toContain('built or loaded locally')
    expect(by.byid).toMatchObject({
      status: 'unknown',
      error: null,
      note: 'runs an image ID, not a name: nothing to compare',
    })
    expect(report.summary).toEqual({workloads: 9, updates: 2, errors: 4, disabled: 1, local: 1})
    expect(checkExitCode(report)).toBe(1)
  })

  it('treats a locally built image as a state, not a failure: no registry request, exit 0', async () => {
    const client = new RegistryClient({dockerConfigPath: '/nonexistent', timeoutMs: 2000})
    // Not a registry at all: a local-only image must not make anyone try it.
    const report = await checkWorkloads([workload('built', '127.0.0.1:9/myapp:latest', {}, [])], {
      client,
      logger: silentLogger,
    })
    await client.close()
    expect(report.results[0]).toMatchObject({status: 'local_image', error: null, transient: false})
    expect(report.registryRequests.requests).toBe(0)
    expect(checkExitCode(report)).toBe(0)
  })

  it('says why a versioned workload has no candidate', async () => {
    const client = new RegistryClient({dockerConfigPath: '/nonexistent'})
    const report = await checkWorkloads(
      [workload('pinned', `${host}/team/app:1.0.1`, {'homeops.images.strategy': 'PATCH'})],
      {client, logger: silentLogger},
    )
    await client.close()
    expect(report.results[0]).toMatchObject({
      status: 'up_to_date',
      note: '1 newer (up to 1.1.0) not allowed by strategy PATCH',
    })
  })

  it('fails the check (exit 1) when the digest check fails beside a version found by the tag list', async () => {
    const half = createServer((req, res) => {
      if (req.url!.includes('/tags/list'))
        res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({tags: ['1.0.0', '1.1.0']}))
      else res.writeHead(403).end()
    })
    await new Promise<void>((r) => half.listen(0, '127.0.0.1', r))
    const halfHost = `127.0.0.1:${(half.address() as AddressInfo).port}`
    const client = new RegistryClient({dockerConfigPath: '/nonexistent'})
    const report = await checkWorkloads([workload('half', `${halfHost}/team/app:1.0.0`)], {
      client,
      logger: silentLogger,
    })
    await client.close()
    await new Promise((r) => half.close(r))
    expect(report.results[0]).toMatchObject({status: 'update_available', newestAllowed: '1.1.0', transient: false})
    expect(report.results[0]!.error).toContain('HTTP 403')
    expect(report.summary.errors).toBe(1)
    expect(checkExitCode(report)).toBe(1)
  })

  it('names the cause of a registry that is down once per workload', async () => {
    const client = new RegistryClient({dockerConfigPath: '/nonexistent', timeoutMs: 2000})
    const report = await checkWorkloads(
      [workload('a', '127.0.0.1:9/team/app:1.0.0'), workload('b', '127.0.0.1:9/team/other:2.0.0')],
      {client, logger: silentLogger},
    )
    await client.close()
    for (const r of report.results) expect(r.error).toBe('cannot reach the registry 127.0.0.1:9: connection refused')
    expect(report.registryRequests.requests).toBeGreaterThan(0)
    expect(checkExitCode(report)).toBe(3)
  })
})
