import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {stringify} from 'yaml'

import {run} from '../integration/swarm/harness.js'
import {runCli} from '../support/cli.js'
import {clusterEnv, manager, nodeCli} from '../support/cluster.js'

/**
 * `images update` of a service with a task on every node of the three-node Swarm: the new version rolls
 * out to all of them; a version whose tasks fail rolls back on all of them (the service's
 * `--update-failure-action rollback`); history records each update once.
 */
const root = mkdtempSync(join(tmpdir(), `hotest-mn-images-${run}-`))
const config = join(root, 'config.yaml')
const rollout = `hotest-mn-images-${run}-ok`
const rollback = `hotest-mn-images-${run}-bad`
const app = () => `${clusterEnv().registry.host}/hotest/app`

beforeAll(() => {
  writeFileSync(
    config,
    stringify({
      state: {path: join(root, 'homeops.db')},
      docker: {host: manager().dockerHost},
      images: {watchByDefault: false, healthTimeoutSeconds: 90},
    }),
  )
  for (const [name, command] of [
    [rollout, []],
    // Only 1.0.0 starts: what the update to 1.1.0 must undo on every node.
    [rollback, ['sh', '-c', '[ "$(cat /VERSION)" = 1.0.0 ] && exec sleep 3600; exit 1']],
  ] as const) {
    nodeCli(manager(), [
      'service',
      'create',
      '--detach=false',
      '--quiet',
      '--mode',
      'global',
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
      '--label',
      'homeops.images.mode=NOTIFICATION',
      '--label',
      'homeops.images.strategy=MINOR',
      `${app()}:1.0.0`,
      ...command,
    ])
  }
}, 180_000)

afterAll(() => {
  for (const name of [rollout, rollback]) {
    try {
      nodeCli(manager(), ['service', 'rm', name])
    } catch {
      // not created
    }
  }
  rmSync(root, {recursive: true, force: true})
}, 60_000)

/** The image of each running task, by node. */
function runningImages(service: string): Map<string, string> {
  const lines = nodeCli(manager(), [
    'service',
    'ps',
    service,
    '--filter',
    'desired-state=running',
    '--format',
    '{{.Node}} {{.Image}} {{.CurrentState}}',
  ])
  return new Map(
    lines
      .split('\n')
      .filter((l) => l.includes(' Running '))
      .map((l) => {
        const [node, image] = l.split(' ')
        return [node!, image!.replace(/@sha256:.*$/, '')]
      }),
  )
}

async function historyOf(service: string): Promise<{workload: string; result: string; newVersion: string}[]> {
  const result = await runCli(['images', 'history', '--json', '--config', config])
  expect(result.code, result.stderr).toBe(0)
  const {updates} = JSON.parse(result.stdout) as {updates: {workload: string; result: string; newVersion: string}[]}
  return updates.filter((r) => r.workload === service)
}

const nodeNames = () =>
  clusterEnv()
    .nodes.map((n) => n.name)
    .sort()

describe('images update across three nodes', () => {
  it('rolls the new version out to the task on every node, recorded once', async () => {
    expect([...runningImages(rollout).keys()].sort()).toEqual(nodeNames())
    const result = await runCli(['images', 'update', rollout, '--to', '1.1.0', '--yes', '--json', '--config', config], {
      timeoutMs: 170_000,
    })
    expect(result.code, result.stderr).toBe(0)
    const images = runningImages(rollout)
    expect([...images.keys()].sort()).toEqual(nodeNames())
    expect([...new Set(images.values())]).toEqual([`${app()}:1.1.0`])
    expect((await historyOf(rollout)).map((h) => `${h.newVersion} ${h.result}`)).toEqual(['1.1.0 applied'])
  }, 180_000)

  it('rolls a failing version back on every node and says so, recorded once', async () => {
    const result = await runCli(
      ['images', 'update', rollback, '--to', '1.1.0', '--yes', '--json', '--config', config],
      {timeoutMs: 170_000},
    )
    expect(result.code).not.toBe(0)
    expect(result.stdout + result.stderr).toMatch(/rolled back to 1\.0\.0/)
    const images = runningImages(rollback)
    expect([...images.keys()].sort()).toEqual(nodeNames())
    expect([...new Set(images.values())]).toEqual([`${app()}:1.0.0`])
    expect((await historyOf(rollback)).map((h) => `${h.newVersion} ${h.result}`)).toEqual(['1.1.0 rolled_back'])
  }, 180_000)
})
