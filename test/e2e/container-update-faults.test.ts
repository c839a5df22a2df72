import {type ChildProcess, spawn} from 'node:child_process'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type Dockerode from 'dockerode'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {Cleanup, appImage, docker, runContainer, uniqueName} from '../integration/monitor/harness.js'
import {cliPath, repoRoot, runCli} from '../support/cli.js'
import {getJson, startServe} from '../support/serve-process.js'
import {testEnv} from '../support/testenv.js'
import {freePort} from '../support/free-port.js'

/**
 * Container updates killed half-way (SIGKILL at each step, held there by
 * HOMEOPS_TEST_PAUSE_UPDATE_AT), and two groups updating one container at
 * once, with the built CLI on the test daemon.
 */
const d = docker()
const cleanup = new Cleanup(d)
let env: NodeJS.ProcessEnv
let dir: string

beforeAll(() => {
  dir = cleanup.tempDir()
  writeFileSync(join(dir, 'config.yaml'), '')
  mkdirSync(join(dir, 'data'))
  env = {
    DOCKER_HOST: testEnv().dockerHost,
    HOMEOPS_DB_PATH: join(dir, 'state', 'homeops.db'),
    HOMEOPS_CONFIG: join(dir, 'config.yaml'),
    HOME: dir,
  }
})

afterAll(() => cleanup.run(), 120_000)

/** A container with configuration worth keeping: env, labels, a bind mount, a restart policy, a command. */
async function appContainer(what: string): Promise<{name: string; before: Dockerode.ContainerInspectInfo}> {
  const name = uniqueName(what)
  await runContainer(d, cleanup, {
    name,
    Image: appImage('1.0.0'),
    Env: ['APP_MODE=faults', 'KEEP=me'],
    Labels: {'homeops.test': 'faults', 'com.example.owner': name},
    Cmd: ['sleep', '3600'],
    HostConfig: {Binds: [`${join(dir, 'data')}:/data`], RestartPolicy: {Name: 'unless-stopped', MaximumRetryCount: 0}},
  })
  return {name, before: await d.getContainer(name).inspect()}
}

/** What must survive any update: the configuration the user gave. */
function configOf(info: Dockerode.ContainerInspectInfo) {
  return {
    name: info.Name,
    image: info.Config.Image,
    env: info.Config.Env.filter((e) => !e.startsWith('PATH=')),
    // the user's labels (the image's own, such as its version, follow the image)
    labels: Object.fromEntries(
      Object.entries(info.Config.Labels ?? {}).filter(([k]) => !k.startsWith('org.opencontainers.')),
    ),
    cmd: info.Config.Cmd,
    binds: info.HostConfig.Binds,
    restart: info.HostConfig.RestartPolicy,
    networks: Object.keys(info.NetworkSettings.Networks).sort(),
  }
}

async function named(prefix: string): Promise<string[]> {
  const all = await d.listContainers({all: true})
  return all.map((c) => (c.Names[0] ?? '').replace(/^\//, '')).filter((n) => n.startsWith(prefix))
}

async function inspectOrNull(name: string): Promise<Dockerode.ContainerInspectInfo | null> {
  try {
    return await d.getContainer(name).inspect()
  } catch {
    return null
  }
}

interface Paused {
  child: ChildProcess
  stderr: () => string
  exit: Promise<number | null>
}

/** Starts the CLI with the update held right before `step`; resolves once it is there. */
async function pausedAt(step: string, args: string[]): Promise<Paused> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('HOMEOPS_') && k !== 'DOCKER_HOST' && k !== 'CI'),
  )
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: repoRoot,
    env: {...base, ...env, HOMEOPS_TEST_PAUSE_UPDATE_AT: step},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stdout.on('data', () => {})
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`never paused at ${step}:\n${stderr}`)), 60_000)
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      if (stderr.includes('update paused for a test') && stderr.includes(`step=${step}`)) {
        clearTimeout(timer)
        resolve()
      }
    })
    void exit.then((code) => reject(new Error(`exited (${code}) before pausing at ${step}:\n${stderr}`)))
  })
  return {child, stderr: () => stderr, exit}
}

async function kill(paused: Paused): Promise<void> {
  paused.child.kill('SIGKILL')
  await paused.exit
}

interface StatusJson {
  interrupted_updates: {name: string; step: string; running: boolean; aside_name: string}[]
}

describe('a container update killed at each step', () => {
  for (const step of ['rename', 'stop', 'create', 'start', 'ready'] as const) {
    it(`is repaired by the next monitor update after a SIGKILL before "${step}", name and config intact`, async () => {
      const {name, before} = await appContainer(`kill-${step}`)
      const paused = await pausedAt(step, ['monitor', 'update', name, '--yes', '--force'])
      await kill(paused)

      // Half-done: from "stop" on, the name is gone and the container lives on under its aside name.
      const aside = await named(`${name}-homeops-old-`)
      if (step === 'rename') expect(aside).toEqual([])
      else expect(aside).toHaveLength(1)
      if (step === 'stop' || step === 'create') expect(await inspectOrNull(name)).toBeNull()

      const status = await runCli(['monitor', 'status', '--json', '--no-check'], {env})
      expect(status.code, status.stderr).toBe(0)
      const report = JSON.parse(status.stdout) as StatusJson
      expect(report.interrupted_updates).toEqual([
        expect.objectContaining({
          name,
          step,
          running: false,
          aside_name: expect.stringMatching(`^${name}-homeops-old-`),
        }),
      ])
      const text = await runCli(['monitor', 'status', '--no-check'], {env})
      expect(text.stdout).toContain(`! update of ${name} was interrupted before step "${step}"`)

      const again = await runCli(['monitor', 'update', name, '--yes', '--json'], {env})
      expect(again.code, again.stderr).toBe(0)
      expect(again.stderr).toContain('repaired an interrupted update')

      const after = await d.getContainer(name).inspect()
      expect(configOf(after)).toEqual(configOf(before))
      expect(after.State.Running).toBe(true)
      // Before "ready" the previous container comes back; once the new one was ready, the update is finished.
      if (step === 'ready') expect(after.Id).not.toBe(before.Id)
      else expect(after.Id).toBe(before.Id)
      expect(await named(`${name}-homeops-old-`)).toEqual([])
      const clean = JSON.parse(
        (await runCli(['monitor', 'status', '--json', '--no-check'], {env})).stdout,
      ) as StatusJson
      expect(clean.interrupted_updates).toEqual([])
    })
  }

  it('is repaired by serve at start', async () => {
    const {name, before} = await appContainer('kill-serve')
    const paused = await pausedAt('start', ['monitor', 'update', name, '--yes', '--force'])
    await kill(paused)
    expect(await named(`${name}-homeops-old-`)).toHaveLength(1)

    const port = await freePort()
    const config = join(dir, 'serve.yaml')
    writeFileSync(config, `serve:\n  listen: 127.0.0.1:${port}\nmonitor:\n  enabled: true\n`)
    const serve = startServe({args: ['--config', config], env: {...env, HOMEOPS_CONFIG: config}, port})
    try {
      await serve.waitFor('/health 200', async () => {
        const h = await getJson(`${serve.url}/health`)
        return h.status === 200 ? h : undefined
      })
      const after = await d.getContainer(name).inspect()
      expect(after.Id).toBe(before.Id)
      expect(configOf(after)).toEqual(configOf(before))
      expect(after.State.Running).toBe(true)
      expect(await named(`${name}-homeops-old-`)).toEqual([])
      expect(serve.stderr).toContain('repaired an interrupted update')
      serve.child.kill('SIGTERM')
      expect((await serve.exit).code).toBe(0)
    } finally {
      await serve.kill()
    }
  })
})

describe('monitor update and images update of one container at once', () => {
  it('the second waits out with exit 5 naming the holder, and the name is never lost', async () => {
    const {name, before} = await appContainer('both')
    // held with the lock taken, right before the rename: the name still points at the container
    const paused = await pausedAt('rename', ['monitor', 'update', name, '--yes', '--force'])
    try {
      const images = await runCli(['images', 'update', name, '--to', '1.1.0', '--yes'], {env})
      expect(images.code, images.stderr).toBe(5)
      expect(images.stderr).toContain(`another update of container "${name}" is running (pid ${paused.child.pid}`)
      // images update changed nothing and recorded nothing
      const history = await runCli(['images', 'history', '--json'], {env})
      expect(history.stdout).not.toContain(name)
    } finally {
      await kill(paused)
    }
    // the next images update repairs the interrupted one, then updates
    const images = await runCli(['images', 'update', name, '--to', '1.1.0', '--yes'], {env})
    expect(images.code, images.stderr).toBe(0)
    const after = await d.getContainer(name).inspect()
    expect(after.Config.Image).toBe(appImage('1.1.0'))
    expect({...configOf(after), image: before.Config.Image}).toEqual(configOf(before))
    expect(await named(`${name}-homeops-old-`)).toEqual([])
  })

  it('run truly at the same time, both finish cleanly: one applies, the other after it, or stops (exit 5 or 3)', async () => {
    const {name, before} = await appContainer('race')
    const [monitor, images] = await Promise.all([
      runCli(['monitor', 'update', name, '--yes', '--force'], {env}),
      runCli(['images', 'update', name, '--to', '1.1.0', '--yes'], {env}),
    ])
    // 5: the other held the lock; 3: the other replaced the container while this one pulled (nothing changed)
    expect([0, 3, 5], monitor.stderr).toContain(monitor.code)
    expect([0, 3, 5], images.stderr).toContain(images.code)
    expect([monitor.code, images.code]).toContain(0)
    for (const r of [monitor, images]) {
      if (r.code === 3) expect(r.stderr).toContain(`"${name}" was replaced by another update`)
      if (r.code === 5) expect(r.stderr).toContain(`another update of container "${name}" is running`)
    }
    const after = await d.getContainer(name).inspect()
    expect(after.State.Running).toBe(true)
    expect(after.Name).toBe(`/${name}`)
    // a monitor update that went second re-pulled what images had moved to, never the version it first saw
    if (images.code === 0) expect(after.Config.Image).toBe(appImage('1.1.0'))
    expect({...configOf(after), image: before.Config.Image}).toEqual(configOf(before))
    expect(await named(`${name}-homeops-old-`)).toEqual([])
  })
})
