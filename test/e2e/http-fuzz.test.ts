import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {Resolver} from 'node:dns/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type Dyndns2Fake, type EchoFake, startDyndns2, startEcho} from '../integration/ddns/fakes.js'
import {type RunningCli, startCli} from '../support/cli-servers.js'
import {type FuzzTarget, fuzzBatch} from '../support/http-fuzz.js'
import {testEnv} from '../support/testenv.js'
import {freePort} from '../support/free-port.js'

/**
 * Issue 12, item 1: no request can end or wedge a server. 10 000 generated
 * requests (malformed request lines and URLs, encodings, methods, header sizes
 * and counts, body framings, hostile Host/Origin) against each of the five
 * server commands run from the built CLI; after every batch of 1 000, /health
 * must answer, the process must be alive, and for `dns serve` DNS must answer.
 * Keys are configured everywhere, so no fuzzed request can change anything on
 * the shared Docker daemon.
 */
const BATCHES = 10
const PER_BATCH = 1000
const SERVE_KEY = 'fuzz-serve-key-0123456789abcdef'
const MONITOR_KEY = 'fuzz-monitor-key-0123456789abcdef'

const dir = mkdtempSync(join(tmpdir(), 'homeops-e2e-fuzz-'))
let provider: Dyndns2Fake
let source: EchoFake
const running: RunningCli[] = []

beforeAll(async () => {
  provider = await startDyndns2({flavour: 'infomaniak'})
  source = await startEcho('84.16.66.10')
})

afterAll(async () => {
  await Promise.all(running.map((r) => r.stop()))
  await provider?.close()
  await source?.close()
  rmSync(dir, {recursive: true, force: true})
})

function config(name: string, dnsPort: number): string {
  const file = join(dir, `${name}.yaml`)
  writeFileSync(
    file,
    `serve:
  apiKey: ${SERVE_KEY}
monitor:
  api: true
  auth: true
  apiKey: ${MONITOR_KEY}
images:
  intervalSeconds: 86400
dns:
  port: ${dnsPort}
  bind: 127.0.0.1
  ipv6: false
  docker: false
  records:
    fuzz.home.arpa: 10.9.8.7
`,
  )
  return file
}

function env(name: string, dnsPort: number): NodeJS.ProcessEnv {
  return {
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, 'xdg'),
    HOMEOPS_CONFIG: config(name, dnsPort),
    HOMEOPS_DB_PATH: join(dir, name, 'homeops.db'),
    SETTINGS_PATH: join(dir, name, 'monitor-settings.json'),
    DOCKER_HOST: testEnv().dockerHost,
    INFOMANIAK_DDNS_HOSTNAME: 'home.example.org',
    INFOMANIAK_DDNS_USERNAME: 'user',
    INFOMANIAK_DDNS_PASSWORD: 'pass-word-1',
    DDNS_SERVER: provider.url,
    DDNS_IP_SOURCES_V4: source.url,
    DDNS_REQUEST_TIMEOUT: '2',
  }
}

async function dnsAnswers(port: number): Promise<string[]> {
  const resolver = new Resolver({timeout: 2000, tries: 2})
  resolver.setServers([`127.0.0.1:${port}`])
  return resolver.resolve4('fuzz.home.arpa')
}

interface ServerCase {
  name: string
  args: (httpPort: number, dnsPort: number) => string[]
  paths: string[]
  dns?: boolean
}

const CASES: ServerCase[] = [
  {
    name: 'monitor serve',
    args: (p) => ['monitor', 'serve', '--listen', `127.0.0.1:${p}`],
    paths: [
      '/health',
      '/status',
      '/status/x',
      '/diag',
      '/images/unused',
      '/images/prune',
      '/update_container',
      '/settings',
      '/ui/status',
      '/ui/update_container',
      '/ui/images/prune',
      '/',
      '/web/monitor/page.js',
      '/metrics',
    ],
  },
  {
    name: 'images serve',
    args: (p) => ['images', 'serve', '--listen', `127.0.0.1:${p}`],
    paths: [
      '/health',
      '/status',
      '/history?limit=5',
      '/update',
      '/check',
      '/apply?token=x',
      '/images/apply',
      '/metrics',
    ],
  },
  {
    name: 'dns serve',
    args: (p, d) => [
      'dns',
      'serve',
      '--port',
      String(d),
      '--bind',
      '127.0.0.1',
      '--no-docker',
      '--http-listen',
      `127.0.0.1:${p}`,
    ],
    paths: ['/health', '/', '/status', '/dns/records', '/snapshot', '/web/dns/page.js', '/metrics'],
    dns: true,
  },
  {
    name: 'ddns serve --listen',
    args: (p) => ['ddns', 'serve', '--listen', `127.0.0.1:${p}`],
    paths: ['/health', '/status', '/history', '/history?limit=-1', '/metrics'],
  },
  {
    name: 'homeops serve',
    args: (p) => ['serve', '--listen', `127.0.0.1:${p}`, '--mode', 'monitor', '--mode', 'images', '--mode', 'dns'],
    paths: [
      '/health',
      '/',
      '/api/modes',
      '/api/auth',
      '/api/modes/monitor/snapshot',
      '/monitor/status',
      '/monitor/ui/update_container',
      '/monitor/settings',
      '/images/check',
      '/images/update',
      '/images/apply',
      '/dns/status',
      '/swarm/reconcile',
      '/metrics',
      '/web/shared/app.js',
    ],
    dns: true,
  },
]

describe('HTTP fuzz against every server command (built CLI)', () => {
  it.each(CASES)(
    '$name answers or closes every request and keeps serving',
    async (c) => {
      const port = await freePort()
      const dnsPort = await freePort(true)
      const name = c.name.replace(/\W+/g, '-')
      const server = await startCli(c.name, c.args(port, dnsPort), env(name, dnsPort), port)
      running.push(server)
      const target: FuzzTarget = {host: `127.0.0.1:${port}`, paths: c.paths}
      const totals = new Map<string, number>()
      const hangs: string[] = []
      for (let batch = 0; batch < BATCHES; batch++) {
        const outcome = await fuzzBatch(port, target, {seed: 1000 * batch + c.name.length, count: PER_BATCH})
        for (const [k, v] of outcome.statuses) totals.set(k, (totals.get(k) ?? 0) + v)
        hangs.push(...outcome.hangs)
        const context = `${c.name} after batch ${batch + 1}:\n${server.output().slice(-3000)}`
        expect(server.alive(), context).toBe(true)
        const health = await fetch(`${server.url}/health`, {signal: AbortSignal.timeout(5000)})
        await health.arrayBuffer()
        expect([200, 503], context).toContain(health.status)
        if (c.dns) expect(await dnsAnswers(dnsPort), context).toEqual(['10.9.8.7'])
      }
      const sent = [...totals.values()].reduce((a, b) => a + b, 0)
      console.log(`${c.name}: ${sent} requests`, Object.fromEntries([...totals].sort()))
      expect(sent).toBe(BATCHES * PER_BATCH)
      expect(hangs.slice(0, 5), 'complete requests neither answered nor closed').toEqual([])
      // A handler that throws is a bug even when the layer contains it: none of these inputs may reach one.
      expect(totals.get('500') ?? 0, server.output().slice(-3000)).toBe(0)
      expect(server.output()).not.toMatch(/unhandled|uncaught|Assertion failed/i)
      expect(await server.stop()).toBe(0)
    },
    150_000,
  )
})
