import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {runCli} from '../support/cli.js'
import {type RunningCli, startCli} from '../support/cli-servers.js'
import {testEnv} from '../support/testenv.js'
import {freePort} from '../support/free-port.js'

/**
 * Issue 12, item 5: one "no key" policy on every server, no sentinel string.
 * Without a key, this machine (loopback) may change things and `/api/auth`
 * says so; with a key, every client needs it, loopback included, and no fixed
 * string passes. (Non-loopback clients cannot be made here: servers in tests
 * listen on loopback only; test/unit/http/guarded-server.test.ts covers them.)
 */
const KEY = 'matrix-key-0123456789abcdef'
const SENTINEL = '\u0000no-key-configured'
const dir = mkdtempSync(join(tmpdir(), 'homeops-e2e-nokey-'))
const running: RunningCli[] = []

afterAll(async () => {
  await Promise.all(running.map((r) => r.stop()))
  rmSync(dir, {recursive: true, force: true})
})

let n = 0
async function start(name: string, args: (port: number) => string[], yaml: string): Promise<RunningCli> {
  n++
  const port = await freePort()
  const config = join(dir, `c${n}.yaml`)
  writeFileSync(config, yaml)
  const server = await startCli(
    name,
    args(port),
    {
      HOME: dir,
      HOMEOPS_CONFIG: config,
      HOMEOPS_DB_PATH: join(dir, `s${n}`, 'homeops.db'),
      SETTINGS_PATH: join(dir, `s${n}`, 'monitor-settings.json'),
      DOCKER_HOST: testEnv().dockerHost,
    },
    port,
  )
  running.push(server)
  // /health answers as soon as the server listens; writes need the modes up (503 before).
  const deadline = Date.now() + 60_000
  while ((await fetch(`${server.url}/health`)).status !== 200) {
    if (Date.now() > deadline) throw new Error(`${name} never became healthy:\n${server.output()}`)
    await new Promise((r) => setTimeout(r, 250))
  }
  return server
}

async function post(url: string, key?: string): Promise<number> {
  const headers: Record<string, string> = {'content-type': 'application/json'}
  if (key !== undefined) headers['x-api-key'] = key
  const r = await fetch(url, {method: 'POST', headers, body: '{}'})
  await r.arrayBuffer()
  return r.status
}

async function postQueryKey(url: string, key: string): Promise<number> {
  const r = await fetch(`${url}?key=${encodeURIComponent(key)}`, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: '{}',
  })
  await r.arrayBuffer()
  return r.status
}

const IMAGES = 'images:\n  intervalSeconds: 86400\n  watchByDefault: false\n'

interface Case {
  server: string
  args: (port: number) => string[]
  /** A write route that changes nothing harmful here. */
  write: string
  noKey: string
  withKey: string
}

const CASES: Case[] = [
  {
    server: 'homeops serve',
    args: (p) => ['serve', '--listen', `127.0.0.1:${p}`, '--mode', 'images', '--mode', 'monitor'],
    write: '/images/check',
    noKey: IMAGES,
    withKey: `${IMAGES}serve:\n  apiKey: ${KEY}\n`,
  },
  {
    server: 'images serve',
    args: (p) => ['images', 'serve', '--listen', `127.0.0.1:${p}`],
    write: '/check',
    noKey: IMAGES,
    withKey: `${IMAGES}serve:\n  apiKey: ${KEY}\n`,
  },
  {
    server: 'monitor serve',
    args: (p) => ['monitor', 'serve', '--listen', `127.0.0.1:${p}`],
    write: '/settings',
    noKey: '{}\n',
    withKey: `monitor:\n  auth: true\n  apiKey: ${KEY}\n`,
  },
]

describe('the "no key" policy on every server (built CLI)', () => {
  it.each(CASES)('$server without a key: loopback may write, no sentinel needed', async (c) => {
    const server = await start(c.server, c.args, c.noKey)
    expect(await post(server.url + c.write)).toBe(200)
    expect(await post(server.url + c.write, 'anything-at-all-here')).toBe(200)
    if (c.server === 'homeops serve') {
      const auth = (await (await fetch(`${server.url}/api/auth`)).json()) as Record<string, unknown>
      expect(auth).toEqual({required: false, reads: false, writes: 'loopback'})
      const modes = (await (await fetch(`${server.url}/api/modes`)).json()) as {auth: Record<string, unknown>}
      expect(modes.auth).toEqual({writes: false, reads: false, access: 'loopback'})
      // the UI's key check succeeds: the images buttons are not dead
      expect(await post(`${server.url}/api/auth`)).toBe(200)
    }
    expect(await server.stop()).toBe(0)
  })

  it.each(CASES)('$server with a key: every client needs it, loopback too; no fixed string passes', async (c) => {
    const server = await start(c.server, c.args, c.withKey)
    const url = server.url + c.write
    expect(await post(url)).toBe(401)
    expect(await post(url, 'wrong-key-0123456789abcdef')).toBe(401)
    expect(await postQueryKey(url, SENTINEL)).toBe(401)
    expect(await postQueryKey(url, '')).toBe(401)
    expect(await post(url, KEY)).toBe(200)
    expect(await postQueryKey(url, KEY)).toBe(200)
    if (c.server === 'homeops serve') {
      const auth = (await (await fetch(`${server.url}/api/auth`)).json()) as Record<string, unknown>
      expect(auth).toEqual({required: true, reads: false, writes: 'key'})
      expect(await post(`${server.url}/api/auth`)).toBe(401)
      expect(await post(`${server.url}/api/auth`, KEY)).toBe(200)
    }
    expect(server.output()).not.toContain(KEY)
    expect(await server.stop()).toBe(0)
  })

  it('dns serve has no route that changes anything (ddns serve neither: GET routes only, see the fuzz)', async () => {
    const port = await freePort()
    const dnsPort = await freePort(true)
    const config = join(dir, 'dns.yaml')
    writeFileSync(config, `dns:\n  port: ${dnsPort}\n  bind: 127.0.0.1\n  ipv6: false\n  docker: false\n`)
    const dns = await startCli(
      'dns serve',
      ['dns', 'serve', '--http-listen', `127.0.0.1:${port}`],
      {HOME: dir, HOMEOPS_CONFIG: config, HOMEOPS_DB_PATH: join(dir, 'dns', 'homeops.db')},
      port,
    )
    running.push(dns)
    for (const path of ['/', '/status', '/dns/records', '/health', '/snapshot']) {
      expect([404, 405], path).toContain(await post(dns.url + path))
    }
    expect(await dns.stop()).toBe(0)
  })

  it('fails `homeops doctor` for a server listening beyond loopback without a key, and passes with one', async () => {
    const exposed = join(dir, 'exposed.yaml')
    writeFileSync(exposed, 'serve:\n  listen: 0.0.0.0:8080\n')
    const env = {HOME: dir, HOMEOPS_DB_PATH: join(dir, 'doctor', 'homeops.db'), DOCKER_HOST: testEnv().dockerHost}
    const bad = await runCli(['doctor', '--json', '--config', exposed], {env})
    expect(bad.code).toBe(1)
    const check = (JSON.parse(bad.stdout) as {checks: {id: string; ok: boolean; detail: string}[]}).checks.find(
      (c) => c.id === 'api-key',
    )
    expect(check).toMatchObject({ok: false, detail: expect.stringContaining('homeops serve on 0.0.0.0:8080')})
    writeFileSync(exposed, `serve:\n  listen: 0.0.0.0:8080\n  apiKey: ${KEY}\n`)
    const good = await runCli(['doctor', '--json', '--config', exposed], {env})
    const fixed = (JSON.parse(good.stdout) as {checks: {id: string; ok: boolean}[]}).checks.find(
      (c) => c.id === 'api-key',
    )
    expect(fixed?.ok).toBe(true)
  })

  it('`config validate` refuses an allow-list entry BlockList would abort on, and a short key: exit 2 with file:line', async () => {
    const file = join(dir, 'bad.yaml')
    writeFileSync(file, 'serve:\n  allowedIps:\n    - 10.0.0.0/-0\n  apiKey: short\n')
    const result = await runCli(['config', 'validate', '--config', file], {env: {HOME: dir}})
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(
      new RegExp(`${file}:3:\\d+: serve\\.allowedIps\\[0\\]: "10\\.0\\.0\\.0/-0" is not an address or CIDR range`),
    )
    expect(result.stderr).toMatch(/serve\.apiKey: an API key must be at least 16 characters/)
    const env = await runCli(['config', 'validate'], {
      env: {HOME: dir, XDG_CONFIG_HOME: join(dir, 'none'), ALLOWED_IPS: '10.0.0.0/'},
    })
    expect(env.code).toBe(2)
    expect(env.stderr).toContain('environment variable ALLOWED_IPS')
  })
})
