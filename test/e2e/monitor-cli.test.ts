import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {
  Cleanup,
  appImage,
  buildImage,
  docker,
  pushImage,
  runContainer,
  tagImage,
  uniqueName,
} from '../integration/monitor/harness.js'
import {runCli} from '../support/cli.js'
import {testEnv} from '../support/testenv.js'

const d = docker()
const cleanup = new Cleanup(d)
const names = {current: uniqueName('clicur'), outdated: uniqueName('cliold')}
let env: NodeJS.ProcessEnv

beforeAll(async () => {
  const ref = `${testEnv().registry.host}/${uniqueName('cli')}/app:1`
  const v1 = await buildImage(d, cleanup, ref, 'echo one > /marker')
  await pushImage(d, ref)
  await runContainer(d, cleanup, {name: names.outdated, Image: ref})
  await buildImage(d, cleanup, ref, 'echo two > /marker')
  await pushImage(d, ref)
  await tagImage(d, cleanup, v1, ref)
  await runContainer(d, cleanup, {name: names.current, Image: appImage('1.1.0')})
  const dir = cleanup.tempDir()
  writeFileSync(join(dir, 'config.yaml'), '')
  env = {
    DOCKER_HOST: testEnv().dockerHost,
    HOMEOPS_DB_PATH: join(dir, 'homeops.db'),
    HOMEOPS_CONFIG: join(dir, 'config.yaml'),
    HOME: dir,
  }
}, 180_000)

afterAll(() => cleanup.run(), 120_000)

describe('homeops monitor (built CLI)', () => {
  it('status --json lists containers with update status and metrics, nothing else on stdout', async () => {
    const r = await runCli(['monitor', 'status', '--json'], {env})
    expect(r.code, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout) as {containers: Record<string, unknown>[]}
    const current = report.containers.find((c) => c.name === names.current)!
    const outdated = report.containers.find((c) => c.name === names.outdated)!
    expect(current).toMatchObject({state: 'running', image: appImage('1.1.0'), update: 'up_to_date'})
    expect(outdated).toMatchObject({update: 'update_available'})
    expect(typeof current.cpu).toBe('number')
    expect(current.mem_usage).toBeGreaterThan(0)
    for (const key of ['mem_limit', 'mem_perc', 'net_rx', 'net_tx', 'blk_read', 'blk_write'])
      expect(current).toHaveProperty(key)
  })

  it('status NAME prints one aligned table row; an unknown name exits 2', async () => {
    const r = await runCli(['monitor', 'status', names.current, '--no-check'], {env})
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^NAME\s+STATE\s+IMAGE\s+UPDATE\s+CPU\s+MEMORY/)
    expect(lines).toHaveLength(2)
    expect(lines[1]).toContain(names.current)
    expect(lines[1]).toContain('not checked')
    expect(r.stdout).not.toContain(String.fromCharCode(27)) // no colour off a terminal
    const missing = await runCli(['monitor', 'status', 'hotest-monitor-none'], {env})
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('container "hotest-monitor-none" not found')
  })

  it('update refuses to run unattended without --yes and changes nothing', async () => {
    const before = await d.getContainer(names.outdated).inspect()
    const r = await runCli(['monitor', 'update', names.outdated], {env})
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('without confirmation')
    expect(r.stderr).toContain('--yes')
    expect((await d.getContainer(names.outdated).inspect()).Id).toBe(before.Id)
  })

  it('update --yes pulls and recreates an outdated container, and is a no-op the second time', async () => {
    const before = await d.getContainer(names.outdated).inspect()
    const r = await runCli(['monitor', 'update', names.outdated, '--yes', '--json'], {env})
    expect(r.code, r.stderr).toBe(0)
    const outcome = JSON.parse(r.stdout) as {updated: boolean; message: string; container_id: string}
    expect(outcome.updated).toBe(true)
    const after = await d.getContainer(names.outdated).inspect()
    expect(after.Id).toBe(outcome.container_id)
    expect(after.Id).not.toBe(before.Id)
    const again = await runCli(['monitor', 'update', names.outdated, '--yes'], {env})
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain('already up to date')
    expect((await d.getContainer(names.outdated).inspect()).Id).toBe(after.Id)
  })

  it('update of an unknown container exits 2 naming it', async () => {
    const r = await runCli(['monitor', 'update', 'hotest-monitor-none', '--yes'], {env})
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('container "hotest-monitor-none" not found')
  })

  it('images and prune work on labelled images only when asked to', async () => {
    const label = `hotest.monitor.cli=${uniqueName('l')}`
    const [k, v] = label.split('=') as [string, string]
    const ref = `hotest-monitor-cliprune/${uniqueName('i')}:1`
    const id = await buildImage(d, cleanup, ref, 'echo x > /x', {labels: {[k]: v}})
    const listed = await runCli(['monitor', 'images', '--label', label, '--json'], {env})
    expect(listed.code, listed.stderr).toBe(0)
    expect(JSON.parse(listed.stdout)).toMatchObject({count: 1, items: [{id, tags: [ref], dangling: false}]})
    const refused = await runCli(['monitor', 'prune', '--label', label], {env})
    expect(refused.code).toBe(2)
    await d.getImage(id).inspect()
    const pruned = await runCli(['monitor', 'prune', '--label', label, '--yes', '--json'], {env})
    expect(pruned.code, pruned.stderr).toBe(0)
    expect(JSON.parse(pruned.stdout).ImagesDeleted).toEqual(expect.arrayContaining([{Deleted: id}]))
    await expect(d.getImage(id).inspect()).rejects.toMatchObject({statusCode: 404})
  })

  it('names the socket it tried when Docker is unreachable (exit 1)', async () => {
    const r = await runCli(['monitor', 'status'], {env: {...env, DOCKER_HOST: 'unix:///tmp/hotest-monitor-no.sock'}})
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('unix:///tmp/hotest-monitor-no.sock')
  })

  it('watch and json together is a usage error', async () => {
    const r = await runCli(['monitor', 'status', '--watch', '--json'], {env})
    expect(r.code).toBe(2)
  })
})
