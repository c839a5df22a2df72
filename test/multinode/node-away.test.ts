import {spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ExitCode} from '../../src/lib/errors.js'
import {reconcile} from '../../src/lib/swarm/reconcile.js'
import type {ReconcileReport} from '../../src/lib/swarm/reconcile-report.js'
import {watch} from '../../src/lib/swarm/repositories.js'
import {GitRepo, Workspace, removeStacks, run, stackName} from '../integration/swarm/harness.js'
import {clusterEnv, workers} from '../support/cluster.js'

/**
 * A worker whose dockerd stops while a reconcile updates a service pinned to it: the other stacks still
 * deploy, the exit code says a stack failed (and which), and the next run after the node is back converges.
 */
const script = fileURLToPath(new URL('../../scripts/testenv-nodes.sh', import.meta.url))
const ws = new Workspace()
const STEADY = stackName('mn-steady')
const GLOBAL = stackName('mn-pinned')
let repo: GitRepo
const lost = () => workers().at(-1)!
const nodeIndex = () => lost().name.split('-').at(-1)!

function nodeScript(command: 'stop-node' | 'start-node'): void {
  const r = spawnSync('bash', [script, command, nodeIndex()], {encoding: 'utf8', timeout: 120_000})
  if (r.status !== 0) throw new Error(`${command} ${nodeIndex()} failed: ${r.stdout}${r.stderr}`)
}

const outcome = (report: ReconcileReport, stack: string) => report.stacks.find((s) => s.stack === stack)

function stacks(version: string): void {
  const image = `${clusterEnv().registry.host}/hotest/app:${version}`
  repo
    .stacks([STEADY, GLOBAL])
    .stack(STEADY, {
      image,
      extra: {
        deploy: {
          replicas: 1,
          placement: {constraints: [`node.hostname == ${workers()[0]!.name}`]},
          update_config: {delay: '0s', monitor: '1s'},
        },
      },
    })
    .stack(GLOBAL, {
      image,
      extra: {
        deploy: {
          replicas: 1,
          placement: {constraints: [`node.hostname == ${lost().name}`]},
          update_config: {delay: '0s', monitor: '1s'},
        },
      },
    })
    .commit(version)
}

beforeAll(() => {
  process.env.DOCKER_CONFIG = clusterEnv().dockerConfigDir
  repo = new GitRepo(join(ws.root, 'repos', 'away'), join(clusterEnv().sharedDir, `hotest-away-${run}`))
  stacks('1.0.0')
})

afterAll(async () => {
  nodeScript('start-node')
  await ws.close()
  await removeStacks([STEADY, GLOBAL])
  ws.cleanup()
}, 240_000)

describe('a worker that goes away during a reconcile', () => {
  it('deploys the rest, exits with a failure naming the stack, converges once the node is back', async () => {
    expect((await watch(await ws.swarm(), {url: repo.dir})).reconcile.exitCode).toBe(ExitCode.ok)

    stacks('1.0.1')
    // The node stops right before the run: the service pinned to it cannot get its new task anywhere.
    nodeScript('stop-node')
    const report = await reconcile(await ws.swarm({convergeTimeoutSeconds: 25}), {})
    expect(outcome(report, STEADY)).toMatchObject({outcome: 'deployed'})
    expect(outcome(report, GLOBAL)).toMatchObject({outcome: 'failed'})
    expect(report.exitCode).toBe(ExitCode.failure)

    nodeScript('start-node')
    const again = await reconcile(await ws.swarm({convergeTimeoutSeconds: 120}), {})
    expect(outcome(again, GLOBAL)?.outcome).toBe('deployed')
    expect(again.exitCode).toBe(ExitCode.ok)
  })
})
