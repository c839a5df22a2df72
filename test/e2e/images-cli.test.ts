import {execFileSync, spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliPath, repoRoot, runCli} from '../support/cli.js'
import {dockerEnv, testEnv} from '../support/testenv.js'

const env = testEnv()
const name = `hotest-images-e2e-${randomBytes(3).toString('hex')}`
const image = `${env.registry.host}/${env.images.app}:1.0.0`
const dir = mkdtempSync(join(tmpdir(), 'hotest-images-e2e-'))
const configPath = join(dir, 'config.yaml')

function docker(...args: string[]): string {
  return execFileSync('docker', args, {env: dockerEnv(), encoding: 'utf8', timeout: 60_000}).trim()
}

const cliEnv = (extra: Record<string, string> = {}) => ({
  HOMEOPS_CONFIG: configPath,
  HOMEOPS_DB_PATH: join(dir, 'homeops.db'),
  DOCKER_HOST: env.dockerHost,
  DOCKER_CONFIG: env.dockerConfigDir,
  ...extra,
})

beforeAll(() => {
  // Only workloads with a mode label: the daemon is shared with other tests.
  writeFileSync(configPath, `images:\n  watchByDefault: false\n  scope: ${name}\n`)
  docker(
    'run',
    '-d',
    '--name',
    name,
    '--label',
    `homeops.images.scope=${name}`,
    '--label',
    'homeops.images.mode=NOTIFICATION',
    '--label',
    'homeops.images.strategy=MINOR',
    image,
  )
})
afterAll(() => {
  try {
    docker('rm', '-f', name)
  } catch {
    // not created
  }
  rmSync(dir, {recursive: true, force: true})
})

describe('homeops images (built CLI)', () => {
  it('check --json prints only the report, with a stable shape', async () => {
    const result = await runCli(['images', 'check', '--json'], {env: cliEnv()})
    expect(result.code).toBe(0)
    const report = JSON.parse(result.stdout) as {
      results: Record<string, unknown>[]
      summary: unknown
      registryRequests: unknown
    }
    expect(Object.keys(report)).toEqual(['runId', 'checkedAt', 'durationMs', 'results', 'summary', 'registryRequests'])
    const row = report.results.find((r) => r.workload === name)!
    expect(Object.keys(row)).toEqual([
      'workload',
      'kind',
      'id',
      'image',
      'reference',
      'currentTag',
      'currentDigest',
      'remoteDigest',
      'newestAllowed',
      'newestOverall',
      'mode',
      'strategy',
      'status',
      'update',
      'digestStatus',
      'error',
      'note',
      'transient',
      'source',
      'releaseUrl',
      'gitops',
    ])
    expect(row).toMatchObject({
      kind: 'container',
      currentTag: '1.0.0',
      newestAllowed: '1.1.0',
      newestOverall: '2.0.0',
      status: 'update_available',
    })
  })

  it('check prints a table for people, and --workload narrows it', async () => {
    const result = await runCli(['images', 'check', '--workload', name], {env: cliEnv()})
    expect(result.code).toBe(0)
    const lines = result.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^WORKLOAD\s+KIND\s+IMAGE\s+CURRENT\s+ALLOWED\s+NEWEST\s+MODE\s+STATUS$/)
    expect(lines[1]).toMatch(
      new RegExp(
        `^${name}\\s+container\\s+${env.registry.host}/hotest/app\\s+1\\.0\\.0\\s+1\\.1\\.0\\s+2\\.0\\.0\\s+NOTIFICATION/MINOR\\s+update available$`,
      ),
    )
    expect(result.stdout).not.toContain('\u001B[')
    const missing = await runCli(['images', 'check', '--workload', 'hotest-images-none'], {env: cliEnv()})
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('no running container or Swarm service named "hotest-images-none"')
  })

  it('check reports a locally built image as local image (exit 0), with no registry request', async () => {
    const local = `${name}-local`
    // A committed image has no RepoDigests: it never came from a registry.
    const ref = `hotest-images-local-${randomBytes(3).toString('hex')}:1.0.0`
    docker('commit', name, ref)
    try {
      docker(
        'run',
        '-d',
        '--name',
        local,
        '--label',
        `homeops.images.scope=${name}`,
        '--label',
        'homeops.images.mode=NOTIFICATION',
        ref,
      )
      const result = await runCli(['images', 'check', '--workload', local, '--json'], {env: cliEnv()})
      expect(result.code).toBe(0)
      const report = JSON.parse(result.stdout) as {
        results: Record<string, unknown>[]
        registryRequests: {requests: number}
      }
      expect(report.results[0]).toMatchObject({workload: local, status: 'local_image', error: null})
      expect(report.registryRequests.requests).toBe(0)
      const table = await runCli(['images', 'check', '--workload', local], {env: cliEnv()})
      expect(table.code).toBe(0)
      expect(table.stdout).toContain('local image')
      expect(table.stdout).toContain(
        `${local}: built or loaded locally (no registry digest): not compared with a registry`,
      )
    } finally {
      docker('rm', '-f', local)
      docker('rmi', ref)
    }
  })

  it('check exits 3 when the only failure is an unreachable registry, and says which', async () => {
    const offline = `${name}-offline`
    const ref = `127.0.0.1:9/hotest/app:1.0.0`
    docker('tag', image, ref)
    try {
      docker(
        'run',
        '-d',
        '--name',
        offline,
        '--label',
        `homeops.images.scope=${name}`,
        '--label',
        'homeops.images.mode=NOTIFICATION',
        ref,
      )
      const result = await runCli(['images', 'check', '--workload', offline, '--json'], {
        env: cliEnv({HOMEOPS_IMAGES_REQUEST_TIMEOUT_SECONDS: '3'}),
      })
      expect(result.code).toBe(3)
      const row = (JSON.parse(result.stdout) as {results: Record<string, unknown>[]}).results[0]!
      expect(row).toMatchObject({workload: offline, status: 'error', transient: true})
      expect(row.error).toBe('cannot reach the registry 127.0.0.1:9: connection refused')
      // People get the cause once, and the request count says what was tried.
      const table = await runCli(['images', 'check', '--workload', offline], {
        env: cliEnv({HOMEOPS_IMAGES_REQUEST_TIMEOUT_SECONDS: '3'}),
      })
      expect(table.code).toBe(3)
      expect(table.stdout.split('cannot reach the registry').length - 1).toBe(1)
      expect(table.stderr).not.toContain('cannot reach the registry')
      expect(table.stdout).toMatch(/1 errors · [1-9]\d* registry requests/)
    } finally {
      docker('rm', '-f', offline)
      docker('rmi', ref)
    }
  })

  it('update refuses a missing tag (exit 1) and leaves the container alone', async () => {
    const id = docker('inspect', name, '--format', '{{.Id}}')
    const result = await runCli(['images', 'update', name, '--to', '9.9.9', '--yes'], {env: cliEnv()})
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`${env.registry.host}/hotest/app:9.9.9 was not found on ${env.registry.host}`)
    expect(docker('inspect', name, '--format', '{{.Id}} {{.Config.Image}} {{.State.Running}}')).toBe(
      `${id} ${image} true`,
    )
  })

  it('update needs --yes off a terminal (exit 2), and exits 5 while another update holds the lock', async () => {
    const noYes = await runCli(['images', 'update', name], {env: cliEnv()})
    expect(noYes.code).toBe(2)
    expect(noYes.stderr).toContain('--yes')
    writeFileSync(join(dir, 'images.lock'), `${process.pid}\n`)
    try {
      const locked = await runCli(['images', 'update', name, '--yes', '--json'], {env: cliEnv()})
      expect(locked.code).toBe(5)
      expect(JSON.parse(locked.stdout).error.message).toContain(`pid ${process.pid}`)
    } finally {
      rmSync(join(dir, 'images.lock'), {force: true})
    }
    expect(docker('inspect', name, '--format', '{{.Config.Image}}')).toBe(image)
  })

  it('history --json is empty before any update', async () => {
    const result = await runCli(['images', 'history', '--json'], {env: cliEnv()})
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual({updates: []})
  })

  it('serve answers /health and /images/status, and stops on SIGTERM with exit 0', async () => {
    const child = spawn(process.execPath, [cliPath, 'images', 'serve', '--listen', '127.0.0.1:0', '--run-on-boot'], {
      cwd: repoRoot,
      env: {...process.env, ...cliEnv()},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    try {
      let url: string | undefined
      for (let i = 0; i < 200 && !url; i++) {
        url = /images serve running url=(http:\/\/\S+)/.exec(stderr)?.[1]
        if (!url) await new Promise((r) => setTimeout(r, 100))
      }
      expect(url, stderr).toBeDefined()
      let checked = false
      for (let i = 0; i < 100 && !checked; i++) {
        checked = stderr.includes('image check done')
        if (!checked) await new Promise((r) => setTimeout(r, 100))
      }
      expect(checked, stderr).toBe(true)
      const health = await fetch(`${url}/health`)
      expect(health.status).toBe(200)
      expect(await health.json()).toMatchObject({status: 'ok', modes: {images: {up: true}}})
      const status = (await (await fetch(`${url}/images/status`)).json()) as {
        results: {workload: string; status: string}[]
      }
      expect(status.results.find((r) => r.workload === name)?.status).toBe('update_available')
      const metrics = await (await fetch(`${url}/metrics`)).text()
      expect(metrics).toContain('homeops_images_checked_total')
      expect(metrics).toMatch(/homeops_images_updates_available \d+/)
      expect((await fetch(`${url}/images/apply`, {method: 'PUT'})).status).toBe(405)
    } finally {
      child.kill('SIGTERM')
    }
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    expect(code).toBe(0)
    expect(stderr).toContain('images serve stopped')
  })
})
