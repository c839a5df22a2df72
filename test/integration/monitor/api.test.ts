import {readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'

import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {Context} from '../../../src/lib/context.js'
import {Router} from '../../../src/lib/http/router.js'
import {type RunningHttpServer, startHttpServer} from '../../../src/lib/http/server.js'
import {MetricsRegistry} from '../../../src/lib/metrics/registry.js'
import {type MonitorMode, createMonitorMode} from '../../../src/lib/monitor/mode.js'
import {testEnv} from '../../support/testenv.js'
import {
  Cleanup,
  appImage,
  buildImage,
  docker,
  monitorContext,
  pushImage,
  runContainer,
  silent,
  tagImage,
  uniqueName,
  waitFor,
} from './harness.js'

const KEY = 'ha-test-key-0123456789'
const STATUSES = ['up_to_date', 'update_available', 'unknown_image', 'unknown_local_digest', 'registry_error']
const META_FIELDS = [
  'state',
  'image',
  'cpu',
  'mem_usage',
  'mem_limit',
  'mem_perc',
  'net_rx',
  'net_tx',
  'blk_read',
  'blk_write',
  // Added beside the original tool's fields (never removed or renamed): one update notion, task containers.
  'updatable',
  'version_status',
  'version_update',
]

const d = docker()
const cleanup = new Cleanup(d)
let context: Context
let mode: MonitorMode
let server: RunningHttpServer
let server6: RunningHttpServer
let metrics: MetricsRegistry
let settingsPath: string
const names = {
  current: uniqueName('cur'),
  outdated: uniqueName('old'),
  stopped: uniqueName('stp'),
  self: uniqueName('self'),
}
let outdatedRef: string
let newDigest: string

async function call(
  method: string,
  path: string,
  options: {key?: string | null; body?: unknown; raw?: string; headers?: Record<string, string>; base?: string} = {},
): Promise<{status: number; body: Record<string, unknown>}> {
  const url = new URL(path, options.base ?? server.url)
  if (options.key !== null) url.searchParams.set('key', options.key ?? KEY)
  const response = await fetch(url, {
    method,
    headers: {
      ...(options.body !== undefined || options.raw ? {'content-type': 'application/json'} : {}),
      ...options.headers,
    },
    body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  })
  const text = await response.text()
  return {status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}}
}

beforeAll(async () => {
  // A tag whose registry digest moves after the container started: update_available.
  const repo = `${testEnv().registry.host}/${uniqueName('ha')}/app`
  outdatedRef = `${repo}:1`
  const v1 = await buildImage(d, cleanup, outdatedRef, 'echo one > /marker')
  await pushImage(d, outdatedRef)
  await runContainer(d, cleanup, {name: names.outdated, Image: outdatedRef})
  await buildImage(d, cleanup, outdatedRef, 'echo two > /marker')
  newDigest = await pushImage(d, outdatedRef)
  await tagImage(d, cleanup, v1, outdatedRef)

  await runContainer(d, cleanup, {name: names.current, Image: appImage('1.0.0')})
  const stopped = await runContainer(d, cleanup, {name: names.stopped, Image: appImage('1.0.1')})
  await stopped.stop({t: 0})
  const self = await runContainer(d, cleanup, {name: names.self, Image: appImage('1.0.0')})

  const dir = cleanup.tempDir()
  settingsPath = join(dir, 'settings.json')
  context = await monitorContext(cleanup, {
    API_ENABLED: 'true',
    AUTH_ENABLED: 'true',
    API_KEY: KEY,
    SETTINGS_PATH: settingsPath,
  })
  mode = createMonitorMode({self: {ids: [self.id], hostname: 'not-a-container'}})
  metrics = new MetricsRegistry()
  const router = new Router()
  mode.routes!(router)
  await mode.start({context, metrics, signal: context.signal, crashed: () => {}})
  server = await startHttpServer({listen: {host: '127.0.0.1', port: 0}, router, logger: silent})
  server6 = await startHttpServer({listen: {host: '::1', port: 0}, router, logger: silent})
}, 180_000)

afterAll(async () => {
  await server?.close(100)
  await server6?.close(100)
  await mode?.stop()
  await context?.close()
  await cleanup.run()
}, 120_000)

function expectHaShape(body: Record<string, unknown>, name: string): void {
  const updates = body.updates as Record<string, string>
  const meta = body.meta as Record<string, Record<string, unknown>>
  expect(STATUSES).toContain(updates[name])
  expect(Object.keys(meta[name]!).sort()).toEqual([...META_FIELDS].sort())
  for (const field of ['mem_usage', 'mem_limit', 'net_rx', 'net_tx', 'blk_read', 'blk_write']) {
    const value = meta[name]![field]
    if (value !== null) expect(Number.isInteger(value), `${name}.${field}=${String(value)}`).toBe(true)
  }
  for (const field of ['cpu', 'mem_perc']) {
    const value = meta[name]![field]
    if (value !== null) expect(typeof value).toBe('number')
  }
}

describe('the Home Assistant integration replayed', () => {
  it('reads status, update status and live metrics on every poll (key in the query, force=1)', async () => {
    // The first polls may come before the second stats sample: CPU needs two.
    const first = await waitFor('cpu of the running container', async () => {
      const r = await call('GET', '/status?force=1')
      const meta = (r.body.meta as Record<string, Record<string, unknown>>)[names.current]
      return meta && typeof meta.cpu === 'number' ? r : undefined
    })
    expect(first.status).toBe(200)
    expect(first.body.status).toBe('ok')
    for (const name of [names.current, names.outdated, names.stopped]) expectHaShape(first.body, name)
    const updates = first.body.updates as Record<string, string>
    const meta = first.body.meta as Record<string, Record<string, unknown>>
    expect(updates[names.current]).toBe('up_to_date')
    expect(updates[names.outdated]).toBe('update_available')
    expect(meta[names.current]).toMatchObject({state: 'running', image: appImage('1.0.0')})
    expect(meta[names.current]!.mem_usage).toBeGreaterThan(0)
    expect(meta[names.current]!.mem_limit).toBeGreaterThan(meta[names.current]!.mem_usage as number)
    expect(meta[names.current]!.net_rx).toBeGreaterThanOrEqual(0)
    expect(meta[names.stopped]).toMatchObject({state: 'exited', cpu: null, mem_usage: null, net_rx: null})

    // Polling again with force=1 does not ask the registry again within the minute.
    const checks = mode.service!.updates.checks
    for (let i = 0; i < 3; i++) expect((await call('GET', '/status?force=1')).status).toBe(200)
    expect(mode.service!.updates.checks).toBe(checks)
  })

  it('answers /status/NAME with one key, and not_found for an unknown name', async () => {
    const one = await call('GET', `/status/${names.outdated}?force=1`)
    expect(Object.keys(one.body.updates as object)).toEqual([names.outdated])
    expectHaShape(one.body, names.outdated)
    const missing = await call('GET', '/status/no-such-container')
    expect(missing.status).toBe(200)
    expect(missing.body).toEqual({
      status: 'ok',
      updates: {'no-such-container': 'not_found'},
      meta: {'no-such-container': {}},
      // homeops' additions: how fresh the data is
      docker_connected: true,
      stale: false,
      as_of: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    })
  })

  it('gives only state and image with light=1', async () => {
    const light = await call('GET', '/status?light=1')
    expect((light.body.meta as Record<string, object>)[names.current]).toEqual({
      state: 'running',
      image: appImage('1.0.0'),
    })
  })

  it('updates a container through POST /update_container and reports it up to date afterwards', async () => {
    const before = await d.getContainer(names.outdated).inspect()
    const r = await call('POST', '/update_container', {body: {name: names.outdated}})
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({updated: true})
    expect(typeof r.body.message).toBe('string')
    const after = await d.getContainer(names.outdated).inspect()
    expect(after.Id).not.toBe(before.Id)
    expect((await d.getImage(after.Image).inspect()).RepoDigests).toContain(
      `${outdatedRef.split(':1')[0]}@${newDigest}`,
    )
    const poll = await call('GET', `/status/${names.outdated}?force=1`)
    expect((poll.body.updates as Record<string, string>)[names.outdated]).toBe('up_to_date')
    expect((poll.body.meta as Record<string, Record<string, unknown>>)[names.outdated]!.state).toBe('running')
    // Again: nothing new to pull, nothing recreated.
    const again = await call('POST', '/update_container', {body: {name: names.outdated}})
    expect(again.body).toMatchObject({updated: false})
    expect((await d.getContainer(names.outdated).inspect()).Id).toBe(after.Id)
  })

  it('answers the documented errors of /update_container and changes nothing', async () => {
    expect(await call('POST', '/update_container', {body: {}})).toEqual({status: 400, body: {error: "Missing 'name'"}})
    expect(await call('POST', '/update_container', {body: {name: 'hotest-monitor-none'}})).toEqual({
      status: 404,
      body: {error: 'container not found'},
    })
    const selfBefore = await d.getContainer(names.self).inspect()
    const self = await call('POST', '/update_container', {body: {name: names.self}})
    expect(self.status).toBe(409)
    expect(self.body.error).toBe('self_update_blocked')
    expect((await d.getContainer(names.self).inspect()).State.StartedAt).toBe(selfBefore.State.StartedAt)
    expect((await call('POST', '/update_container', {raw: '{"name": '})).status).toBe(400)
    const big = await call('POST', '/update_container', {raw: JSON.stringify({name: 'x'.repeat(10_000)})})
    expect(big.status).toBe(413)
  })

  it('serves /diag, /health, /images/unused and prunes only what it is asked to', async () => {
    const diag = await call('GET', '/diag')
    expect(diag.body).toMatchObject({ok: true, ping: true})
    expect(diag.body.containers).toEqual(expect.arrayContaining([names.current, names.stopped]))
    expect((await call('GET', '/health', {key: null})).body).toMatchObject({status: 'ok'})

    const label = `hotest.monitor.prune=${uniqueName('p')}`
    const ref = `hotest-monitor-prune/${uniqueName('img')}:1`
    const id = await buildImage(d, cleanup, ref, 'echo prune-me > /p', {
      labels: {[label.split('=')[0]!]: label.split('=')[1]!},
    })
    const unused = await call('GET', '/images/unused')
    expect(unused.body.count).toBe((unused.body.items as unknown[]).length)
    const item = (unused.body.items as {id: string; tags: string[]}[]).find((i) => i.id === id)
    expect(item).toMatchObject({id, tags: [ref]})
    // Images used by containers (even stopped ones) are never listed.
    const usedIds = (await d.listContainers({all: true})).map((c) => c.ImageID)
    for (const i of unused.body.items as {id: string}[]) expect(usedIds).not.toContain(i.id)

    const pruned = await call('POST', '/images/prune', {body: {label: [label]}})
    expect(pruned.status).toBe(200)
    expect(pruned.body.ImagesDeleted).toEqual(expect.arrayContaining([{Deleted: id}, {Untagged: ref}]))
    expect(typeof pruned.body.SpaceReclaimed).toBe('number')
    await expect(d.getImage(id).inspect()).rejects.toMatchObject({statusCode: 404})
    // The shared test images are still there.
    await d.getImage(appImage('2.0.0')).inspect()
  })

  it('exports container CPU and memory as Prometheus gauges', async () => {
    const families = parsePrometheusTextFormat(metrics.render()) as {
      name: string
      metrics: {labels?: Record<string, string>; value: string}[]
    }[]
    const cpu = families.find((f) => f.name === 'homeops_container_cpu_percent')!
    const mem = families.find((f) => f.name === 'homeops_container_memory_bytes')!
    expect(cpu.metrics.map((m) => m.labels?.name)).toContain(names.current)
    expect(Number(mem.metrics.find((m) => m.labels?.name === names.current)!.value)).toBeGreaterThan(0)
    expect(cpu.metrics.map((m) => m.labels?.name)).not.toContain(names.stopped)
  })
})

describe('access rules', () => {
  it('needs the key when auth is on: query, Bearer or X-API-Key, compared exactly', async () => {
    expect(await call('GET', '/status', {key: null})).toEqual({status: 401, body: {error: 'unauthorized'}})
    expect((await call('GET', '/status', {key: KEY + 'x'})).status).toBe(401)
    expect((await call('GET', '/status', {key: null, headers: {authorization: `Bearer ${KEY}`}})).status).toBe(200)
    expect((await call('GET', '/status', {key: null, headers: {'x-api-key': KEY}})).status).toBe(200)
    expect((await call('POST', '/update_container', {key: null, body: {name: names.current}})).status).toBe(401)
  })

  it('masks the key in GET /settings and needs it for changes; a bad change changes nothing', async () => {
    const got = await call('GET', '/settings')
    expect(got.body).toMatchObject({auth_enabled: true, api_enabled: true, api_key: '********'})
    expect(JSON.stringify(got.body)).not.toContain(KEY)
    expect((await call('POST', '/settings', {key: null, body: {auth_enabled: false}})).status).toBe(401)
    const fileBefore = safeRead(settingsPath)
    for (const body of [
      {allowed_cidrs: '10.0.0.0/33'},
      {allowed_cidrs: []},
      {allowed_cidrs: '10.0.0.0/8'}, // would lock the caller (127.0.0.1) out
      {auth_enabled: 'maybe'},
      {api_key: 'short'},
      {unknown_thing: 1},
    ]) {
      const r = await call('POST', '/settings', {body})
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(typeof r.body.error).toBe('string')
    }
    expect(safeRead(settingsPath)).toBe(fileBefore)
    expect((await call('GET', '/status')).status).toBe(200)
  })

  it('turns the API off and on, with the web page routes still working', async () => {
    expect((await call('POST', '/settings', {body: {api_enabled: false}})).status).toBe(200)
    expect(await call('GET', '/status')).toEqual({status: 403, body: {error: 'api_disabled'}})
    expect((await call('GET', '/ui/status')).status).toBe(200)
    expect((await call('POST', '/settings', {body: {api_enabled: true}})).status).toBe(200)
    expect((await call('GET', '/status')).status).toBe(200)
  })

  it('applies the address allow-list to IPv4 and IPv6 clients', async () => {
    expect((await call('GET', '/status', {base: server6.url})).status).toBe(200)
    const r = await call('POST', '/settings', {body: {allowed_cidrs: '127.0.0.0/8, 192.168.1.0/24'}})
    expect(r.status).toBe(200)
    expect(r.body.settings).toMatchObject({allowed_cidrs: ['127.0.0.0/8', '192.168.1.0/24']})
    const denied = await call('GET', '/status', {base: server6.url})
    expect(denied.status).toBe(403)
    expect(denied.body.error).toBe('forbidden')
    expect((await call('GET', '/status')).status).toBe(200)
    expect((await call('POST', '/settings', {body: {allowed_cidrs: ['127.0.0.1/32', '::1/128']}})).status).toBe(200)
    expect((await call('GET', '/status', {base: server6.url})).status).toBe(200)
  })

  it('generates a new key, persists settings with mode 0600, and the old key stops working', async () => {
    const r = await call('POST', '/settings', {body: {generate_api_key: true}})
    expect(r.status).toBe(200)
    const generated = r.body.generated_api_key as string
    expect(generated).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect((await call('GET', '/status')).status).toBe(401)
    expect((await call('GET', '/status', {key: generated})).status).toBe(200)
    expect(statSync(settingsPath).mode & 0o777).toBe(0o600)
    expect(JSON.parse(readFileSync(settingsPath, 'utf8'))).toMatchObject({api_key: generated, auth_enabled: true})
    // Back to the test key for the other tests.
    expect((await call('POST', '/settings', {key: generated, body: {api_key: KEY}})).status).toBe(200)
  })
})

function safeRead(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}
