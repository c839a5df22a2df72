import {describe, expect, it} from 'vitest'

import type {Docker} from '../../../src/lib/docker/client.js'
import {updateService} from '../../../src/lib/images/apply.js'
import {silentLogger} from '../../../src/lib/log/logger.js'
import type {RegistryClient} from '../../../src/lib/registry/client.js'

/**
 * `images update` of a global Swarm service against a fake Engine API. Swarm says `completed` or
 * `rollback_completed` once it has started its last task; the update is done only when every node's task
 * runs the service's spec, as a user reading `docker service ps` would check.
 */
const OLD = 'registry.test/app:1.0.0'
const NEW_DIGEST = `sha256:${'a'.repeat(64)}`

interface Fake {
  docker: Docker
  polls: () => number
}

/**
 * A service whose update settles as `settled` at once; each task list poll `n` answers `tasks(n, image)`,
 * where `image` is the image of the spec the service has after the update (the old one after a rollback).
 */
function fakeEngine(
  settled: 'completed' | 'rollback_completed',
  tasks: (poll: number, image: string) => object[],
): Fake {
  let spec: {TaskTemplate: {ContainerSpec: {Image: string}}} & Record<string, unknown> = {
    Name: 'app',
    Mode: {Global: {}},
    TaskTemplate: {ContainerSpec: {Image: OLD}},
  }
  let status: object | undefined
  let polls = 0
  const service = {
    inspect: async () => ({ID: 's1', Version: {Index: 1}, Spec: spec, UpdateStatus: status}),
    update: async (options: typeof spec) => {
      const {version: _version, ...next} = options
      spec = settled === 'completed' ? next : spec
      status = {State: settled, StartedAt: new Date().toISOString(), Message: `update ${settled}`}
    },
  }
  const docker = {
    getService: () => service,
    listTasks: async () => tasks(polls++, spec.TaskTemplate.ContainerSpec.Image),
  } as unknown as Docker
  return {docker, polls: () => polls}
}

const client = {
  manifestDigest: async () => NEW_DIGEST,
  credentialsFor: async () => undefined,
} as unknown as RegistryClient

function task(node: string, state: string, image: string) {
  return {
    ID: `t-${node}`,
    ServiceID: 's1',
    NodeID: node,
    DesiredState: 'running',
    Status: {State: state},
    Spec: {ContainerSpec: {Image: image}},
  }
}

/** Three nodes; the task on n1 is still `starting` for the first `startingPolls` polls. */
const threeNodes =
  (startingPolls: number) =>
  (poll: number, image: string): object[] => [
    task('n1', poll < startingPolls ? 'starting' : 'running', image),
    task('n2', 'running', image),
    task('n3', 'running', image),
  ]

const update = (fake: Fake, timeoutMs = 10_000) =>
  updateService({docker: fake.docker, client, logger: silentLogger, timeoutMs}, 'app', {tag: '1.1.0'}, 'manual')

describe('images update of a Swarm service waits for the tasks, not only the update status', () => {
  it('reports a rollback only once the old version runs on every node again', async () => {
    const fake = fakeEngine('rollback_completed', threeNodes(2))
    const outcome = await update(fake)
    expect(outcome.result).toBe('rolled_back')
    expect(outcome.error).toMatch(/^the update failed and Swarm rolled back to 1\.0\.0/)
    expect(fake.polls()).toBe(3)
  })

  it('reports an update applied only once the new version runs on every node', async () => {
    const fake = fakeEngine('completed', threeNodes(2))
    const outcome = await update(fake)
    expect(outcome.result).toBe('applied')
    expect(fake.polls()).toBe(3)
  })

  it('says how many tasks run the version when they do not all come up in time', async () => {
    const fake = fakeEngine('completed', threeNodes(Number.POSITIVE_INFINITY))
    const outcome = await update(fake, 1500)
    expect(outcome.result).toBe('failed')
    expect(outcome.error).toBe(
      'the update did not converge (timeout: Swarm completed the update, but only 2 of 3 tasks run 1.1.0 after 2 s)',
    )
    const rolled = await update(fakeEngine('rollback_completed', threeNodes(Number.POSITIVE_INFINITY)), 1500)
    expect(rolled.result).toBe('rolled_back')
    expect(rolled.error).toBe('the update failed and Swarm rolled back to 1.0.0: only 2 of 3 tasks run it after 2 s')
  })

  it('does not count a task still running the old version', async () => {
    const fake = fakeEngine('completed', (poll, image) => [
      task('n1', 'running', poll < 1 ? OLD : image),
      task('n2', 'running', image),
    ])
    expect((await update(fake)).result).toBe('applied')
    expect(fake.polls()).toBe(2)
  })
})
