import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {loadConfig} from '../../../src/lib/config/load.js'
import {type Context, createContext} from '../../../src/lib/context.js'
import {Router} from '../../../src/lib/http/router.js'
import {type RunningHttpServer, startHttpServer} from '../../../src/lib/http/server.js'
import {SERVICE_LABELS} from '../../../src/lib/images/apply.js'
import {checkWorkloads} from '../../../src/lib/images/checker.js'
import {updateHistory, wasNotified} from '../../../src/lib/images/history.js'
import {createApplyToken, linkKey} from '../../../src/lib/images/links.js'
import {type ImagesMode, createImagesMode} from '../../../src/lib/images/mode.js'
import {applyWorkloadUpdate, createRegistryClient, runCheck, runWatch} from '../../../src/lib/images/watcher.js'
import {discoverWorkloads} from '../../../src/lib/images/workloads.js'
import {Logger} from '../../../src/lib/log/logger.js'
import {MetricsRegistry} from '../../../src/lib/metrics/registry.js'
import {dockerEnv, testEnv} from '../../support/testenv.js'

const env = testEnv()
const prefix = `hotest-images-${randomBytes(3).toString('hex')}`
const reg = env.registry.host
const app = `${reg}/${env.images.app}`
const names = {
  notify: `${prefix}-notify`,
  auto: `${prefix}-auto`,
  rollback: `${prefix}-rollback`,
  badLabel: `${prefix}-badlabel`,
  disabled: `${prefix}-disabled`,
  container: `${prefix}-ctr`,
  authContainer: `${prefix}-authctr`,
  badRegex: `${prefix}-badregex`,
}

function docker(...args: string[]): string {
  return execFileSync('docker', args, {
    env: dockerEnv(),
    encoding: 'utf8',
    timeout: 90_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim()
}

function createService(name: string, image: string, labels: Record<string, string>, command: string[] = []): void {
  docker(
    'service',
    'create',
    '--detach=false',
    '--quiet',
    '--name',
    name,
    '--update-monitor',
    '2s',
    '--rollback-monitor',
    '1s',
    '--stop-grace-period',
    '1s',
    '--restart-delay',
    '200ms',
    ...Object.entries({...labels, 'homeops.images.scope': prefix}).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
    image,
    ...command,
  )
}

function serviceImage(name: string): string {
  return docker('service', 'inspect', name, '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}')
}

function serviceLabels(name: string): Record<string, string> {
  return JSON.parse(docker('service', 'inspect', name, '--format', '{{json .Spec.Labels}}')) as Record<string, string>
}

// ---- loopback fakes: a webhook receiver, the GitHub API, an OpenAI-compatible endpoint ----
const webhooks: {
  event: string
  workload: string
  newVersion: string
  applyUrl: string | null
  releaseNotesUrl: string | null
  summary: string | null
}[] = []
let hookPosts = 0
const servers: Server[] = []
async function listen(handler: (req: IncomingMessage, res: ServerResponse) => Promise<void> | void): Promise<string> {
  const server = createServer((req, res) => void handler(req, res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}
function readBody(req: import('node:http').IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => resolve(body))
  })
}

let dir: string
let context: Context
let logs: string[]
let http: RunningHttpServer
let mode: ImagesMode
const oldDockerConfig = process.env.DOCKER_CONFIG

beforeAll(async () => {
  // Registry B's login lives in the test environment's Docker config.
  process.env.DOCKER_CONFIG = env.dockerConfigDir
  const hook = await listen(async (req, res) => {
    // One digest per run (images.batchNotifications): every notice is in `notices`.
    hookPosts++
    const digest = JSON.parse(await readBody(req)) as {notices: (typeof webhooks)[number][]}
    webhooks.push(...digest.notices)
    res.writeHead(204).end()
  })
  const github = await listen((req, res) => {
    if (req.url === '/repos/hotest/app/releases/tags/v1.1.0') {
      res.writeHead(200, {'content-type': 'application/json'})
      res.end(
        JSON.stringify({
          html_url: 'https://github.com/hotest/app/releases/tag/v1.1.0',
          body: '- new feature\n- security fix',
        }),
      )
    } else res.writeHead(404).end('{"message":"Not Found"}')
  })
  const openai = await listen(async (req, res) => {
    await readBody(req)
    res.writeHead(200, {'content-type': 'application/json'})
    res.end(
      JSON.stringify({
        choices: [{message: {role: 'assistant', content: 'Adds a feature and fixes a security issue.'}}],
      }),
    )
  })

  dir = mkdtempSync(join(tmpdir(), 'hotest-images-'))
  // publicUrl is set once the HTTP server listens (below); the config is loaded after.
  const router = new Router()
  mode = createImagesMode({runOnBoot: false, intervalSeconds: 3600})
  const modeRouter = new Router()
  mode.routes!(modeRouter)
  router.mount(modeRouter, '/images')
  logs = []
  http = await startHttpServer({
    listen: {host: '127.0.0.1', port: 0},
    router,
    logger: new Logger({level: 'error', sink: {write: () => true}}),
  })
  writeFileSync(
    join(dir, 'config.yaml'),
    [
      `docker: {host: "${env.dockerHost}"}`,
      'images:',
      '  watchByDefault: false',
      // Only this run's workloads: other runs of these tests may share the daemon at the same time.
      `  scope: ${prefix}`,
      `  publicUrl: "${http.url}"`,
      `  githubApiUrl: "${github}"`,
      `  openai: {url: "${openai}/v1", model: test-model}`,
      '  healthTimeoutSeconds: 90',
      '  notifiers:',
      `    - {type: webhook, url: "${hook}/hook"}`,
    ].join('\n'),
  )
  const {config} = loadConfig({path: join(dir, 'config.yaml'), env: {HOMEOPS_DB_PATH: join(dir, 'state.db')}})
  context = await createContext({
    config,
    logger: new Logger({level: 'debug', sink: {write: (l: string) => logs.push(l)}}),
    terminal: {interactive: false, color: false},
    version: '0.0.0-test',
  })
  await mode.start({context, metrics: new MetricsRegistry(), signal: context.signal, crashed: () => undefined})

  const source = {'org.opencontainers.image.source': 'https://github.com/hotest/app'}
  createService(names.notify, `${app}:1.0.0`, {
    'homeops.images.mode': 'NOTIFICATION',
    'homeops.images.strategy': 'MINOR',
    ...source,
  })
  createService(names.auto, `${app}:1.0.0`, {'homeops.images.mode': 'AUTO_UPDATE', 'homeops.images.strategy': 'PATCH'})
  createService(
    names.rollback,
    `${app}:1.0.0`,
    {'image-watcher/mode': 'AUTO_UPDATE', 'image-watcher/strategy': 'MINOR'},
    ['sh', '-c', '[ "$(cat /VERSION)" = 1.0.0 ] && exec sleep 3600; exit 1'],
  )
  createService(names.badLabel, `${app}:1.0.0`, {
    'homeops.images.mode': 'NOTIFICATION',
    'homeops.images.strategy': 'NEWEST',
  })
  createService(names.disabled, `${app}:1.0.0`, {'homeops.images.mode': 'DISABLED'})
  docker(
    'run',
    '-d',
    '--name',
    names.container,
    '--label',
    `homeops.images.scope=${prefix}`,
    '--label',
    'homeops.images.mode=AUTO_UPDATE',
    '--label',
    'homeops.images.strategy=MINOR',
    `${app}:1.0.0-alpine`,
  )
  docker(
    'run',
    '-d',
    '--name',
    names.badRegex,
    '--label',
    `homeops.images.scope=${prefix}`,
    '--label',
    'homeops.images.mode=NOTIFICATION',
    '--label',
    'homeops.images.include=([0-9',
    `${app}:1.0.0`,
  )
  docker(
    'run',
    '-d',
    '--name',
    names.authContainer,
    '--label',
    `homeops.images.scope=${prefix}`,
    '--label',
    'homeops.images.mode=NOTIFICATION',
    `${env.authRegistry.host}/${env.images.app}:1.0.0`,
  )
}, 240_000)

afterAll(async () => {
  await mode?.stop()
  await http?.close(500)
  await context?.close()
  for (const s of servers) s.close()
  for (const name of [names.notify, names.auto, names.rollback, names.badLabel, names.disabled]) {
    try {
      docker('service', 'rm', name)
    } catch {
      // not created
    }
  }
  for (const name of [names.container, names.authContainer, names.badRegex]) {
    try {
      docker('rm', '-f', name)
    } catch {
      // not created
    }
  }
  if (oldDockerConfig === undefined) delete process.env.DOCKER_CONFIG
  else process.env.DOCKER_CONFIG = oldDockerConfig
  rmSync(dir, {recursive: true, force: true})
}, 120_000)

const mine = <T extends {workload: string}>(rows: T[]) => rows.filter((r) => r.workload.startsWith(prefix))

describe('images check against real services and containers', () => {
  it('reports current, newest allowed by the strategy, newest overall, mode and status per workload', async () => {
    const report = await runCheck(context, {})
    // images.scope: only this run's workloads are visible.
    expect(report.results.every((r) => r.workload.startsWith(prefix))).toBe(true)
    const byName = Object.fromEntries(mine(report.results).map((r) => [r.workload, r]))
    expect(Object.keys(byName).sort()).toEqual(Object.values(names).sort())
    expect(byName[names.notify]).toMatchObject({
      kind: 'service',
      image: app,
      currentTag: '1.0.0',
      newestAllowed: '1.1.0',
      newestOverall: '2.0.0',
      mode: 'NOTIFICATION',
      strategy: 'MINOR',
      status: 'update_available',
      digestStatus: 'up_to_date',
      update: {type: 'version', tag: '1.1.0'},
    })
    expect(byName[names.auto]).toMatchObject({newestAllowed: '1.0.1', strategy: 'PATCH', mode: 'AUTO_UPDATE'})
    expect(byName[names.container]).toMatchObject({
      kind: 'container',
      currentTag: '1.0.0-alpine',
      newestAllowed: '1.1.0-alpine',
      newestOverall: '1.1.0-alpine',
    })
    // The htpasswd registry, with the credentials of the Docker config.
    expect(byName[names.authContainer]).toMatchObject({
      currentTag: '1.0.0',
      newestAllowed: '2.0.0',
      digestStatus: 'up_to_date',
      status: 'update_available',
    })
    // A bad label: that workload reports it, the others are checked.
    expect(byName[names.badLabel]).toMatchObject({
      status: 'error',
      error: 'label homeops.images.strategy="NEWEST" is not one of ALL, MAJOR, MINOR, PATCH',
    })
    expect(byName[names.badRegex]!.status).toBe('error')
    expect(byName[names.badRegex]!.error).toMatch(/^label homeops.images.include is not a valid regular expression/)
    expect(byName[names.disabled]).toMatchObject({status: 'disabled', mode: 'DISABLED'})
  })

  it('refuses an update to a tag the registry does not have, and changes nothing', async () => {
    const before = serviceImage(names.auto)
    const error = await applyWorkloadUpdate(context, {workload: names.auto, to: '9.9.9', by: 'manual'}).catch(
      (e: Error) => e,
    )
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toBe(`${app}:9.9.9 was not found on ${reg} (HTTP 404: no such repository or tag)`)
    expect(serviceImage(names.auto)).toBe(before)
    await expect(applyWorkloadUpdate(context, {workload: `${prefix}-nope`, by: 'manual'})).rejects.toThrow(
      `no running container or Swarm service named "${prefix}-nope"`,
    )
  })

  it('keeps an explicit DISABLED label even under an IMAGE_WATCHER_MODE override', async () => {
    const {docker: d} = await context.docker()
    const workloads = (await discoverWorkloads(d, context.logger)).filter((w) => w.name === names.disabled)
    const client = createRegistryClient(context)
    const report = await checkWorkloads(workloads, {client, logger: context.logger, overrides: {mode: 'AUTO_UPDATE'}})
    await client.close()
    expect(report.results[0]).toMatchObject({status: 'disabled', mode: 'DISABLED'})
    await expect(applyWorkloadUpdate(context, {workload: names.disabled, by: 'manual'})).rejects.toThrow('DISABLED')
    expect(serviceImage(names.disabled)).toContain(':1.0.0@')
  })
})

describe('images watch: notifications, auto-update, rollback', () => {
  it('notifies once per new version, auto-updates, reports a rollback as a failure', async () => {
    const report = await runWatch(context)
    const notified = mine(report.notified)
    expect(notified.map((n) => n.workload).sort()).toEqual([names.authContainer, names.notify].sort())

    const notice = webhooks.find((w) => w.workload === names.notify && w.event === 'update_available')!
    expect(notice.newVersion).toBe('1.1.0')
    expect(notice.releaseNotesUrl).toBe('https://github.com/hotest/app/releases/tag/v1.1.0')
    expect(notice.summary).toBe('Adds a feature and fixes a security issue.')
    expect(notice.applyUrl).toMatch(new RegExp(`^${http.url}/images/apply\\?token=[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$`))
    expect(serviceLabels(names.notify)[SERVICE_LABELS.notified]).toBe('1.1.0')

    // AUTO_UPDATE service: PATCH strategy → 1.0.1, pinned by digest, labels, history.
    expect(serviceImage(names.auto)).toBe(`${app}:1.0.1@${env.images.digests['1.0.1']}`)
    const labels = serviceLabels(names.auto)
    expect(labels[SERVICE_LABELS.previous]).toBe('1.0.0')
    expect(labels[SERVICE_LABELS.current]).toBe('1.0.1')
    expect(Date.parse(labels[SERVICE_LABELS.updated]!)).toBeGreaterThan(Date.now() - 300_000)
    expect(docker('service', 'inspect', names.auto, '--format', '{{.Spec.UpdateConfig.FailureAction}}')).toBe(
      'rollback',
    )

    // The failing version rolls back: reported as a failure, the service stays on 1.0.0.
    const rolled = report.updates.find((u) => u.workload === names.rollback)!
    expect(rolled.result).toBe('rolled_back')
    expect(rolled.error).toContain('rolled back to 1.0.0')
    expect(serviceImage(names.rollback)).toContain(':1.0.0@')
    expect(webhooks.some((w) => w.workload === names.rollback && w.event === 'update_failed')).toBe(true)

    // The container: pulled and recreated under the same name on 1.1.0-alpine.
    const ctr = report.updates.find((u) => u.workload === names.container)!
    expect(ctr).toMatchObject({
      result: 'applied',
      previousVersion: '1.0.0-alpine',
      newVersion: '1.1.0-alpine',
      by: 'auto',
    })
    expect(docker('inspect', names.container, '--format', '{{.Config.Image}} {{.State.Running}}')).toBe(
      `${app}:1.1.0-alpine true`,
    )
    expect(docker('inspect', names.container, '--format', '{{index .Config.Labels "homeops.images.mode"}}')).toBe(
      'AUTO_UPDATE',
    )

    const history = mine(updateHistory(await context.state()))
    expect(history.map((h) => `${h.workload} ${h.previousVersion}→${h.newVersion} ${h.by} ${h.result}`).sort()).toEqual(
      [
        `${names.auto} 1.0.0→1.0.1 auto applied`,
        `${names.container} 1.0.0-alpine→1.1.0-alpine auto applied`,
        `${names.rollback} 1.0.0→1.1.0 auto rolled_back`,
      ].sort(),
    )
  })

  it('never repeats a notification for the same version', async () => {
    const before = webhooks.filter((w) => w.workload === names.notify).length
    const report = await runWatch(context)
    expect(mine(report.notified)).toEqual([])
    // A rolled-back automatic update is not retried on every run.
    expect(mine(report.updates)).toEqual([])
    expect(webhooks.filter((w) => w.workload === names.notify).length).toBe(before)
  })

  it('notifies a version found while no notifier existed once a notifier is added', async () => {
    // As if 1.1.0 had been found before any notifier was configured.
    const db = await context.state()
    db.prepare('DELETE FROM images_notifications WHERE workload = ?').run(names.notify)
    const silent = await runWatch(context, {notifiers: []})
    expect(mine(silent.notified)).toEqual([])
    expect(wasNotified(db, names.notify, '1.1.0')).toBe(false)
    const posts = hookPosts
    const report = await runWatch(context)
    expect(mine(report.notified)).toEqual([{workload: names.notify, version: '1.1.0', delivered: 1, failed: 0}])
    // One digest per run, not one message per workload.
    expect(hookPosts - posts).toBe(1)
    expect(wasNotified(db, names.notify, '1.1.0')).toBe(true)
  })
})

describe('apply links through images serve', () => {
  const version = () => docker('service', 'inspect', names.notify, '--format', '{{.Version.Index}}')

  it('refuses an expired or forged link and changes nothing', async () => {
    const db = await context.state()
    const before = version()
    const expired = createApplyToken(linkKey(db), names.notify, '1.1.0', 1000, Date.now() - 60_000).token
    const get = await fetch(`${http.url}/images/apply?token=${expired}`)
    expect(get.status).toBe(410)
    expect(await get.text()).toContain('this link expired')
    const post = await fetch(`${http.url}/images/apply`, {
      method: 'POST',
      headers: {'content-type': 'application/x-www-form-urlencoded'},
      body: `token=${expired}`,
    })
    expect(post.status).toBe(410)
    const forged = createApplyToken(Buffer.alloc(32, 7), names.notify, '2.0.0', 60_000).token
    const refused = await fetch(`${http.url}/images/apply`, {
      method: 'POST',
      headers: {'content-type': 'application/json', accept: 'application/json'},
      body: JSON.stringify({token: forged}),
    })
    expect(refused.status).toBe(403)
    expect(await refused.json()).toMatchObject({error: 'bad_signature'})
    expect(version()).toBe(before)
    expect(serviceImage(names.notify)).toContain(':1.0.0@')
  })

  it('shows a confirmation page on GET, applies on POST once, refuses the replay', async () => {
    const applyUrl = webhooks.find((w) => w.workload === names.notify && w.applyUrl)!.applyUrl!
    const page = await fetch(applyUrl)
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).toContain(`<h1>Apply 1.1.0 to ${names.notify}?</h1>`)
    expect(html).toContain('<form method="post"')
    // GET changed nothing.
    expect(serviceImage(names.notify)).toContain(':1.0.0@')

    const token = new URL(applyUrl).searchParams.get('token')!
    const applied = await fetch(`${http.url}/images/apply`, {
      method: 'POST',
      headers: {'content-type': 'application/x-www-form-urlencoded'},
      body: `token=${token}`,
    })
    expect(applied.status).toBe(200)
    expect(await applied.text()).toContain(`${names.notify} now runs 1.1.0`)
    expect(serviceImage(names.notify)).toBe(`${app}:1.1.0@${env.images.digests['1.1.0']}`)
    const last = updateHistory(await context.state(), {workload: names.notify})[0]!
    expect(last).toMatchObject({previousVersion: '1.0.0', newVersion: '1.1.0', by: 'link', result: 'applied'})

    const before = version()
    const replay = await fetch(`${http.url}/images/apply`, {
      method: 'POST',
      headers: {'content-type': 'application/x-www-form-urlencoded'},
      body: `token=${token}`,
    })
    expect(replay.status).toBe(410)
    expect(await replay.text()).toContain('already used')
    expect(version()).toBe(before)
    expect(updateHistory(await context.state(), {workload: names.notify})).toHaveLength(1)
  })

  it('serves /status and /history for the web UI', async () => {
    const status = (await (await fetch(`${http.url}/images/status`)).json()) as {results: {workload: string}[]}
    expect(status.results.some((r) => r.workload === names.notify)).toBe(true)
    const history = (await (await fetch(`${http.url}/images/history?workload=${names.auto}`)).json()) as {
      updates: {newVersion: string}[]
    }
    expect(history.updates.map((u) => u.newVersion)).toEqual(['1.0.1'])
  })
})
