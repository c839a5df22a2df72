import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type ServeProcess, getJson, startServe} from '../support/serve-process.js'
import {testEnv} from '../support/testenv.js'
import {freePort} from '../support/free-port.js'

/** `homeops serve` (the built CLI) reloading its config file on SIGHUP, modes toggled off and on. */
const dir = mkdtempSync(join(tmpdir(), 'hotest-runtime-reload-'))
const configPath = join(dir, 'config.yaml')
const apiKey = 'reload-test-key-0123456789abcdef'
let serve: ServeProcess
let port: number

function writeConfig(lines: string[]): void {
  writeFileSync(configPath, [...lines, ''].join('\n'))
}

const head = () => [
  'serve:',
  `  listen: 127.0.0.1:${port}`,
  `  apiKey: ${apiKey}`,
  'docker:',
  `  host: ${testEnv().dockerHost}`,
]
const monitor = ['monitor:', '  enabled: true', '  api: true']
const swarm = ['swarm:', '  enabled: true', '  reconcileIntervalSeconds: 3600']

/** Sends SIGHUP and waits for the reload's outcome in the log (the n-th one). */
async function hangup(outcome: RegExp, nth: number): Promise<void> {
  serve.child.kill('SIGHUP')
  await serve.waitFor(
    `reload ${nth}`,
    async () => ((serve.stderr.match(new RegExp(outcome, 'g')) ?? []).length >= nth ? true : undefined),
    30_000,
  )
}

async function reconcile(): Promise<{status: number; body: Record<string, unknown>}> {
  const response = await fetch(`${serve.url}/swarm/reconcile`, {
    method: 'POST',
    headers: {'x-api-key': apiKey, 'content-type': 'application/json'},
    body: '{}',
    signal: AbortSignal.timeout(30_000),
  })
  return {status: response.status, body: (await response.json()) as Record<string, unknown>}
}

beforeAll(async () => {
  port = await freePort()
  writeConfig([...head(), ...monitor, ...swarm])
  serve = startServe({
    args: ['--config', configPath],
    env: {HOMEOPS_DB_PATH: join(dir, 'state', 'homeops.db'), HOME: dir},
    port,
  })
  await serve.waitFor(
    '/health 200',
    async () => {
      const h = await getJson(`${serve.url}/health`)
      return h.status === 200 ? h : undefined
    },
    60_000,
  )
}, 120_000)

afterAll(async () => {
  await serve?.kill()
  rmSync(dir, {recursive: true, force: true})
})

describe('homeops serve on SIGHUP', () => {
  it('disables modes, then re-enables them with working routes on the new instances', async () => {
    expect((await getJson(`${serve.url}/monitor/status?light=1`)).body).toMatchObject({status: 'ok'})
    expect((await reconcile()).status).toBe(200)

    // both modes off: the file says it is meant (serve.allowNoModes)
    writeConfig([...head().slice(0, 3), '  allowNoModes: true', ...head().slice(3)])
    await hangup(/configuration reloaded/, 1)
    expect((await getJson(`${serve.url}/monitor/status`)).status).toBe(404)
    expect((await reconcile()).status).toBe(404)

    writeConfig([...head(), ...monitor, ...swarm])
    await hangup(/configuration reloaded/, 2)
    const status = await serve.waitFor('/monitor/status 200', async () => {
      const s = await getJson<Record<string, unknown>>(`${serve.url}/monitor/status?light=1`)
      return s.status === 200 ? s : undefined
    })
    expect(status.body).toMatchObject({status: 'ok', stale: false})
    const run = await reconcile()
    expect(run.status, JSON.stringify(run.body)).toBe(200)
    expect(JSON.stringify(run.body)).not.toContain('Abort')
    const health = await getJson<{status: string; modes: Record<string, {up: boolean}>}>(`${serve.url}/health`)
    expect(health.status).toBe(200)
    expect(health.body.modes).toMatchObject({monitor: {up: true}, swarm: {up: true}})
  })

  it('refuses an empty file and one without the key, keeping modes and key, and says why', async () => {
    writeFileSync(configPath, '')
    await hangup(/configuration reload refused/, 1)
    expect(serve.stderr).toContain('the new configuration enables no mode: it would stop monitor, swarm')
    writeConfig([
      'serve:',
      `  listen: 127.0.0.1:${port}`,
      'docker:',
      `  host: ${testEnv().dockerHost}`,
      ...monitor,
      ...swarm,
    ])
    await hangup(/configuration reload refused/, 2)
    expect(serve.stderr).toContain('the new configuration has no serve.apiKey')

    const health = await getJson<{modes: Record<string, unknown>}>(`${serve.url}/health`)
    expect(health.status).toBe(200)
    expect(Object.keys(health.body.modes).sort()).toEqual(['monitor', 'swarm'])
    // the key is still required for actions
    const refused = await fetch(`${serve.url}/swarm/reconcile`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: '{}',
    })
    expect(refused.status).toBe(401)
    expect((await reconcile()).status).toBe(200)
  })

  it('stops on SIGTERM within 5 s, exit 0', async () => {
    const started = Date.now()
    serve.child.kill('SIGTERM')
    expect((await serve.exit).code).toBe(0)
    expect(Date.now() - started).toBeLessThan(5000)
  })
})
