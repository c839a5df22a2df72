import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {stringify} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../support/cli.js'
import {git} from '../support/git.js'
import {dockerEnv, testEnv} from '../support/testenv.js'
import {type GitHttpServer, startGitHttp} from '../integration/swarm/git-http.js'
import {removeStacks} from '../integration/swarm/harness.js'

/**
 * The groups acting on one workload (issue 16): a stack homeops deploys from git, changed behind git's
 * back (drift: healed, or only reported), `images` refusing or committing an update of it through the
 * watched repository (a real push to `git http-backend`), `monitor update` refusing its task container,
 * and `monitor status` agreeing with `images check` on one container.
 */
const run = randomBytes(3).toString('hex')
const STACK = `hotest-gitops-${run}-hello`
const SERVICE = `${STACK}_web`
const CONTAINER = `hotest-gitops-${run}-box`
const SCOPE = `hotest-gitops-${run}`
const TOKEN = 'tok-gitops-e2e-never-shown-7f3a'
const env = testEnv()
const image = (tag: string) => `${env.registry.host}/${env.images.app}:${tag}`

const root = mkdtempSync(join(tmpdir(), `hotest-gitops-${run}-`))
const served = join(root, 'served')
const work = join(root, 'work')
let server: GitHttpServer
let url: string

function docker(...args: string[]): string {
  return execFileSync('docker', args, {env: dockerEnv(), encoding: 'utf8', timeout: 180_000}).trim()
}

function compose(tag: string, extra: Record<string, string> = {}): string {
  return stringify({
    services: {
      web: {
        image: image(tag),
        command: ['sleep', '3600'],
        environment: {V: '1', ...extra},
        stop_grace_period: '1s',
        deploy: {
          replicas: 1,
          update_config: {delay: '0s', monitor: '1s'},
          restart_policy: {delay: '1s'},
          labels: {'homeops.images.scope': SCOPE, 'homeops.images.mode': 'NOTIFICATION'},
        },
      },
    },
  })
}

function writeConfig(name: string, extra: {swarm?: Record<string, unknown>; images?: Record<string, unknown>} = {}) {
  const path = join(root, `${name}.yaml`)
  writeFileSync(
    path,
    stringify({
      state: {path: join(root, 'state', 'homeops.db')},
      docker: {host: env.dockerHost},
      swarm: {
        convergeTimeoutSeconds: 120,
        stableSeconds: 1,
        cacheDir: join(root, 'cache'),
        repositories: [{url, username: 'homeops', token: TOKEN}],
        ...extra.swarm,
      },
      images: {watchByDefault: false, scope: SCOPE, ...extra.images},
    }),
  )
  return path
}

let config: string
let reportConfig: string
let commitConfig: string
const cli = (args: string[], path = config) =>
  runCli([...args, '--config', path], {env: {DOCKER_CONFIG: env.dockerConfigDir}, timeoutMs: 300_000})

interface ServiceView {
  image: string
  env: string[]
  labels: Record<string, string>
}
function serviceView(): ServiceView {
  const [info] = JSON.parse(docker('service', 'inspect', SERVICE)) as {
    Spec: {Labels?: Record<string, string>; TaskTemplate: {ContainerSpec: {Image: string; Env?: string[]}}}
  }[]
  return {
    image: info!.Spec.TaskTemplate.ContainerSpec.Image,
    env: info!.Spec.TaskTemplate.ContainerSpec.Env ?? [],
    labels: info!.Spec.Labels ?? {},
  }
}

beforeAll(async () => {
  mkdirSync(served, {recursive: true})
  mkdirSync(work, {recursive: true})
  git(work, 'init', '-q', '-b', 'main')
  writeFileSync(join(work, 'stacks.yaml'), stringify([{name: STACK}]))
  mkdirSync(join(work, STACK))
  writeFileSync(join(work, STACK, 'compose.yaml'), compose('1.0.0'))
  git(work, 'add', '-A')
  git(work, '-c', 'user.name=t', '-c', 'user.email=t@e', 'commit', '-q', '-m', 'initial')
  git(root, 'clone', '-q', '--bare', work, join(served, 'homelab.git'))
  server = await startGitHttp({projectRoot: served, credentials: `homeops:${TOKEN}`})
  url = `${server.url}/homelab.git`
  config = writeConfig('config')
  reportConfig = writeConfig('report', {swarm: {driftPolicy: 'report'}})
  commitConfig = writeConfig('commit', {images: {gitops: 'commit'}})
  docker(
    'run',
    '-d',
    '--name',
    CONTAINER,
    '--label',
    `homeops.images.scope=${SCOPE}`,
    '--label',
    'homeops.images.mode=NOTIFICATION',
    image('1.0.0'),
    'sleep',
    '3600',
  )
}, 120_000)

afterAll(async () => {
  try {
    docker('rm', '-f', CONTAINER)
  } catch {
    // already gone
  }
  await removeStacks([STACK])
  await server?.close()
  rmSync(root, {recursive: true, force: true})
}, 180_000)

describe('the groups act on one workload (built CLI)', () => {
  it('deploys the stack from the watched repository', async () => {
    const result = await cli(['swarm', 'watch', url])
    expect(result.code, result.stderr).toBe(0)
    expect(serviceView().image).toContain(':1.0.0@sha256:')
    const status = JSON.parse((await cli(['swarm', 'status', '--json'])).stdout) as {
      stacks: {name: string; drift: unknown}[]
    }
    expect(status.stacks.find((s) => s.name === STACK)?.drift).toEqual([])
  })

  it('reports drift made behind git, and leaves it running under driftPolicy: report', async () => {
    docker('service', 'update', '--quiet', '--image', image('1.1.0'), '--env-add', 'EXTRA=1', SERVICE)
    const status = JSON.parse((await cli(['swarm', 'status', '--json'])).stdout) as {
      stacks: {name: string; drift: {service: string; field: string; running: string}[]}[]
    }
    const drift = status.stacks.find((s) => s.name === STACK)!.drift
    expect(drift.map((d) => [d.service, d.field])).toEqual([
      [SERVICE, 'image'],
      [SERVICE, 'env'],
    ])
    expect(drift[0]!.running).toContain(':1.1.0')
    const text = await cli(['swarm', 'status'])
    expect(text.stdout).toMatch(new RegExp(`${STACK}\\s+\\S+\\s+deployed \\(drifted\\)`))
    expect(text.stdout).toContain(`${STACK} drifted: ${SERVICE} image`)

    const reported = await cli(['swarm', 'reconcile', '--json'], reportConfig)
    expect(reported.code, reported.stderr).toBe(0)
    const stack = (JSON.parse(reported.stdout) as {stacks: {stack: string; outcome: string; reason: string}[]})
      .stacks[0]!
    expect(stack).toMatchObject({stack: STACK, outcome: 'drifted'})
    expect(stack.reason).toContain('swarm.driftPolicy: report')
    expect(serviceView().image).toContain(':1.1.0')
  })

  it('heals the drift by redeploying from git (the default policy)', async () => {
    const healed = await cli(['swarm', 'reconcile'])
    expect(healed.code, healed.stderr).toBe(0)
    expect(healed.stdout).toMatch(
      new RegExp(`${STACK}\\s+\\S+\\s+deployed\\s+drifted, redeployed from git: ${SERVICE} image`),
    )
    const view = serviceView()
    expect(view.image).toContain(':1.0.0@sha256:')
    expect(view.env.some((e) => e.startsWith('EXTRA='))).toBe(false)
    const again = await cli(['swarm', 'reconcile', '--json'])
    expect((JSON.parse(again.stdout) as {stacks: {outcome: string}[]}).stacks[0]!.outcome).toBe('unchanged')
  })

  it('images check marks the service as managed by git', async () => {
    const result = await cli(['images', 'check', '--workload', SERVICE, '--json'])
    expect(result.code, result.stderr).toBe(0)
    const row = (JSON.parse(result.stdout) as {results: {workload: string; gitops: unknown}[]}).results[0]!
    expect(row.gitops).toEqual({
      repository: 'homelab',
      url,
      stack: STACK,
      service: 'web',
      file: `${STACK}/compose.yaml`,
    })
    const text = await cli(['images', 'check', '--workload', SERVICE])
    expect(text.stdout).toContain(`${SERVICE}: managed by git (repo homelab, ${STACK}/compose.yaml)`)
  })

  it('images update refuses to change it behind git, names the file, and records the refusal', async () => {
    const before = serviceView().image
    const result = await cli(['images', 'update', SERVICE, '--to', '1.1.0', '--yes'])
    expect(result.code).toBe(1)
    expect(result.stdout).toContain(`change services.web.image to ${image('1.1.0')} in ${STACK}/compose.yaml`)
    expect(serviceView().image).toBe(before)
    const history = JSON.parse((await cli(['images', 'history', SERVICE, '--json'])).stdout) as {
      updates: {result: string; newVersion: string}[]
    }
    expect(history.updates[0]).toMatchObject({result: 'refused', newVersion: '1.1.0'})
  })

  it('with images.gitops: commit, pushes the tag bump to the repository and the reconcile deploys it', async () => {
    const result = await cli(['images', 'update', SERVICE, '--to', '1.1.0', '--yes'], commitConfig)
    expect(result.code, result.stderr + result.stdout).toBe(0)
    expect(result.stdout).toContain(`${SERVICE}: 1.0.0 → 1.1.0`)
    const bare = join(served, 'homelab.git')
    expect(git(bare, 'log', '-1', '--format=%s')).toBe(`chore(images): bump ${STACK}/web image to 1.1.0`)
    expect(git(bare, 'show', `HEAD:${STACK}/compose.yaml`)).toContain(`image: ${image('1.1.0')}`)
    // Only the image line changed.
    expect(git(bare, 'diff', '--numstat', 'HEAD~1', 'HEAD')).toBe(`1\t1\t${STACK}/compose.yaml`)
    expect(serviceView().image).toContain(':1.1.0@sha256:')
    // The token went to the git server in a header only, and nowhere a user can see it.
    expect(server.authorizations).toContain(`Basic ${Buffer.from(`homeops:${TOKEN}`).toString('base64')}`)
    expect(result.stdout + result.stderr).not.toContain(TOKEN)
    const clone = join(root, 'cache', 'homelab')
    expect(git(clone, 'status', '--porcelain')).toBe('')
    expect(git(clone, 'config', '--get', 'remote.origin.url')).toBe(url)
    const status = JSON.parse((await cli(['swarm', 'status', '--json'])).stdout) as {
      stacks: {name: string; drift: unknown; deployedCommit: string}[]
    }
    const stack = status.stacks.find((s) => s.name === STACK)!
    expect(stack.drift).toEqual([])
    expect(stack.deployedCommit).toBe(git(bare, 'rev-parse', 'HEAD'))
  })

  it('monitor update refuses a Swarm task container and points at images update', async () => {
    const task = docker('ps', '--filter', `label=com.docker.swarm.service.name=${SERVICE}`, '--format', '{{.Names}}')
      .split('\n')
      .filter(Boolean)[0]!
    expect(task).toMatch(new RegExp(`^${SERVICE}\\.1\\.`))
    const id = docker('inspect', '--format', '{{.Id}}', task)
    const result = await cli(['monitor', 'update', task, '--yes'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(`it is a task of the Swarm service ${SERVICE}`)
    expect(result.stderr).toContain(`homeops images update ${SERVICE}`)
    expect(docker('inspect', '--format', '{{.Id}} {{.State.Running}}', task)).toBe(`${id} true`)
    const status = JSON.parse((await cli(['monitor', 'status', task, '--json', '--no-check'])).stdout) as {
      containers: {updatable: boolean; not_updatable_reason: string}[]
    }
    expect(status.containers[0]).toMatchObject({updatable: false})
    expect(status.containers[0]!.not_updatable_reason).toContain(`homeops images update ${SERVICE}`)
  })

  it('monitor status and images check give one answer for one container', async () => {
    const check = await cli(['images', 'check', '--workload', CONTAINER, '--json'])
    expect(check.code, check.stderr).toBe(0)
    const result = (JSON.parse(check.stdout) as {results: {newestAllowed: string; digestStatus: string}[]}).results[0]!
    expect(result.newestAllowed).toBe('2.0.0')
    const monitor = await cli(['monitor', 'status', CONTAINER, '--json'])
    expect(monitor.code, monitor.stderr).toBe(0)
    const row = (JSON.parse(monitor.stdout) as {containers: Record<string, unknown>[]}).containers[0]!
    expect(row).toMatchObject({
      update: result.digestStatus,
      version_update: '2.0.0',
      version_status: 'update_available',
      updatable: true,
    })
    const text = await cli(['monitor', 'status', CONTAINER])
    expect(text.stdout).toMatch(new RegExp(`${CONTAINER}\\s+running\\s+\\S+\\s+up to date · 2\\.0\\.0 allowed`))
  })
})
