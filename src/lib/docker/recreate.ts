import {join} from 'node:path'

import type Dockerode from 'dockerode'

import {HomeopsError, OperationError, TransientError, UserError, errorMessage} from '../errors.js'
import type {Logger} from '../log/logger.js'
import {type Lock, acquireLock} from '../state/lock.js'
import {sleep} from '../time/sleep.js'
import type {Docker} from './client.js'
import {type RegistryAuth, pullImage} from './pull.js'
import {type SelfIdentity, isSelfContainer, selfIdentity} from './self.js'
import type {UpdateJournal, UpdateStep} from './update-journal.js'

export interface RecreateOptions {
  /** New image reference; default: the container's own reference, re-pulled. */
  image?: string
  /** Pull the image first (default true). */
  pull?: boolean
  /** How long the new container may take to be running (and healthy, with a healthcheck). Default 60 s. */
  healthTimeoutMs?: number
  logger: Logger
  signal?: AbortSignal
  registryAuth?: RegistryAuth
  /** How long a container without healthcheck must stay up to count as started (default 2 s). */
  stableMs?: number
  /** Who "self" is (default: detected from /proc and the hostname); for tests. */
  self?: SelfIdentity
  /**
   * The state directory: the update holds `container-NAME.lock` there, so two
   * processes (`monitor update`, `images update`, `serve`) never recreate one
   * container at once (the second gets exit 5).
   */
  lockDir?: string
  /** Where each step is recorded before it runs, so an interrupted update can be finished or rolled back. */
  journal?: UpdateJournal
  /**
   * The container id the caller decided on (after its own pull and checks):
   * when another update replaced it meanwhile, nothing is done (exit 3, run again).
   */
  expectId?: string
  /** Told each step as it begins (the web UI shows them as progress). */
  onStep?: (step: RecreateStep) => void
}

export type RecreateStep =
  'pulling' | 'stopping' | 'creating' | 'starting' | 'health check' | 'removing the old container'

export interface RecreateResult {
  name: string
  previousId: string
  newId: string
  previousImage: string
  image: string
}

type Info = Dockerode.ContainerInspectInfo
type CreateBody = Dockerode.ContainerCreateOptions
type EndpointSettings = Dockerode.EndpointSettings

/** The container does not exist (HTTP 404 in the monitor API). */
export class ContainerNotFoundError extends UserError {
  constructor(readonly container: string) {
    super(`container "${container}" not found`, {hint: 'list containers with `homeops monitor status`'})
  }
}

/** Refused: this is the container homeops runs in (HTTP 409 `self_update_blocked`). */
export class SelfUpdateError extends OperationError {
  readonly code = 'self_update_blocked'
  constructor(readonly container: string) {
    super(`refusing to update "${container}": homeops itself runs in this container`, {
      hint: 'update it from outside, e.g. `docker compose pull && docker compose up -d` on the host',
    })
  }
}

/** The label the Engine puts on every container of a Swarm task. */
export const SWARM_SERVICE_LABEL = 'com.docker.swarm.service.name'

/**
 * Refused: a Swarm task container (`web.1.<task>`). Swarm owns it: a recreated copy would fight the
 * service for its network endpoint, and the service would replace it anyway. HTTP 409 `swarm_task`.
 */
export class SwarmTaskError extends UserError {
  readonly code = 'swarm_task'
  constructor(
    readonly container: string,
    readonly service: string,
  ) {
    super(
      `refusing to update "${container}": it is a task of the Swarm service ${service}, which Swarm would replace`,
      {hint: `update the service instead: homeops images update ${service}`},
    )
  }
}

/** The Swarm service a container is a task of, when it is one. */
export function swarmServiceOf(labels: Record<string, string> | undefined | null): string | undefined {
  return labels?.[SWARM_SERVICE_LABEL] || undefined
}

/** Another update replaced the container while this one was getting ready; nothing was changed (exit 3). */
export class ContainerReplacedError extends TransientError {
  readonly code = 'update_in_progress'
  constructor(readonly container: string) {
    super(`"${container}" was replaced by another update while this one was getting ready; nothing was changed`, {
      hint: `run the update again if "${container}" still needs it`,
    })
  }
}

const DEFAULT_HEALTH_TIMEOUT_MS = 60_000
const DEFAULT_STABLE_MS = 2_000
const POLL_MS = 250

/**
 * Pulls the image and recreates the container with the same configuration:
 * the old container is renamed aside (`<name>-homeops-old-<ts>`) and
 * stopped, the new one is created under the original name from the old one's
 * `Config`/`HostConfig`/networks, started and watched until it runs (and is
 * healthy when it has a healthcheck); only then is the old one removed. Any
 * failure removes the new container, renames the old one back and restarts it,
 * then throws an `OperationError` saying what failed and that it rolled back.
 */
export async function recreateContainer(
  docker: Docker,
  nameOrId: string,
  options: RecreateOptions,
): Promise<RecreateResult> {
  const first = await inspectOrNotFound(docker, nameOrId)
  // The lock is on the name the update keeps: a container another update has just renamed aside
  // (`NAME-homeops-old-<ms>`) is still NAME's.
  const name = updateName(first.Name)
  if (isSelfContainer(first.Id, options.self ?? selfIdentity())) throw new SelfUpdateError(name)
  const lock = options.lockDir ? lockContainer(options.lockDir, name) : undefined
  try {
    // Read again under the lock: an update that just finished elsewhere may have replaced the container,
    // and what the caller decided (the image to move to) was decided about the one it replaced.
    const info = lock ? await inspectOrNotFound(docker, name) : first
    const expected = options.expectId ?? first.Id
    if (info.Id !== expected) throw new ContainerReplacedError(name)
    return await recreateLocked(docker, info, options)
  } finally {
    lock?.release()
  }
}

/** `/web-homeops-old-1712345678901` → `web`: the name an update keeps. */
export function updateName(containerName: string): string {
  return containerName.replace(/^\//, '').replace(/(-homeops-old-\d+)+$/, '')
}

/** The lock every group takes before recreating (or repairing) the container `name`. */
export function lockContainer(lockDir: string, name: string): Lock {
  return acquireLock(join(lockDir, `container-${name}.lock`), `update of container "${name}"`)
}

async function recreateLocked(docker: Docker, info: Info, options: RecreateOptions): Promise<RecreateResult> {
  const name = info.Name.replace(/^\//, '')
  const log = options.logger.child({container: name})
  if (isSelfContainer(info.Id, options.self ?? selfIdentity())) throw new SelfUpdateError(name)
  const service = swarmServiceOf(info.Config.Labels)
  if (service) throw new SwarmTaskError(name, service)
  if (info.HostConfig.AutoRemove) {
    throw new UserError(`cannot update "${name}": it was started with --rm and would vanish when stopped`)
  }
  const journal = options.journal

  const previousImage = info.Config.Image
  const image = options.image ?? previousImage
  if (options.pull !== false && !isImageId(image)) {
    options.onStep?.('pulling')
    await pullImage(docker, image, {auth: options.registryAuth, logger: log, signal: options.signal})
  }
  let imageId: string
  try {
    imageId = (await docker.getImage(image).inspect()).Id
  } catch (error) {
    throw new OperationError(`cannot update "${name}": image ${image} is not available: ${dockerMessage(error)}`)
  }
  const oldImageConfig = await docker
    .getImage(info.Image)
    .inspect()
    .then((i) => i.Config as ImageConfig)
    .catch(() => undefined)
  const body = buildCreateBody(info, oldImageConfig, image)
  const extraNetworks = extraEndpoints(info)
  const wasRunning = info.State.Running || info.State.Restarting
  const asideName = `${name}-homeops-old-${Date.now()}`
  const old = docker.getContainer(info.Id)

  const done = {renamed: false, stopped: false}
  let created: Dockerode.Container | undefined
  try {
    checkAborted(options.signal)
    journal?.begin({name, containerId: info.Id, asideName, image, previousImage, wasRunning})
    await pauseForTest('rename', log)
    log.info('renaming the current container aside', {aside: asideName})
    await old.rename({name: asideName})
    done.renamed = true
    if (wasRunning) {
      await checkpoint(journal, name, 'stop', log)
      log.info('stopping the current container')
      options.onStep?.('stopping')
      await old.stop({t: (info.Config as {StopTimeout?: number}).StopTimeout ?? 10}).catch(ignoreNotModified)
      done.stopped = true
    }
    checkAborted(options.signal)
    await checkpoint(journal, name, 'create', log)
    log.info('creating the new container', {image})
    options.onStep?.('creating')
    created = await docker.createContainer({...body, name})
    await checkpoint(journal, name, 'start', log, {newId: created.id})
    for (const [network, endpoint] of extraNetworks) {
      await docker.getNetwork(network).connect({Container: created.id, EndpointConfig: endpoint})
    }
    if (wasRunning) {
      options.onStep?.('starting')
      await created.start()
      options.onStep?.('health check')
      await waitReady(created, {
        timeoutMs: options.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS,
        stableMs: options.stableMs ?? DEFAULT_STABLE_MS,
        signal: options.signal,
        log,
      })
    }
    await checkpoint(journal, name, 'ready', log)
  } catch (error) {
    const reason = failureText(error)
    log.warn('update failed, rolling back', {error: reason})
    const rollbackProblems = await rollback({docker, old, created, name, asideName, done, wasRunning, log})
    // A complete rollback closes the journal entry; an incomplete one is left for the next run to repair.
    if (rollbackProblems.length === 0) journal?.finish(name)
    else journal?.step(name, 'rollback')
    if (rollbackProblems.length > 0) {
      // What the user must know is where the old container is now: asked of the daemon, not assumed.
      const state = await describeContainer(old)
      throw new OperationError(
        `update of "${name}" failed: ${reason}; the rollback failed too: ${rollbackProblems.join('; ')}; the previous container ${state}`,
        {
          hint: `the previous container is kept as "${done.renamed ? asideName : name}"; check it with docker ps -a`,
          cause: error,
        },
      )
    }
    throw new OperationError(
      `update of "${name}" failed: ${reason}; rolled back to the previous container (${previousImage}), which ${await describeContainer(old)}`,
      {cause: error},
    )
  }

  try {
    options.onStep?.('removing the old container')
    await old.remove({force: true, v: false})
  } catch (error) {
    log.warn('could not remove the previous container', {aside: asideName, error: dockerMessage(error)})
  }
  journal?.finish(name)
  log.info('container updated', {image, id: created.id.slice(0, 12), previous: info.Id.slice(0, 12), imageId})
  return {name, previousId: info.Id, newId: created.id, previousImage, image}
}

interface ImageConfig {
  Env?: string[] | null
  Cmd?: string[] | null
  Entrypoint?: string[] | string | null
  WorkingDir?: string
  User?: string
  Labels?: Record<string, string> | null
  Volumes?: Record<string, object> | null
  ExposedPorts?: Record<string, object> | null
  Healthcheck?: unknown
  StopSignal?: string
  Shell?: string[] | null
}

/**
 * The create body of the replacement. `Config` from inspect has the old
 * image's defaults merged in (Env, Cmd, Labels, …); those are dropped where they
 * equal the old image's so the new image's defaults apply, while everything the
 * user set survives. Anonymous volumes are re-attached by name so no data is lost.
 */
export function buildCreateBody(info: Info, imageConfig: ImageConfig | undefined, image: string): CreateBody {
  const c = info.Config as Info['Config'] & {
    MacAddress?: string
    StopTimeout?: number
    Shell?: string[]
    NetworkDisabled?: boolean
    Domainname?: string
    ArgsEscaped?: boolean
    StopSignal?: string
  }
  const img: ImageConfig = imageConfig ?? {}
  const hostConfig = {...info.HostConfig} as Dockerode.HostConfig & {Links?: string[] | null}
  const networkMode = hostConfig.NetworkMode ?? 'default'
  const sharesNamespace = networkMode === 'host' || networkMode.startsWith('container:')
  const customEntrypoint = !sameJson(c.Entrypoint ?? null, img.Entrypoint ?? null)

  const env = img.Env ? (c.Env ?? []).filter((e) => !img.Env!.includes(e)) : c.Env
  const labels = withoutEqual(c.Labels, img.Labels)
  const body: CreateBody = {
    Image: image,
    Hostname: !sharesNamespace && c.Hostname && c.Hostname !== info.Id.slice(0, 12) ? c.Hostname : undefined,
    Domainname: c.Domainname || undefined,
    User: c.User !== (img.User ?? '') ? c.User : undefined,
    AttachStdin: c.AttachStdin,
    AttachStdout: c.AttachStdout,
    AttachStderr: c.AttachStderr,
    Tty: c.Tty,
    OpenStdin: c.OpenStdin,
    StdinOnce: c.StdinOnce,
    Env: env && env.length > 0 ? env : undefined,
    Cmd: customEntrypoint || !sameJson(c.Cmd ?? null, img.Cmd ?? null) ? (c.Cmd ?? undefined) : undefined,
    Entrypoint: customEntrypoint ? (c.Entrypoint ?? ['']) : undefined,
    WorkingDir: c.WorkingDir !== (img.WorkingDir ?? '') ? c.WorkingDir : undefined,
    Labels: labels,
    Volumes: withoutKeys(c.Volumes, img.Volumes),
    ExposedPorts: withoutKeys(c.ExposedPorts, img.ExposedPorts),
    Healthcheck: sameJson(c.Healthcheck ?? null, img.Healthcheck ?? null) ? undefined : c.Healthcheck,
    StopSignal: c.StopSignal && c.StopSignal !== (img.StopSignal ?? 'SIGTERM') ? c.StopSignal : undefined,
    StopTimeout: c.StopTimeout,
    Shell: c.Shell && !sameJson(c.Shell, img.Shell ?? null) ? c.Shell : undefined,
    MacAddress: c.MacAddress || undefined,
    NetworkDisabled: c.NetworkDisabled || undefined,
    HostConfig: {
      ...hostConfig,
      Binds: [...(hostConfig.Binds ?? []), ...anonymousVolumeBinds(info)],
      Links: (hostConfig.Links as string[] | null | undefined)?.map(convertLink),
    },
  }
  const primary = primaryNetwork(info)
  if (primary) {
    body.NetworkingConfig = {EndpointsConfig: {[primary]: endpointFor(info, primary)}}
  }
  return body
}

function primaryNetwork(info: Info): string | undefined {
  const mode = info.HostConfig.NetworkMode ?? 'default'
  if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) return undefined
  const networks = Object.keys(info.NetworkSettings.Networks ?? {})
  const wanted = mode === 'default' ? 'bridge' : mode
  return networks.includes(wanted) ? wanted : networks[0]
}

/** Networks beyond the first: API < 1.44 accepts one network at create, the rest are connected before start. */
function extraEndpoints(info: Info): [string, EndpointSettings][] {
  const primary = primaryNetwork(info)
  if (!primary) return []
  return Object.keys(info.NetworkSettings.Networks ?? {})
    .filter((n) => n !== primary)
    .map((n) => [n, endpointFor(info, n)])
}

function endpointFor(info: Info, network: string): EndpointSettings {
  const settings = info.NetworkSettings.Networks[network] as EndpointSettings & {DriverOpts?: Record<string, string>}
  const shortId = info.Id.slice(0, 12)
  const aliases = (settings.Aliases ?? []).filter((a) => a !== shortId && a !== info.Id)
  const ipam = settings.IPAMConfig as {IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[]} | null
  const endpoint: EndpointSettings & {DriverOpts?: Record<string, string>} = {}
  if (ipam && (ipam.IPv4Address || ipam.IPv6Address || ipam.LinkLocalIPs?.length)) endpoint.IPAMConfig = ipam
  if (aliases.length > 0) endpoint.Aliases = aliases
  if (settings.Links?.length) endpoint.Links = settings.Links
  if (settings.DriverOpts && Object.keys(settings.DriverOpts).length > 0) endpoint.DriverOpts = settings.DriverOpts
  return endpoint
}

/** Volumes without an explicit bind/mount (anonymous or declared by the image), re-attached by name. */
function anonymousVolumeBinds(info: Info): string[] {
  const explicit = new Set<string>()
  for (const bind of info.HostConfig.Binds ?? []) explicit.add(bindTarget(bind))
  for (const mount of (info.HostConfig as {Mounts?: {Target?: string}[]}).Mounts ?? []) {
    if (mount.Target) explicit.add(mount.Target)
  }
  const binds: string[] = []
  for (const mount of info.Mounts ?? []) {
    if (mount.Type !== 'volume' || !mount.Name || explicit.has(mount.Destination)) continue
    binds.push(`${mount.Name}:${mount.Destination}${mount.RW ? '' : ':ro'}`)
  }
  return binds
}

function bindTarget(bind: string): string {
  const parts = bind.split(':')
  return parts.length >= 2 ? parts[1]! : parts[0]!
}

/** `/db:/web/db` (inspect form) → `db:db` (create form). */
function convertLink(link: string): string {
  const [target = '', alias = ''] = link.split(':')
  return `${target.replace(/^\//, '')}:${alias.split('/').pop()}`
}

function withoutEqual(
  values: Record<string, string> | null | undefined,
  defaults: Record<string, string> | null | undefined,
): Record<string, string> | undefined {
  if (!values) return undefined
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(values)) if (defaults?.[k] !== v) out[k] = v
  return Object.keys(out).length > 0 ? out : undefined
}

function withoutKeys<T>(
  values: Record<string, T> | null | undefined,
  defaults: Record<string, unknown> | null | undefined,
): Record<string, T> | undefined {
  if (!values) return undefined
  const out: Record<string, T> = {}
  for (const [k, v] of Object.entries(values)) if (!defaults || !(k in defaults)) out[k] = v
  return Object.keys(out).length > 0 ? out : undefined
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

function isImageId(image: string): boolean {
  return /^(sha256:)?[0-9a-f]{64}$/.test(image)
}

interface WaitOptions {
  timeoutMs: number
  stableMs: number
  signal?: AbortSignal
  log: Logger
}

class NotReadyError extends OperationError {}

/** Running and healthy (with a healthcheck), or running for `stableMs` without restarting (without one). */
export async function waitReady(container: Dockerode.Container, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  let lastHealth = 'starting'
  let initialRestarts: number | undefined
  for (;;) {
    checkAborted(options.signal)
    const info = await container.inspect()
    const state = info.State
    initialRestarts ??= info.RestartCount
    if (state.Status === 'exited' || state.Status === 'dead') {
      throw new NotReadyError(
        `the new container exited with code ${state.ExitCode}${state.Error ? ` (${state.Error})` : ''}${await logTail(container)}`,
      )
    }
    if (state.Restarting || info.RestartCount > initialRestarts) {
      throw new NotReadyError(
        `the new container keeps restarting (exit code ${state.ExitCode})${await logTail(container)}`,
      )
    }
    const health = state.Health
    if (health && health.Status !== 'none') {
      lastHealth = health.Status
      if (health.Status === 'healthy') return
      if (health.Status === 'unhealthy') {
        const last = health.Log?.at(-1)
        const test = describeTest(info.Config.Healthcheck?.Test)
        const output = last?.Output?.trim() ? `: ${JSON.stringify(last.Output.trim().slice(0, 300))}` : ''
        throw new NotReadyError(
          `the new container is unhealthy: healthcheck${test ? ` "${test}"` : ''} ${last ? `exited ${last.ExitCode}` : 'failed'}${output}`,
        )
      }
    } else if (state.Running) {
      const startedAt = Date.parse(state.StartedAt)
      if (Number.isFinite(startedAt) && Date.now() - startedAt >= options.stableMs) return
    }
    if (Date.now() >= deadline) {
      throw new NotReadyError(
        health
          ? `the new container was not healthy within ${Math.round(options.timeoutMs / 1000)} s (health: ${lastHealth})`
          : `the new container was not running within ${Math.round(options.timeoutMs / 1000)} s`,
      )
    }
    await sleep(POLL_MS, options.signal)
  }
}

function describeTest(test: string[] | undefined): string {
  if (!test || test.length === 0) return ''
  if (test[0] === 'CMD-SHELL') return test.slice(1).join(' ')
  if (test[0] === 'CMD') return test.slice(1).join(' ')
  return test.join(' ')
}

async function logTail(container: Dockerode.Container): Promise<string> {
  try {
    const raw = await container.logs({stdout: true, stderr: true, tail: 5, follow: false})
    const text = demux(raw).trim()
    return text ? `; last output: ${JSON.stringify(text.slice(-400))}` : ''
  } catch {
    return ''
  }
}

/** Docker's multiplexed log frames (8-byte headers) to text; TTY logs are raw. */
function demux(buffer: Buffer): string {
  if (buffer.length < 8 || buffer[1] !== 0 || buffer[2] !== 0 || buffer[3] !== 0 || buffer[0]! > 2) {
    return buffer.toString('utf8')
  }
  let out = ''
  let offset = 0
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4)
    out += buffer.subarray(offset + 8, offset + 8 + size).toString('utf8')
    offset += 8 + size
  }
  return out
}

interface RollbackInput {
  docker: Docker
  old: Dockerode.Container
  created: Dockerode.Container | undefined
  name: string
  asideName: string
  done: {renamed: boolean; stopped: boolean}
  wasRunning: boolean
  log: Logger
}

async function rollback(input: RollbackInput): Promise<string[]> {
  const problems: string[] = []
  const {old, created, log} = input
  if (created) {
    try {
      await created.remove({force: true, v: false})
    } catch (error) {
      problems.push(`could not remove the new container: ${dockerMessage(error)}`)
    }
  }
  if (input.done.renamed && problems.length === 0) {
    try {
      await old.rename({name: input.name})
      input.done.renamed = false
    } catch (error) {
      problems.push(`could not rename "${input.asideName}" back to "${input.name}": ${dockerMessage(error)}`)
    }
  }
  if (input.wasRunning) {
    try {
      await old.start()
    } catch (error) {
      // 304: it runs already (its body, and so dockerode's message, is empty).
      if ((error as {statusCode?: number}).statusCode !== 304 && !/already started/.test(dockerMessage(error)))
        problems.push(`could not start the previous container: ${dockerMessage(error)}`)
    }
  }
  if (problems.length === 0) log.info('rolled back to the previous container')
  else log.error('rollback incomplete', {problems: problems.join('; ')})
  return problems
}

async function inspectOrNotFound(docker: Docker, nameOrId: string): Promise<Info> {
  try {
    return await docker.getContainer(nameOrId).inspect()
  } catch (error) {
    if ((error as {statusCode?: number}).statusCode === 404) throw new ContainerNotFoundError(nameOrId)
    throw new OperationError(`docker api error: ${dockerMessage(error)}`, {cause: error})
  }
}

function ignoreNotModified(error: unknown): void {
  if ((error as {statusCode?: number}).statusCode !== 304) throw error
}

async function checkpoint(
  journal: UpdateJournal | undefined,
  name: string,
  step: UpdateStep,
  log: Logger,
  fields?: {newId?: string},
): Promise<void> {
  journal?.step(name, step, fields)
  await pauseForTest(step, log)
}

/**
 * The tests of interrupted updates set HOMEOPS_TEST_PAUSE_UPDATE_AT=STEP to
 * hold the update right before STEP (after its journal entry), so they can
 * SIGKILL the process there. Never set in use.
 */
function pauseForTest(step: UpdateStep, log: Logger): Promise<void> {
  if (process.env.HOMEOPS_TEST_PAUSE_UPDATE_AT !== step) return Promise.resolve()
  log.warn('update paused for a test', {step, pid: process.pid})
  return new Promise(() => {
    setInterval(() => {}, 60_000)
  })
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new OperationError('aborted (homeops is stopping)')
}

function failureText(error: unknown): string {
  if (error instanceof HomeopsError) return error.message
  return dockerMessage(error)
}

/**
 * dockerode's messages start with `(HTTP code 409) unexpected - `; keep the daemon's own words, and
 * never return an empty reason (a body-less answer says its status instead).
 */
export function dockerMessage(error: unknown): string {
  const text = errorMessage(error)
  const json = (error as {json?: {message?: string}}).json
  if (json && typeof json.message === 'string' && json.message.trim() !== '') return json.message
  const stripped = text.replace(/^\(HTTP code \d+\) [a-z ]+ - /, '').trim()
  if (stripped !== '') return stripped
  const status = (error as {statusCode?: number}).statusCode
  const words = /^\(HTTP code \d+\) ([a-z ]+) - /.exec(text)?.[1]?.trim()
  return status ? `HTTP ${status}${words ? ` (${words})` : ''} without a message` : 'no reason given by Docker'
}

/** `is running as "name" (image …)` / `is exited (code 1) as "name"` / `cannot be found …`: asked of the daemon. */
async function describeContainer(container: Dockerode.Container): Promise<string> {
  try {
    const info = await container.inspect()
    const name = info.Name.replace(/^\//, '')
    const state = info.State.Status || (info.State.Running ? 'running' : 'stopped')
    const exit = state === 'exited' ? ` (exit code ${info.State.ExitCode})` : ''
    return `is ${state}${exit} as "${name}" (${info.Config.Image})`
  } catch (error) {
    return (error as {statusCode?: number}).statusCode === 404
      ? 'no longer exists'
      : `could not be inspected: ${dockerMessage(error)}`
  }
}
