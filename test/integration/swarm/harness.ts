import {execFileSync, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import Dockerode from 'dockerode'
import {stringify} from 'yaml'

import {loadConfig} from '../../../src/lib/config/load.js'
import {type Context, createContext} from '../../../src/lib/context.js'
import {Logger} from '../../../src/lib/log/logger.js'
import {type SwarmEnv, openSwarm} from '../../../src/lib/swarm/env.js'
import {git} from '../../support/git.js'
import {dockerEnv, testEnv} from '../../support/testenv.js'

export {git}

export const run = randomBytes(3).toString('hex')

/** `hotest-swarm-<run>-<name>`: unique per test run, removed in afterAll. */
export function stackName(name: string): string {
  return `hotest-swarm-${run}-${name}`
}

export function docker(): Dockerode {
  return new Dockerode({socketPath: testEnv().dockerSocket})
}

export function dockerCli(args: string[], input?: string): string {
  return execFileSync('docker', args, {env: dockerEnv(), input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe']})
}

/** A repository made on disk with real git, and the NFS root its nfs.yaml points at. */
export class GitRepo {
  constructor(
    readonly dir: string,
    readonly nfs: string,
  ) {
    mkdirSync(dir, {recursive: true})
    mkdirSync(join(nfs, 'secret'), {recursive: true})
    git(dir, 'init', '-q', '-b', 'main')
  }

  write(path: string, text: string): this {
    const full = join(this.dir, path)
    mkdirSync(dirname(full), {recursive: true})
    writeFileSync(full, text)
    return this
  }

  remove(path: string): this {
    rmSync(join(this.dir, path), {recursive: true, force: true})
    return this
  }

  stacks(names: string[]): this {
    return this.write('stacks.yaml', stringify(names.map((name) => ({name}))))
  }

  nfsYaml(): this {
    return this.write('nfs.yaml', `path: ${this.nfs}\n`)
  }

  /** A one-service stack running `sleep 3600` from an image of registry A. */
  stack(name: string, options: {image?: string; extra?: Record<string, unknown>; volumes?: string[]} = {}): this {
    const service: Record<string, unknown> = {
      image: options.image ?? `${testEnv().registry.host}/hotest/app:1.0.0`,
      command: ['sleep', '3600'],
      deploy: {replicas: 1, update_config: {delay: '0s', monitor: '1s'}, restart_policy: {delay: '1s'}},
      stop_grace_period: '1s',
      ...options.extra,
    }
    if (options.volumes) service.volumes = options.volumes
    return this.write(join(name, 'compose.yaml'), stringify({services: {app: service}}))
  }

  secret(id: string, value: string): this {
    writeFileSync(join(this.nfs, 'secret', id), value, {mode: 0o600})
    return this
  }

  commit(message = 'change'): string {
    git(this.dir, 'add', '-A')
    git(this.dir, 'commit', '-q', '--allow-empty', '-m', message)
    return git(this.dir, 'rev-parse', 'HEAD')
  }
}

export class Workspace {
  readonly root = mkdtempSync(join(tmpdir(), `hotest-swarm-${run}-`))
  readonly statePath = join(this.root, 'state', 'homeops.db')
  readonly logs: string[] = []
  private contexts: Context[] = []

  repo(name: string): GitRepo {
    return new GitRepo(join(this.root, 'repos', name), join(this.root, 'nfs'))
  }

  /** A context as a command builds it: the config file's `swarm` block, no TTY, log lines captured. */
  async context(swarm: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): Promise<Context> {
    const file = join(this.root, `config-${this.contexts.length}.yaml`)
    // A 1 s hold in place of the 5 s default: the crashing tasks of these tests exit at once, and each deploy
    // would otherwise wait 4 s more (the hold's logic has unit tests; test/e2e/swarm-cli keeps the default).
    writeFileSync(
      file,
      stringify({
        state: {path: this.statePath},
        docker: {host: testEnv().dockerHost},
        swarm: {convergeTimeoutSeconds: 90, stableSeconds: 1, cacheDir: join(this.root, 'cache'), ...swarm},
      }),
    )
    const {config} = loadConfig({path: file, env})
    const logger = new Logger({level: 'debug', format: 'text', sink: {write: (line: string) => this.logs.push(line)}})
    const context = await createContext({
      config,
      configFile: file,
      logger,
      terminal: {interactive: false, color: false},
      version: 'test',
      env,
    })
    this.contexts.push(context)
    return context
  }

  async swarm(swarm: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): Promise<SwarmEnv> {
    return openSwarm(await this.context(swarm, env))
  }

  async close(): Promise<void> {
    for (const c of this.contexts) await c.close()
    this.contexts = []
  }

  cleanup(): void {
    rmSync(this.root, {recursive: true, force: true})
  }
}

/** Removes the stacks this test run created (by exact name), waiting until their containers are gone. */
export async function removeStacks(names: string[]): Promise<void> {
  const d = docker()
  for (const name of names) {
    spawnSync('docker', ['stack', 'rm', name], {env: dockerEnv(), stdio: 'ignore'})
  }
  const deadline = Date.now() + 90_000
  while (Date.now() < deadline) {
    const left = await d.listContainers({
      all: true,
      filters: JSON.stringify({label: names.map((n) => `com.docker.stack.namespace=${n}`)}),
    })
    const ours = left.filter((c) => names.includes(c.Labels['com.docker.stack.namespace'] ?? ''))
    if (ours.length === 0) return
    await new Promise((r) => setTimeout(r, 1000))
  }
}

/** Version index of every service of a stack, by service name. */
export async function serviceVersions(stack: string): Promise<Record<string, number>> {
  const services = await docker().listServices({
    filters: JSON.stringify({label: [`com.docker.stack.namespace=${stack}`]}),
  })
  const out: Record<string, number> = {}
  for (const s of services as unknown as {Spec?: {Name?: string}; Version?: {Index?: number}}[])
    out[s.Spec!.Name!] = s.Version!.Index!
  return out
}

export async function runningTasks(stack: string): Promise<number> {
  const tasks = (await docker().listTasks({
    filters: JSON.stringify({label: [`com.docker.stack.namespace=${stack}`], 'desired-state': ['running']}),
  })) as unknown as {Status?: {State?: string}}[]
  return tasks.filter((t) => t.Status?.State === 'running').length
}

export async function imagePresent(reference: string): Promise<boolean> {
  try {
    await docker().getImage(reference).inspect()
    return true
  } catch {
    return false
  }
}
