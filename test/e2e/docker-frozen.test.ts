import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../support/cli.js'
import {type DockerStandIn, type FreezableDocker, freezableDocker, frozenDocker} from '../support/frozen-docker.js'
import {type ServeProcess, getJson, startServe} from '../support/serve-process.js'
import {testEnv} from '../support/testenv.js'
import {freePort} from '../support/free-port.js'

/**
 * A frozen dockerd (SIGSTOP: the socket accepts, nothing answers). The shared
 * test daemon cannot be stopped, so the CLI talks to a socket that never
 * answers, and `serve` to a proxy in front of the real daemon that the test
 * freezes and thaws.
 */
const dir = mkdtempSync(join(tmpdir(), 'hotest-runtime-frozen-'))
let frozen: DockerStandIn
let env: NodeJS.ProcessEnv

beforeAll(async () => {
  frozen = await frozenDocker()
  writeFileSync(join(dir, 'config.yaml'), '')
  env = {
    HOME: dir,
    HOMEOPS_CONFIG: join(dir, 'config.yaml'),
    HOMEOPS_DB_PATH: join(dir, 'homeops.db'),
    DOCKER_HOST: frozen.host,
    HOMEOPS_DOCKER_TIMEOUT_SECONDS: '2',
  }
})

afterAll(async () => {
  await frozen?.close()
  rmSync(dir, {recursive: true, force: true})
})

async function timedCli(args: string[], extra: NodeJS.ProcessEnv = {}) {
  const started = Date.now()
  const result = await runCli(args, {env: {...env, ...extra}, timeoutMs: 60_000})
  return {...result, ms: Date.now() - started}
}

describe('CLI commands against a Docker daemon that accepts and never answers', () => {
  it('monitor status, images check and swarm reconcile fail with exit 3 within the limit, naming the socket', async () => {
    for (const args of [
      ['monitor', 'status'],
      ['images', 'check'],
      ['swarm', 'reconcile'],
    ]) {
      const r = await timedCli(args)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(3)
      expect(r.stderr).toContain(`the Docker daemon at ${frozen.host} did not answer within 2 s`)
      // start-up + the 2 s limit, far from "for ever" (the runner's own cap is 60 s)
      expect(r.ms, args.join(' ')).toBeLessThan(20_000)
    }
  })

  it('swarm status still shows what the state database knows, and says live counts are unavailable', async () => {
    const r = await timedCli(['swarm', 'status'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout + r.stderr).toContain('did not answer within 2 s')
    expect(r.ms).toBeLessThan(20_000)
  })

  it('--docker-host and docker.timeoutSeconds in the config file do the same', async () => {
    const config = join(dir, 'timeout.yaml')
    writeFileSync(config, 'docker:\n  timeoutSeconds: 1\n')
    const r = await timedCli(['monitor', 'status', '--json', '--docker-host', frozen.host, '--config', config], {
      DOCKER_HOST: 'unix:///nonexistent.sock',
      HOMEOPS_DOCKER_TIMEOUT_SECONDS: '',
    })
    expect(r.code, r.stderr).toBe(3)
    // --json: the error is the JSON document on stdout
    expect(JSON.parse(r.stdout)).toMatchObject({
      error: {message: `the Docker daemon at ${frozen.host} did not answer within 1 s`, exitCode: 3},
    })
  })
})

describe('homeops serve while its Docker daemon freezes and thaws', () => {
  let proxy: FreezableDocker
  let serve: ServeProcess

  beforeAll(async () => {
    proxy = await freezableDocker(testEnv().dockerSocket)
    const port = await freePort()
    const config = join(dir, 'serve.yaml')
    writeFileSync(
      config,
      [
        'serve:',
        `  listen: 127.0.0.1:${port}`,
        'docker:',
        `  host: ${proxy.host}`,
        '  timeoutSeconds: 4',
        'monitor:',
        '  enabled: true',
        '  api: true',
        '',
      ].join('\n'),
    )
    serve = startServe({
      args: ['--config', config],
      env: {HOMEOPS_DB_PATH: join(dir, 'serve', 'homeops.db'), HOME: dir},
      port,
    })
    await serve.waitFor('/health 200', async () => {
      const h = await getJson(`${serve.url}/health`)
      return h.status === 200 ? h : undefined
    })
  }, 120_000)

  afterAll(async () => {
    await serve?.kill()
    await proxy?.close()
  })

  it('reports Docker down in /health, /monitor/health and /monitor/status, answering fast, and recovers', async () => {
    const before = await getJson<{status: string; stale: boolean; docker_connected: boolean}>(
      `${serve.url}/monitor/status?light=1`,
    )
    expect(before.body).toMatchObject({status: 'ok', stale: false, docker_connected: true})

    proxy.freeze()
    const frozenAt = Date.now()
    const health = await serve.waitFor('/health 503', async () => {
      const h = await getJson<{status: string; docker?: {reachable: boolean; error?: string}}>(`${serve.url}/health`)
      expect(h.ms).toBeLessThan(5000)
      return h.status === 503 ? h : undefined
    })
    expect(health.body.status).toBe('degraded')
    expect(health.body.docker).toMatchObject({reachable: false})
    expect(health.body.docker!.error).toContain('did not answer')

    const monitorHealth = await serve.waitFor('/monitor/health 503', async () => {
      const h = await getJson(`${serve.url}/monitor/health`)
      return h.status === 503 ? h : undefined
    })
    expect(monitorHealth.body).toEqual({status: 'degraded', docker: false})
    expect(monitorHealth.ms).toBeLessThan(5000)

    const status = await getJson<Record<string, unknown>>(`${serve.url}/monitor/status?light=1`)
    expect(status.status).toBe(200)
    expect(status.body).toMatchObject({status: 'stale', stale: true, docker_connected: false})
    expect(Date.parse(String(status.body.as_of))).toBeLessThanOrEqual(frozenAt + 1000)
    expect(Date.parse(String(status.body.stale_since))).toBeGreaterThanOrEqual(frozenAt)
    expect(String(status.body.error)).toMatch(/^Docker unreachable: /)
    // the Home Assistant fields are all still there (last known state)
    expect(status.body).toHaveProperty('updates')
    expect(status.body).toHaveProperty('meta')
    expect(status.ms).toBeLessThan(12_000)
    // everything noticed well within the outage, not after it
    expect(Date.now() - frozenAt).toBeLessThan(30_000)

    proxy.thaw()
    await serve.waitFor(
      '/health 200 after the thaw',
      async () => {
        const h = await getJson(`${serve.url}/health`)
        return h.status === 200 ? h : undefined
      },
      60_000,
    )
    const after = await getJson(`${serve.url}/monitor/status?light=1`)
    expect(after.body).toMatchObject({status: 'ok', stale: false, docker_connected: true})
  })

  it('still stops on SIGTERM within 5 s, exit 0', async () => {
    const started = Date.now()
    serve.child.kill('SIGTERM')
    const {code} = await serve.exit
    expect(code).toBe(0)
    expect(Date.now() - started).toBeLessThan(5000)
  })
})
