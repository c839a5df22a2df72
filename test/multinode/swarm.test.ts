import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ExitCode} from '../../src/lib/errors.js'
import {reconcile} from '../../src/lib/swarm/reconcile.js'
import {watch} from '../../src/lib/swarm/repositories.js'
import {formatStatus} from '../../src/lib/swarm/report.js'
import {swarmStatus} from '../../src/lib/swarm/status.js'
import {stringify} from 'yaml'

import {GitRepo, Workspace, removeStacks, run, stackName} from '../integration/swarm/harness.js'
import {clusterEnv, manager, nodeCli, stackContainersOn, workers} from '../support/cluster.js'
import {getJson, startServe} from '../support/serve-process.js'
import {freePort} from '../support/free-port.js'

/**
 * swarm reconcile on a three-node Swarm: services placed on the workers read their binding from the
 * shared folder and get their secret; `swarm status` says on which node each task runs and why one
 * does not run.
 */
const ws = new Workspace()
const created: string[] = []
const name = (n: string) => {
  const s = stackName(n)
  created.push(s)
  return s
}
const WEB = name('mn-web')
const NOWHERE = name('mn-nowhere')
let repo: GitRepo

beforeAll(() => {
  process.env.DOCKER_CONFIG = clusterEnv().dockerConfigDir
  // The NFS root in the folder every node mounts at the same path.
  repo = new GitRepo(join(ws.root, 'repos', 'lab'), join(clusterEnv().sharedDir, `hotest-${run}`))
  repo
    .stacks([WEB])
    .nfsYaml()
    .write('volumes.yaml', '- id: webconf\n  type: binding\n  path: config/web\n')
    .write('config/web/index.html', `shared ${run}\n`)
    .stack(WEB, {
      volumes: ['webconf:/conf:ro'],
      extra: {
        environment: {DB_PASSWORD: '${DB_PASSWORD}'},
        deploy: {
          replicas: 2,
          placement: {constraints: ['node.role == worker'], max_replicas_per_node: 1},
          update_config: {delay: '0s', monitor: '1s'},
          restart_policy: {delay: '1s'},
        },
      },
    })
    .write(`${WEB}/secrets.yaml`, '- id: web-db\n  env: DB_PASSWORD\n')
    .secret('web-db', `pw-${run}`)
    .commit('initial')
})

afterAll(async () => {
  await ws.close()
  await removeStacks(created)
  ws.cleanup()
  nodeCli(manager(), [
    'run',
    '--rm',
    '-v',
    `${clusterEnv().sharedDir}:/s`,
    'hotest/app:1.0.0',
    'rm',
    '-rf',
    `/s/hotest-${run}`,
  ])
}, 180_000)

describe('swarm reconcile across three nodes', () => {
  it('places worker-constrained services on the workers, with the shared binding and the secret', async () => {
    const report = await watch(await ws.swarm(), {url: repo.dir})
    expect(report.reconcile.exitCode).toBe(ExitCode.ok)

    const status = await swarmStatus(await ws.context())
    const tasks = status.stacks.find((s) => s.name === WEB)!.tasks!
    expect(tasks.map((t) => [t.state, t.node])).toEqual(
      expect.arrayContaining(workers().map((w) => ['running', w.name])),
    )
    expect(tasks).toHaveLength(2)
    expect(stackContainersOn(manager(), WEB)).toEqual([])
    // Each worker's task reads the file homeops wrote into the shared folder, and has the secret.
    for (const worker of workers()) {
      const [id] = stackContainersOn(worker, WEB)
      expect(id, `a task of ${WEB} on ${worker.name}`).toBeTruthy()
      expect(nodeCli(worker, ['exec', id!, 'cat', '/conf/index.html'])).toBe(`shared ${run}\n`)
      expect(nodeCli(worker, ['exec', id!, 'env'])).toContain(`DB_PASSWORD=pw-${run}\n`)
    }
    const text = formatStatus({interactive: false, color: false}, status)
    for (const worker of workers()) expect(text).toContain(worker.name)
  })

  it('homeops serve on the manager lists the stack and its tasks with the nodes they run on', async () => {
    const port = await freePort()
    const file = join(ws.root, 'serve.yaml')
    writeFileSync(
      file,
      stringify({
        state: {path: ws.statePath},
        docker: {host: manager().dockerHost},
        serve: {listen: `127.0.0.1:${port}`},
        swarm: {enabled: true, reconcileIntervalSeconds: 3600, cacheDir: join(ws.root, 'cache')},
      }),
    )
    const serve = startServe({args: ['--config', file], env: {DOCKER_CONFIG: clusterEnv().dockerConfigDir}, port})
    try {
      type Status = {stacks: {name: string; tasks: {node: string | null; state: string}[] | null}[]}
      const stack = await serve.waitFor('the swarm view', async () => {
        const {status, body} = await getJson<Status>(`${serve.url}/swarm/status`)
        return status === 200 ? body.stacks.find((s) => s.name === WEB && s.tasks?.length) : undefined
      })
      expect(stack.tasks!.map((t) => `${t.node} ${t.state}`).sort()).toEqual(
        workers()
          .map((w) => `${w.name} running`)
          .sort(),
      )
    } finally {
      await serve.kill()
    }
  })

  it('says why a task cannot run anywhere, naming the constraint', async () => {
    repo
      .stacks([WEB, NOWHERE])
      .stack(NOWHERE, {extra: {deploy: {placement: {constraints: ['node.labels.hotest == nowhere']}}}})
      .commit('unplaceable')
    const result = await reconcile(await ws.swarm({convergeTimeoutSeconds: 5}), {})
    expect(result.exitCode).not.toBe(ExitCode.ok)
    const status = await swarmStatus(await ws.context())
    const [task] = status.stacks.find((s) => s.name === NOWHERE)!.tasks!
    expect(task).toMatchObject({node: null, state: 'pending'})
    expect(task!.reason).toMatch(/no suitable node/)
    expect(formatStatus({interactive: false, color: false}, status)).toMatch(/no suitable node/)
  })
})
