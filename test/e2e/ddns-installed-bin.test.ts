import {accessSync, constants, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {repoRoot, runCli} from '../support/cli.js'
import {V4, ddnsE2e, stable} from './ddns-fixture.js'

// bin/homeops.cjs is what install.sh links as $PREFIX/bin/homeops (the systemd unit's and cron line's command):
// a CommonJS entry that runs the lean `ddns update` bundle without Node's ES module loader and hands everything
// else to bin/run.js. Whatever a user runs through it must behave exactly as through bin/run.js.
const installed = join(repoRoot, 'bin', 'homeops.cjs')
const ddns = ddnsE2e('homeops-e2e-ddns-bin-')
const {env} = ddns

/** The same command through the installed entry and through bin/run.js, each on a fresh state. */
async function both(args: string[], extra: Record<string, string> = {}) {
  ddns.provider.records.clear()
  const viaInstalled = await runCli(args, {env: env(extra), bin: installed})
  ddns.provider.records.clear()
  const viaRun = await runCli(args, {env: env(extra)})
  return {viaInstalled, viaRun}
}

describe('bin/homeops.cjs, the installed command', () => {
  it('is an executable with a node shebang, and the package bin', () => {
    accessSync(installed, constants.X_OK)
    expect(readFileSync(installed, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node')
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {bin: Record<string, string>}
    expect(pkg.bin.homeops).toBe('./bin/homeops.cjs')
  })

  it.each([
    [['ddns', 'update'], {}],
    [['ddns', 'update', '--json'], {}],
    [['ddns', 'update', '--json'], {INFOMANIAK_DDNS_PASSWORD: 'wrong-password'}],
    [['ddns', 'update'], {INFOMANIAK_DDNS_HOSTNAME: 'no-dots'}],
    [['ddns', 'update', '--help'], {}],
    [['ddns', 'update', '--bogus'], {}],
    [['ddns', 'update'], {HOMEOPS_LEAN: '0'}],
    [['--version'], {}],
    [['ddns', 'status', '--json'], {}],
  ] as [string[], Record<string, string>][])(
    '%j %j: same stdout, stderr and exit code as bin/run.js',
    async (args, extra) => {
      const {viaInstalled, viaRun} = await both(args, extra)
      expect(viaInstalled.code).toBe(viaRun.code)
      expect(stable(viaInstalled.stdout)).toBe(stable(viaRun.stdout))
      expect(stable(viaInstalled.stderr)).toBe(stable(viaRun.stderr))
    },
  )

  it('updates the record on the first run and sends nothing on an unchanged one', async () => {
    ddns.provider.records.clear()
    const state = env()
    const first = await runCli(['ddns', 'update', '--json'], {env: state, bin: installed})
    expect(first.code).toBe(0)
    expect(ddns.provider.records.get('home.example.org/4')).toBe(V4)
    const sent = ddns.provider.requests.length
    const again = await runCli(['ddns', 'update', '--json'], {env: state, bin: installed})
    expect(again.code).toBe(0)
    expect(ddns.provider.requests.length).toBe(sent)
  })
})
