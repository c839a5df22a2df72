import {describe, expect, it} from 'vitest'

import {runCli} from '../support/cli.js'
import {ddnsE2e, stable} from './ddns-fixture.js'

const ddns = ddnsE2e('homeops-e2e-ddns-lean-')
const {env} = ddns

/** The same command through the lean entry and through oclif (HOMEOPS_LEAN=0), each on a fresh state. */
async function both(args: string[], extra: Record<string, string> = {}) {
  ddns.provider.records.clear()
  const lean = await runCli(['ddns', 'update', ...args], {env: env(extra)})
  ddns.provider.records.clear()
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
