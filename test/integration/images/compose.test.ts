import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {connectDocker} from '../../../src/lib/docker/client.js'
import type {Docker} from '../../../src/lib/docker/client.js'
import {updateComposeService} from '../../../src/lib/images/compose.js'
import {Logger} from '../../../src/lib/log/logger.js'
import {dockerEnv, testEnv} from '../../support/testenv.js'

/** Compose-file updates against the test daemon with Debian's docker-compose (compose v1). */
const env = testEnv()
const project = `hotest-images-compose-${randomBytes(3).toString('hex')}`
const dir = mkdtempSync(join(tmpdir(), 'hotest-images-compose-'))
const file = join(dir, 'compose.yaml')
const app = `${env.registry.host}/${env.images.app}`
let docker: Docker
const logger = new Logger({level: 'error', sink: {write: () => true}})

function compose(...args: string[]): string {
  return execFileSync('docker-compose', ['-p', project, '-f', file, ...args], {
    cwd: dir,
    env: dockerEnv(),
    encoding: 'utf8',
    timeout: 120_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

function running(): {id: string; image: string} {
  const id = execFileSync(
    'docker',
    [
      'ps',
      '-q',
      '--filter',
      `label=com.docker.compose.project=${project}`,
      '--filter',
      'label=com.docker.compose.service=app',
    ],
    {env: dockerEnv(), encoding: 'utf8'},
  ).trim()
  const image = execFileSync('docker', ['inspect', id, '--format', '{{.Config.Image}}'], {
    env: dockerEnv(),
    encoding: 'utf8',
  }).trim()
  return {id, image}
}

beforeAll(async () => {
  execFileSync('docker-compose', ['version'], {stdio: 'ignore'}) // fails with the reason when it is missing
  writeFileSync(
    file,
    [
      'version: "3.8"',
      'services:',
      '  app:',
      `    image: ${app}:1.0.0  # kept up to date by homeops`,
      // 2.0.0 does not start: what a rollback must undo.
      `    command: ["sh", "-c", "[ \\"$$(cat /VERSION)\\" != 2.0.0 ] && exec sleep 3600; exit 1"]`,
      '',
    ].join('\n'),
  )
  compose('up', '-d')
  docker = (await connectDocker(env.dockerHost)).docker
})

afterAll(() => {
  try {
    compose('down', '--timeout', '1')
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

describe('compose-file updates (images.composeUpdates)', () => {
  it('edits the tag in the compose file and recreates the service through docker compose', async () => {
    const before = running()
    expect(before.image).toBe(`${app}:1.0.0`)
    const outcome = await updateComposeService(
      {docker, logger, dockerHost: env.dockerHost, stableMs: 1500, timeoutMs: 60_000},
      before.id,
      {tag: '1.1.0'},
      'manual',
    )
    expect(outcome).toMatchObject({result: 'applied', previousVersion: '1.0.0', newVersion: '1.1.0', error: null})
    expect(outcome.newDigest).toBe(env.images.digests['1.1.0'])
    expect(readFileSync(file, 'utf8')).toContain(`    image: ${app}:1.1.0  # kept up to date by homeops\n`)
    const after = running()
    expect(after.image).toBe(`${app}:1.1.0`)
    expect(after.id).not.toBe(before.id)
    // The file and the container agree: a later `up -d` changes nothing.
    compose('up', '-d')
    expect(running().id).toBe(after.id)
  })

  it('puts the file and the service back when the new version does not start', async () => {
    const before = running()
    const outcome = await updateComposeService(
      {docker, logger, dockerHost: env.dockerHost, stableMs: 1500, timeoutMs: 60_000},
      before.id,
      {tag: '2.0.0'},
      'manual',
    )
    expect(outcome.result).toBe('rolled_back')
    expect(outcome.error).toContain('exited with code 1')
    expect(outcome.error).toContain('rolled back to 1.1.0')
    expect(readFileSync(file, 'utf8')).toContain(`    image: ${app}:1.1.0  # kept up to date by homeops\n`)
    expect(running().image).toBe(`${app}:1.1.0`)
  })
})
