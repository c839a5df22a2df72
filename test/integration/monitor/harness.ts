import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import Dockerode from 'dockerode'

import {loadConfig} from '../../../src/lib/config/load.js'
import {type Context, createContext} from '../../../src/lib/context.js'
import {Logger} from '../../../src/lib/log/logger.js'
import {testEnv} from '../../support/testenv.js'

export const silent = new Logger({level: 'error', sink: {write: () => true}})

export function docker(): Dockerode {
  return new Dockerode({socketPath: testEnv().dockerSocket})
}

export function uniqueName(what = 'c'): string {
  return `hotest-monitor-${what}-${randomBytes(4).toString('hex')}`
}

/** `127.0.0.1:5801/hotest/app:TAG` */
export function appImage(tag = '1.0.0'): string {
  return `${testEnv().registry.host}/hotest/app:${tag}`
}

/** Everything a test created, removed in afterAll (only ours: never prune). */
export class Cleanup {
  containers = new Set<string>()
  networks = new Set<string>()
  volumes = new Set<string>()
  images = new Set<string>()
  /** Tags put on images we do not own (shared test images): untagged by name, never removed. */
  refs = new Set<string>()
  dirs = new Set<string>()

  constructor(private readonly d: Dockerode) {}

  async run(): Promise<void> {
    // Containers by name prefix too: a rolled-back update leaves nothing, a failed test might.
    const all = await this.d.listContainers({all: true})
    for (const c of all) {
      const name = (c.Names[0] ?? '').replace(/^\//, '')
      if ([...this.containers].some((n) => name === n || name.startsWith(`${n}-homeops-old-`))) {
        this.containers.add(c.Id)
      }
    }
    for (const id of this.containers)
      await this.d
        .getContainer(id)
        .remove({force: true, v: true})
        .catch(() => {})
    for (const id of this.networks)
      await this.d
        .getNetwork(id)
        .remove()
        .catch(() => {})
    for (const id of this.volumes)
      await this.d
        .getVolume(id)
        .remove({force: true})
        .catch(() => {})
    for (const id of this.images)
      await this.d
        .getImage(id)
        .remove({force: true})
        .catch(() => {})
    for (const dir of this.dirs) rmSync(dir, {recursive: true, force: true})
  }

  tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'hotest-monitor-'))
    this.dirs.add(dir)
    return dir
  }
}

export async function runContainer(
  d: Dockerode,
  cleanup: Cleanup,
  options: Dockerode.ContainerCreateOptions & {name?: string},
): Promise<Dockerode.Container> {
  const name = options.name ?? uniqueName()
  cleanup.containers.add(name)
  const container = await d.createContainer({
    Image: appImage(),
    Cmd: ['sleep', '3600'],
    StopTimeout: 1,
    ...options,
    name,
  })
  await container.start()
  return container
}

/**
 * Builds an image from a base by running `script` in a container and
 * committing it (no builder needed), tagged `ref`, optionally labelled.
 */
export async function buildImage(
  d: Dockerode,
  cleanup: Cleanup,
  ref: string,
  script: string,
  options: {base?: string; labels?: Record<string, string>} = {},
): Promise<string> {
  const builder = await d.createContainer({Image: options.base ?? appImage(), Cmd: ['sh', '-c', script]})
  try {
    await builder.start()
    const result = (await builder.wait()) as {StatusCode: number}
    if (result.StatusCode !== 0) throw new Error(`build script failed (${result.StatusCode}): ${script}`)
    const [repo, tag] = splitRef(ref)
    const changes = Object.entries(options.labels ?? {}).map(([k, v]) => `LABEL ${k}=${v}`)
    const committed = (await builder.commit({
      repo,
      tag,
      ...(changes.length ? {changes: changes.join('\n')} : {}),
    })) as {Id: string}
    cleanup.images.add(committed.Id)
    return committed.Id
  } finally {
    await builder.remove({force: true}).catch(() => {})
  }
}

export async function tagImage(d: Dockerode, cleanup: Cleanup, source: string, ref: string): Promise<void> {
  cleanup.refs.add(ref)
  const [repo, tag] = splitRef(ref)
  await d.getImage(source).tag({repo, tag})
}

/** `docker push`, failing on an error inside the progress stream. */
export async function pushImage(d: Dockerode, ref: string): Promise<string> {
  const stream = await d
    .getImage(ref)
    .push({authconfig: {username: '', password: '', serveraddress: ref.split('/')[0]!}})
  return new Promise((resolve, reject) => {
    let digest = ''
    let failure: string | undefined
    d.modem.followProgress(
      stream,
      (error: Error | null) => {
        if (error) reject(error)
        else if (failure) reject(new Error(failure))
        else resolve(digest)
      },
      (event: {error?: string; aux?: {Digest?: string}}) => {
        if (event.error) failure = event.error
        if (event.aux?.Digest) digest = event.aux.Digest
      },
    )
  })
}

function splitRef(ref: string): [string, string] {
  const slash = ref.lastIndexOf('/')
  const colon = ref.lastIndexOf(':')
  return colon > slash ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest']
}

/** A context on the test daemon with a private state dir; `env` as the process would have it. */
export async function monitorContext(cleanup: Cleanup, env: Record<string, string> = {}, yaml = ''): Promise<Context> {
  const dir = cleanup.tempDir()
  const configPath = join(dir, 'config.yaml')
  writeFileSync(configPath, yaml)
  const {config} = loadConfig({
    path: configPath,
    env: {HOMEOPS_DB_PATH: join(dir, 'homeops.db'), DOCKER_HOST: testEnv().dockerHost, ...env},
  })
  return createContext({
    config,
    configFile: configPath,
    logger: silent,
    terminal: {interactive: false, color: false},
    version: '0.0.0-test',
  })
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await probe()
      if (value !== undefined && value !== false) return value
    } catch (error) {
      last = error
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`)
}
