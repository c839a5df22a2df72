import {mkdirSync, rmSync} from 'node:fs'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ExitCode} from '../../../src/lib/errors.js'
import {waitConverged} from '../../../src/lib/swarm/docker.js'
import {type ReconcileReport, reconcile, watch} from '../../../src/lib/swarm/reconcile.js'
import {testEnv} from '../../support/testenv.js'
import {Workspace, dockerCli, removeStacks, run} from './harness.js'

/**
 * Issue 21 item 5 on the Swarm of the test environment: a task failure waiting cannot fix ends the
 * stack as failed within seconds, with Docker's reason, while the convergence timeout is minutes.
 */
const ws = new Workspace()
const created = new Set<string>()
const name = (n: string) => {
  const s = `hotest-swarmpar-${run}-${n}`
  created.add(s)
  return s
}
const missingPath = `/tmp/hotest-swarmpar-${run}-missing`
const outcome = (report: ReconcileReport, stack: string) => report.stacks.find((s) => s.stack === stack)!

beforeAll(() => {
  process.env.DOCKER_CONFIG = testEnv().dockerConfigDir
})

afterAll(async () => {
  await ws.close()
  await removeStacks([...created])
  rmSync(missingPath, {recursive: true, force: true})
  ws.cleanup()
}, 180_000)

describe('failures waiting cannot fix', () => {
  const BIND = name('bind')
  const CONSTRAINT = name('constraint')
  const NOIMAGE = name('noimage')
  const BADREF = name('badref')
  const NOSECRET = name('nosecret')
  const NONETWORK = name('nonetwork')
  const GOOD = name('good')
  const cases: [string, string, RegExp][] = [
    [BIND, 'a bind source path that does not exist', /bind mount points to a path that does not exist.*missing/],
    [CONSTRAINT, 'a placement constraint no node satisfies', /no node satisfies the placement constraints/],
    [NOIMAGE, 'an image the registry does not have', /nope-swarmpar:9\.9\.9.*(manifest unknown|not found)/i],
    [BADREF, 'an invalid image reference', /invalid reference format/],
    [NOSECRET, 'a missing external secret', /secret.*not found/i],
    [NONETWORK, 'a missing external network', /network.*not (be )?found/i],
  ]
  let report: ReconcileReport

  beforeAll(async () => {
    const registry = testEnv().registry.host
    const repo = ws.repo('failfast')
    repo
      .stacks([BIND, CONSTRAINT, NOIMAGE, BADREF, NOSECRET, NONETWORK, GOOD])
      .stack(BIND, {volumes: [`${missingPath}:/data`]})
      .stack(CONSTRAINT, {
        extra: {deploy: {replicas: 1, placement: {constraints: ['node.labels.hotest-swarmpar == none']}}},
      })
      .stack(NOIMAGE, {image: `${registry}/hotest/nope-swarmpar:9.9.9`})
      .stack(BADREF, {image: `${registry}/hotest/Not-Lower:1`})
      .stack(NOSECRET, {extra: {secrets: ['s']}})
      .stack(NONETWORK, {extra: {networks: ['n']}})
      .stack(GOOD)
    repo.write(
      `${NOSECRET}/compose.yaml`,
      `services:\n  app:\n    image: ${registry}/hotest/app:1.0.0\n    command: ["sleep", "3600"]\n    secrets: [s]\n` +
        `secrets:\n  s:\n    external: true\n    name: hotest-swarmpar-${run}-absent\n`,
    )
    repo.write(
      `${NONETWORK}/compose.yaml`,
      `services:\n  app:\n    image: ${registry}/hotest/app:1.0.0\n    command: ["sleep", "3600"]\n    networks: [n]\n` +
        `networks:\n  n:\n    external: true\n    name: hotest-swarmpar-${run}-absent\n`,
    )
    repo.commit('failing stacks')
    // A convergence timeout far above the < 30 s each case must take.
    report = (await watch(await ws.swarm({convergeTimeoutSeconds: 240}), {url: repo.dir})).reconcile
  }, 240_000)

  it.each(cases)('%s (%s) fails within 30 s with the reason', (stack, _what, reason) => {
    const r = outcome(report, stack)
    expect(r.outcome).toBe('failed')
    expect(r.error).toMatch(reason)
    expect(r.durationMs).toBeLessThan(30_000)
  })

  it('the other stacks still deploy, and the exit code says that some failed', () => {
    expect(outcome(report, GOOD).outcome).toBe('deployed')
    expect(report.exitCode).toBe(ExitCode.failure)
    expect(
      ws.logs.some((l) => l.includes(`stack ${BIND} failed`) && l.includes('bind source path does not exist')),
    ).toBe(true)
  })

  it('a failure of the previous deploy does not fail the next one once the cause is fixed', async () => {
    mkdirSync(missingPath, {recursive: true})
    const again = await reconcile(await ws.swarm({convergeTimeoutSeconds: 120}), {repo: 'failfast'})
    expect(outcome(again, BIND).outcome).toBe('deployed')
    // The unchanged stack whose task is still pending from the first run fails fast again, not at the timeout.
    expect(outcome(again, CONSTRAINT)).toMatchObject({outcome: 'failed'})
    expect(outcome(again, CONSTRAINT).error).toMatch(/no node satisfies the placement constraints/)
    expect(outcome(again, CONSTRAINT).durationMs).toBeLessThan(30_000)
  }, 180_000)
})

describe('a task rejected for an image the node does not have', () => {
  it('ends the convergence wait within 30 s with "No such image"', async () => {
    const stack = name('taskimage')
    // Deployed without resolving the image, as another tool would: the task itself is rejected.
    dockerCli(
      ['stack', 'deploy', '--resolve-image', 'never', '-c', '-', stack],
      `version: "3.8"\nservices:\n  app:\n    image: hotest-swarmpar-${run}-absent:1\n    command: ["sleep", "3600"]\n`,
    )
    const env = await ws.swarm()
    const started = Date.now()
    await expect(waitConverged(env.engine, stack, 240_000)).rejects.toThrow(/image does not exist.*No such image/)
    expect(Date.now() - started).toBeLessThan(30_000)
  }, 120_000)
})
