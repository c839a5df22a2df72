import {describe, expect, it} from 'vitest'

import type {Docker} from '../../../src/lib/docker/client.js'
import {STACK_LABEL, waitConverged} from '../../../src/lib/swarm/docker.js'

/**
 * The convergence wait against a fake Engine API: the tasks must stay up `stableMs` by their own
 * start times, a crash-looping service (ever newer tasks) never counts as converged, and a node
 * whose clock is behind cannot cut the hold short.
 */
const SERVICE = {
  ID: 's1',
  Spec: {
    Name: 'web_app',
    Labels: {[STACK_LABEL]: 'web'},
    Mode: {Replicated: {Replicas: 1}},
    TaskTemplate: {ContainerSpec: {Image: 'app:1'}},
  },
}

/** A task of SERVICE; `spec` is the task template it was created from (the service's, by default). */
function task(id: string, state: string, startedAt: number, spec: object = SERVICE.Spec.TaskTemplate) {
  return {
    ID: id,
    ServiceID: 's1',
    NodeID: 'n1',
    DesiredState: 'running',
    Status: {State: state, Timestamp: new Date(startedAt).toISOString()},
    Spec: spec,
  }
}

/** An engine whose task list is `tasks(poll)`, poll counting from 0, serving `service`. */
function engine(tasks: (poll: number) => ReturnType<typeof task>[], service: object = SERVICE): Docker {
  let poll = 0
  return {listServices: async () => [service], listTasks: async () => tasks(poll++)} as unknown as Docker
}

/** The wait for stack `web` with a 1 s hold. */
const holdOf1s = (tasks: Parameters<typeof engine>[0], timeoutMs = 5000): Promise<void> =>
  waitConverged(engine(tasks), 'web', timeoutMs, undefined, undefined, 1000)

/** How long the wait took, in ms. */
async function timed(tasks: Parameters<typeof engine>[0]): Promise<number> {
  const started = Date.now()
  await holdOf1s(tasks)
  return Date.now() - started
}

describe('waitConverged with a stability hold', () => {
  it('takes a task up for longer than the hold as converged at once', async () => {
    const took = await timed(() => [task('t1', 'running', Date.now() - 10_000)])
    expect(took).toBeLessThan(500)
  })

  it('holds a task that just started until it has run for the hold, and no longer', async () => {
    const started = Date.now()
    const took = await timed(() => [task('t1', 'running', started)])
    expect(took).toBeGreaterThanOrEqual(900)
    expect(took).toBeLessThan(1800)
  })

  it('never takes a crash-looping service (a new task at every poll) as converged', async () => {
    const wait = holdOf1s((poll) => [task(`t${poll}`, 'running', Date.now() - 50)], 2500)
    await expect(wait).rejects.toThrow(/stack web did not converge within 3 s \(running, staying up for 1 s\)/)
  })

  it('trusts a start time older than the last poll that saw the stack not converged no further back than that poll', async () => {
    // The worker's clock is an hour behind: its task "started an hour ago" right after a poll saw it starting.
    const took = await timed((poll) => [
      poll === 0 ? task('t1', 'starting', Date.now()) : task('t1', 'running', Date.now() - 3_600_000),
    ])
    expect(took).toBeGreaterThanOrEqual(900)
  })

  it('waits for Swarm to replace a task whose spec is not the template any more, not only the image', async () => {
    // Right after `stack deploy` changed a container label (the digest of a binding's files), before Swarm
    // begins the update, the old task runs the same image: it is not current, whatever its start time.
    const template = {ContainerSpec: {Image: 'app:1', Labels: {'homeops.binding': 'b'}}, Placement: {}}
    const service = {...SERVICE, Spec: {...SERVICE.Spec, TaskTemplate: template}}
    const old = {ContainerSpec: {Image: 'app:1', Labels: {'homeops.binding': 'a'}}}
    const replacedAt = Date.now() + 600
    const started = Date.now()
    await waitConverged(
      engine(
        () =>
          Date.now() < replacedAt
            ? [task('t1', 'running', Date.now() - 3_600_000, old)]
            : [task('t2', 'running', replacedAt, {...template, Placement: {Constraints: ['node.role==worker']}})],
        service,
      ),
      'web',
      5000,
      undefined,
      undefined,
      1000,
    )
    // Converged only once the new task (its placement aside) had run for the hold.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500)
  })

  it('takes a task as current when its spec differs from the template only as the Engine API shows them', async () => {
    // What 20.10 and 28.x answer: the service's template alone names Runtime and an empty DNSConfig.
    const template = {
      ContainerSpec: {Image: 'app:1', DNSConfig: {}, Privileges: {CredentialSpec: null, NoNewPrivileges: false}},
      Resources: {},
      ForceUpdate: 0,
      Runtime: 'container',
    }
    const copy = {
      ContainerSpec: {Image: 'app:1', Privileges: {CredentialSpec: null, NoNewPrivileges: false}},
      ForceUpdate: 0,
    }
    const service = {...SERVICE, Spec: {...SERVICE.Spec, TaskTemplate: template}}
    const started = Date.now()
    await waitConverged(
      engine(() => [task('t1', 'running', started - 10_000, copy)], service),
      'web',
      3000,
      undefined,
      undefined,
      1000,
    )
    expect(Date.now() - started).toBeLessThan(500)
  })
})

describe('waitConverged after Swarm rolled an update back', () => {
  // The service's template is the previous version again; the failed task ran the version rolled back.
  const rolledBack = {...SERVICE, UpdateStatus: {State: 'rollback_completed', Message: 'rollback completed'}}
  const failed = {
    ...task('bad', 'failed', Date.now() - 2000, {ContainerSpec: {Image: 'app:2'}}),
    DesiredState: 'shutdown',
    Status: {State: 'failed', Err: 'task: non-zero exit (1)', Timestamp: new Date().toISOString()},
  }

  it('fails with the task error only once the previous version runs again', async () => {
    let polls = 0
    const tasks = (poll: number) => {
      polls = poll + 1
      return [failed, task('old', poll < 3 ? 'starting' : 'running', Date.now() - 5000)]
    }
    const wait = waitConverged(engine(tasks, rolledBack), 'web', 10_000)
    await expect(wait).rejects.toThrow(
      /^stack web: service web_app: update rollback completed: rollback completed: last task failed: task: non-zero exit \(1\)$/,
    )
    // Swarm said rollback_completed from the first poll; the wait went on until the old task ran.
    expect(polls).toBe(4)
  })

  it('says how many tasks run the previous version when they never come up', async () => {
    const wait = waitConverged(
      engine(() => [failed, task('old', 'starting', Date.now())], rolledBack),
      'web',
      1500,
    )
    await expect(wait).rejects.toThrow(
      /did not converge within 2 s \(web_app: update rollback completed: .*non-zero exit \(1\): 0 of 1 tasks run the previous version\)/,
    )
  })
  it('fails at once when a task of the previous version the rollback started fails too', async () => {
    const oldFailed = {
      ...task('old2', 'failed', Date.now()),
      DesiredState: 'shutdown',
      Status: {State: 'failed', Err: 'task: non-zero exit (2)', Timestamp: new Date().toISOString()},
    }
    const started = Date.now()
    const wait = waitConverged(
      engine(() => [failed, oldFailed, task('old3', 'starting', Date.now())], rolledBack),
      'web',
      10_000,
      undefined,
      new Set(['old1']),
    )
    await expect(wait).rejects.toThrow(
      /^stack web: service web_app: update rollback completed: rollback completed: last task failed: task: non-zero exit \(1\): the previous version failed too: task failed: task: non-zero exit \(2\)$/,
    )
    expect(Date.now() - started).toBeLessThan(500)
  })
})
