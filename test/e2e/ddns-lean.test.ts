import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type Dyndns2Fake, type EchoFake, startDyndns2, startEcho} from '../integration/ddns/fakes.js'
import {runCli} from '../support/cli.js'

const V4 = '84.16.66.10'
let provider: Dyndns2Fake
let source: EchoFake
const dir = mkdtempSync(join(tmpdir(), 'homeops-e2e-ddns-lean-'))
let n = 0

beforeAll(async () => {
  provider = await startDyndns2({flavour: 'infomaniak'})
  source = await startEcho(V4)
})
afterAll(async () => {
  await provider.close()
  await source.close()
  rmSync(dir, {recursive: true, force: true})
})

function env(extra: Record<string, string> = {}): Record<string, string> {
  n++
  return {
    HOMEOPS_DB_PATH: join(dir, `s${n}`, 'homeops.db'),
    XDG_CONFIG_HOME: join(dir, 'no-config'),
    INFOMANIAK_DDNS_HOSTNAME: 'home.example.org',
    INFOMANIAK_DDNS_USERNAME: 'user',
    INFOMANIAK_DDNS_PASSWORD: 'pass-word-1',
    DDNS_SERVER: provider.url,
    DDNS_IP_SOURCES_V4: source.url,
    DDNS_REQUEST_TIMEOUT: '2',
    ...extra,
  }
}

/** Timestamps and durations differ between two runs; everything else must not. */
function stable(text: string): string {
  return text
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z/g, 'TIME')
    .replace(/"durationMs": \d+/g, '"durationMs": N')
    .replace(/"ms": \d+/g, '"ms": N')
    .replace(/s\d+\/homeops\.db/g, 'DB')
    .replace(/\(node:\d+\)/g, '(node:PID)')
}

/** The same command through the lean entry and through oclif (HOMEOPS_LEAN=0), each on a fresh state. */
async function both(args: string[], extra: Record<string, string> = {}) {
  provider.records.clear()
  const lean = await runCli(['ddns', 'update', ...args], {env: env(extra)})
  provider.records.clear()
  const oclif = await runCli(['ddns', 'update', ...args], {env: {...env(extra), HOMEOPS_LEAN: '0'}})
  return {lean, oclif}
}

describe('ddns update: the lean timer entry behaves as the oclif command', () => {
  it.each([
    [[], {}],
    [['--json'], {}],
    [['--dry-run', '--json'], {}],
    [['--record', 'home.example.org', '--log-level', 'debug'], {}],
    [['--json'], {INFOMANIAK_DDNS_PASSWORD: 'wrong-password'}],
    [[], {INFOMANIAK_DDNS_HOSTNAME: 'no-dots'}],
    [['--json'], {INFOMANIAK_DDNS_HOSTNAME: 'no-dots'}],
    [['--record', 'typo'], {}],
    [['--config', '/nonexistent/config.yaml'], {}],
    [[], {DDNS_IP_SOURCES_V4: 'http://127.0.0.1:9/'}],
  ] as [string[], Record<string, string>][])('%j %j: same stdout, stderr and exit code', async (args, extra) => {
    const {lean, oclif} = await both(args, extra)
    expect(lean.code).toBe(oclif.code)
    expect(stable(lean.stdout)).toBe(stable(oclif.stdout))
    expect(stable(lean.stderr)).toBe(stable(oclif.stderr))
  })

  it.each([['--help'], ['--bogus'], ['--log-level', 'loud'], ['extra-argument']])(
    'hands %s to oclif',
    async (...args) => {
      const {lean, oclif} = await both(args)
      expect(lean.code).toBe(oclif.code)
      expect(lean.stdout).toBe(oclif.stdout)
      expect(stable(lean.stderr)).toBe(stable(oclif.stderr))
    },
  )
})
