import type {HomeopsConfig} from '../config/root-schema.js'
import type {Docker} from '../docker/client.js'
import {
  type UnusedImage,
  type ImageFilter,
  type PruneResult,
  listUnusedImages,
  pruneUnusedImages,
} from '../docker/images.js'
import {pullImage, registryAuthFor, withDefaultTag} from '../docker/pull.js'
import {
  ContainerNotFoundError,
  SelfUpdateError,
  SwarmTaskError,
  swarmServiceOf,
  dockerMessage,
  recreateContainer,
  type RecreateResult,
} from '../docker/recreate.js'
import {type SelfIdentity, isSelfContainer, selfIdentity} from '../docker/self.js'
import type {JournalEntry, UpdateJournal} from '../docker/update-journal.js'
import type {RecoveryResult} from '../docker/update-recovery.js'
import {
  type ContainerMetrics,
  ContainerWatcher,
  EMPTY_METRICS,
  type WatchedContainer,
  statsOnce,
} from '../docker/stats.js'
import {HomeopsError, OperationError, errorMessage} from '../errors.js'
import type {Logger} from '../log/logger.js'
import type {UpdateStatus} from '../registry/update-status.js'
import {withDeadline} from '../time/deadline.js'
import {sleep} from '../time/sleep.js'
import {type StoredVersion, latestContainerChecks, tagOf} from '../images/stored-checks.js'
import type {UpdateRecord} from '../images/history.js'
import {imageName} from '../images/apply.js'
import {parseImageReference} from '../registry/reference.js'
import {localDigestsFor} from '../registry/update-status.js'
import type {ActivityLog} from '../activity/log.js'
import {redactText} from '../log/redact.js'
import {type CheckFn, UpdateCache, type UpdateEntry} from './update-cache.js'

/** One container as `monitor status --json` and the web page see it. */
export interface ContainerRow {
  name: string
  id: string
  state: string
  /** Docker's human status, `Up 5 minutes (healthy)`. */
  status: string
  image: string
  update: UpdateStatus | null
  update_error?: string
  remote_digest?: string
  update_checked_at?: string
  /**
   * A newer tag the container's `images` strategy allows, from the last stored `images check` (null: none,
   * or no recent check); the digest status above says whether the current tag itself moved.
   */
  version_update: string | null
  /** `update_available` / `up_to_date` from that check; `unknown` without a recent one. */
  version_status: 'update_available' | 'up_to_date' | 'unknown'
  version_checked_at?: string
  /** false for containers `monitor update` refuses (Swarm tasks, homeops itself), with the reason. */
  updatable: boolean
  not_updatable_reason?: string
  cpu: number | null
  mem_usage: number | null
  mem_limit: number | null
  mem_perc: number | null
  net_rx: number | null
  net_tx: number | null
  blk_read: number | null
  blk_write: number | null
}

/** `meta` of one container in `GET /status` (the Home Assistant integration reads these). */
export interface StatusMeta {
  state?: string
  image?: string
  version_update?: string | null
  version_status?: ContainerRow['version_status']
  updatable?: boolean
  not_updatable_reason?: string
  cpu?: number | null
  mem_usage?: number | null
  mem_limit?: number | null
  mem_perc?: number | null
  net_rx?: number | null
  net_tx?: number | null
  blk_read?: number | null
  blk_write?: number | null
}

export interface StatusResponse {
  /** `stale` while the Docker daemon does not answer: `updates` and `meta` are then the last known state. */
  status: 'ok' | 'stale'
  updates: Record<string, UpdateStatus | 'not_found'>
  meta: Record<string, StatusMeta>
  /** Added by homeops (the original tool has no such fields): whether Docker answers now. */
  docker_connected: boolean
  stale: boolean
  /** When the daemon last answered (ISO time), so a reader knows how old `meta` is. */
  as_of: string | null
  /** While stale: since when, and why. */
  stale_since?: string
  error?: string
}

export interface UpdateOptions {
  image?: string
  force?: boolean
  signal?: AbortSignal
  onStep?: (step: string) => void
  /** Who asked, for the shared history (default `command line`). */
  by?: string
}

export interface UpdateOutcome {
  message: string
  updated: boolean
  name: string
  image: string
  previous_image_id?: string
  image_id?: string
  container_id?: string
}

export interface RegistryAccess {
  check: CheckFn
  credentialsFor(image: string): Promise<{username: string; password: string; serveraddress: string} | undefined>
  close(): Promise<void>
}

export interface MonitorServiceOptions {
  docker: Docker
  dockerAddress: string
  logger: Logger
  registry: RegistryAccess
  /** monitor.registryCacheMinutes in ms. */
  cacheTtlMs: number
  forceIntervalMs?: number
  healthTimeoutMs?: number
  /** Longest a status request waits for the registry before answering `registry_error` (default 10 s). */
  registryWaitMs?: number
  /** Keep streaming stats (default true; false for one-shot commands). */
  streams?: boolean
  self?: SelfIdentity
  version?: string
  /** The last `images check` result of each container (fresh ones only), read per listing. */
  storedChecks?: () => Map<string, StoredVersion>
  /** The state directory, for the per-container update lock shared with `images update`. */
  lockDir?: string
  /** Records each step of an update, so an interrupted one is repaired by the next run. */
  journal?: UpdateJournal
  /** The shared history of actions (every page, API and command shows it). */
  activity?: ActivityLog
  /** Keeps an update in the image update history (`images history`, the Image updates page). */
  recordUpdate?: (record: UpdateRecord) => void
}

/** An update the journal knows about: running now in another process, or interrupted and not yet repaired. */
export interface InterruptedUpdate {
  name: string
  /** The step it was about to take (see `docker/update-journal.ts`). */
  step: string
  pid: number
  /** True while the process that started it is alive. */
  running: boolean
  aside_name: string
  image: string
  previous_image: string
  started_at: string
  updated_at: string
}

/**
 * The monitor's state and actions, shared by the CLI commands and the HTTP
 * mode: containers and live metrics from a `ContainerWatcher`, update status
 * from the registry through an `UpdateCache`, updates through
 * `recreateContainer`.
 */
export class MonitorService {
  readonly watcher: ContainerWatcher
  readonly updates: UpdateCache
  private readonly repoDigests = new Map<string, Promise<string[]>>()
  private readonly updating = new Set<string>()
  private readonly startedAt = Date.now()

  constructor(readonly options: MonitorServiceOptions) {
    this.watcher = new ContainerWatcher(options.docker, {logger: options.logger, streams: options.streams})
    this.updates = new UpdateCache({
      check: options.registry.check,
      ttlMs: options.cacheTtlMs,
      forceIntervalMs: options.forceIntervalMs,
    })
  }

  start(): Promise<void> {
    return this.watcher.start()
  }

  async stop(): Promise<void> {
    await this.watcher.stop()
    await this.options.registry.close().catch(() => {})
  }

  /** Waits until every running container (or the one named) has a CPU figure (two samples), up to `timeoutMs`. */
  async waitForMetrics(timeoutMs = 3000, name?: string): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const chosen =
        name === undefined ? this.watcher.containers() : [this.watcher.find(name)].filter((c) => c !== undefined)
      const running = chosen.filter((c) => c.state === 'running')
      if (running.every((c) => (this.watcher.metrics(c.id)?.cpu ?? null) !== null)) return
      await sleep(100)
    }
  }

  /**
   * For one-shot commands: metrics from one `stats` call per running container
   * (what `docker stats --no-stream` does), in parallel with the registry checks.
   */
  async rowsOnce(options: {name?: string; checkUpdates?: boolean} = {}): Promise<ContainerRow[]> {
    const selected =
      options.name === undefined
        ? this.watcher.containers()
        : [this.watcher.find(options.name)].filter((c) => c !== undefined)
    const ids = selected.filter((c) => c.state === 'running').map((c) => c.id)
    const [metrics, rows] = await Promise.all([statsOnce(this.options.docker, ids), this.rows(options)])
    return rows.map((row) => {
      const m = metrics.get(row.id)
      return m ? {...row, ...metricFields(m)} : row
    })
  }

  /** Update status of one container (cached; `force` refreshes at most once a minute per image). */
  async updateStatus(container: WatchedContainer, force = false): Promise<UpdateEntry> {
    const work = this.updates.get(container.image, container.imageId, () => this.digestsOf(container.imageId), {force})
    const wait = this.options.registryWaitMs ?? 10_000
    return withDeadline(
      work.catch((error: unknown): UpdateEntry => ({
        status: 'registry_error',
        error: errorMessage(error),
        checkedAt: Date.now(),
      })),
      wait,
      (): UpdateEntry => ({
        status: 'registry_error',
        error: `the registry did not answer within ${Math.round(wait / 1000)} s`,
        checkedAt: Date.now(),
      }),
      {unref: true},
    )
  }

  /** Every container (or the one named), with metrics and, when `checkUpdates`, update status. */
  async rows(options: {name?: string; force?: boolean; checkUpdates?: boolean} = {}): Promise<ContainerRow[]> {
    let containers = this.watcher.containers()
    if (options.name !== undefined) {
      const found = this.watcher.find(options.name)
      containers = found ? [found] : []
    }
    const stored = this.storedChecks()
    const self = this.options.self ?? selfIdentity()
    return Promise.all(
      containers.map(async (c) => {
        const entry = options.checkUpdates === false ? undefined : await this.updateStatus(c, options.force)
        return {
          ...toRow(c, this.watcher.metrics(c.id), entry),
          ...versionFields(c, stored.get(c.name)),
          ...updatability(c, isSelfContainer(c.id, self)),
        }
      }),
    )
  }

  private storedChecks(): Map<string, StoredVersion> {
    try {
      return this.options.storedChecks?.() ?? new Map<string, StoredVersion>()
    } catch (error) {
      this.options.logger.debug('cannot read the stored image checks', {error: errorMessage(error)})
      return new Map()
    }
  }

  /** `GET /status` (all) or `GET /status/NAME` (one; unknown → `not_found` and `{}`). */
  async status(options: {name?: string; force?: boolean; light?: boolean} = {}): Promise<StatusResponse> {
    const response: StatusResponse = {status: 'ok', updates: {}, meta: {}, ...this.freshness()}
    if (response.stale) response.status = 'stale'
    const rows = await this.rows({name: options.name, force: options.force})
    if (options.name !== undefined && rows.length === 0) {
      response.updates[options.name] = 'not_found'
      response.meta[options.name] = {}
      return response
    }
    for (const row of rows) {
      response.updates[row.name] = row.update ?? 'registry_error'
      response.meta[row.name] = options.light ? {state: row.state, image: row.image} : metaOf(row)
    }
    return response
  }

  /** Whether the container data is current: the watcher loses the daemon within a heartbeat of it freezing. */
  freshness(): Pick<StatusResponse, 'docker_connected' | 'stale' | 'as_of' | 'stale_since' | 'error'> {
    const info = this.watcher.info
    const asOf = info.lastContact ? new Date(info.lastContact).toISOString() : null
    if (info.connected) return {docker_connected: true, stale: false, as_of: asOf}
    return {
      docker_connected: false,
      stale: true,
      as_of: asOf,
      ...(info.lostAt === undefined ? {} : {stale_since: new Date(info.lostAt).toISOString()}),
      error: `Docker unreachable: ${info.lastError ?? 'reconnecting'}`,
    }
  }

  /** Updates the journal holds: interrupted ones (to be repaired by the next update or `serve`), or running elsewhere. */
  interruptedUpdates(): InterruptedUpdate[] {
    return (this.options.journal?.list() ?? []).map(describeEntry)
  }

  /** Finishes or rolls back every interrupted update (`docker/update-recovery.ts`). */
  async recoverInterrupted(): Promise<RecoveryResult[]> {
    const {journal, lockDir, docker, logger} = this.options
    if (!journal || !lockDir || journal.list().length === 0) return []
    const {recoverInterruptedUpdates} = await import('../docker/update-recovery.js')
    const results = await recoverInterruptedUpdates(docker, journal, {lockDir, logger})
    if (results.some((r) => r.outcome === 'finished' || r.outcome === 'rolled_back')) {
      await this.watcher.refresh().catch(() => {})
    }
    return results
  }

  /**
   * Pulls and, when the image changed (or `force`), recreates the container.
   * Throws `ContainerNotFoundError`, `SelfUpdateError`, `UpdateInProgressError`
   * or `OperationError` (with the rollback explained).
   */
  async update(nameOrId: string, options: UpdateOptions = {}): Promise<UpdateOutcome> {
    const record = this.options.activity?.begin('update', nameOrId, options.by ?? 'command line')
    try {
      const outcome = await this.updateOnce(nameOrId, {
        ...options,
        onStep: (step) => {
          record?.step(step)
          options.onStep?.(step)
        },
      })
      record?.finish(true, outcome.message)
      return outcome
    } catch (error) {
      record?.fail(error)
      throw error
    }
  }

  private async updateOnce(nameOrId: string, options: UpdateOptions): Promise<UpdateOutcome> {
    const {docker, logger} = this.options
    // An update killed half-way leaves the container under its aside name: repair that first.
    await this.recoverInterrupted()
    let info
    try {
      info = await this.inspectForUpdate(nameOrId)
    } catch (error) {
      if (!(error instanceof ContainerNotFoundError) || !this.options.journal || !this.options.lockDir) throw error
      // Not there: maybe renamed aside by an update running elsewhere right now (exit 5), or just interrupted.
      const {settleUpdateOf} = await import('../docker/update-recovery.js')
      await settleUpdateOf(docker, this.options.journal, {lockDir: this.options.lockDir, logger, name: nameOrId})
      info = await this.inspectForUpdate(nameOrId)
    }
    const name = info.Name.replace(/^\//, '')
    if (isSelfContainer(info.Id, this.options.self ?? selfIdentity())) throw new SelfUpdateError(name)
    // Before any pull: Swarm owns its task containers (see SwarmTaskError).
    const service = swarmServiceOf(info.Config.Labels)
    if (service) throw new SwarmTaskError(name, service)
    if (this.updating.has(info.Id)) throw new UpdateInProgressError(name)
    this.updating.add(info.Id)
    try {
      const image = options.image ?? info.Config.Image
      if (/^(sha256:)?[0-9a-f]{64}$/.test(image)) {
        throw new OperationError(`cannot update "${name}": it runs an image ID (${image.slice(0, 19)}…), not a name`)
      }
      const auth = await this.options.registry.credentialsFor(image).catch(() => undefined)
      options.onStep?.('pulling')
      await pullImage(docker, image, {auth, logger: logger.child({container: name}), signal: options.signal})
      const pulled = await docker.getImage(withDefaultTag(image)).inspect()
      if (pulled.Id === info.Image && !options.force) {
        this.updates.invalidate(info.Config.Image)
        return {
          message: `${name} is already up to date (${image})`,
          updated: false,
          name,
          image,
          image_id: pulled.Id,
          container_id: info.Id,
        }
      }
      const previous = await docker
        .getImage(info.Image)
        .inspect()
        .catch(() => undefined)
      const history = (result: UpdateRecord['result'], error: string | null) =>
        this.recordHistory({
          name,
          from: info.Config.Image,
          to: image,
          fromDigests: previous?.RepoDigests ?? [],
          toDigests: pulled.RepoDigests ?? [],
          result,
          error,
        })
      let result: RecreateResult
      try {
        result = await recreateContainer(docker, name, {
          expectId: info.Id,
          image,
          pull: false,
          logger,
          signal: options.signal,
          healthTimeoutMs: this.options.healthTimeoutMs,
          self: this.options.self,
          lockDir: this.options.lockDir,
          journal: this.options.journal,
          onStep: options.onStep,
        })
      } catch (error) {
        // Rolled back (or failed half-way): the image history says so too, as `images update` records it.
        if (error instanceof OperationError && !(error instanceof SelfUpdateError))
          history('rolled_back', errorMessage(error))
        throw error
      }
      history('applied', null)
      this.updates.invalidate(info.Config.Image)
      this.updates.invalidate(image)
      await this.watcher.refresh().catch(() => {})
      return {
        message: `${name} updated to ${image} (${pulled.Id.slice(7, 19)})`,
        updated: true,
        name,
        image,
        previous_image_id: info.Image,
        image_id: pulled.Id,
        container_id: result.newId,
      }
    } finally {
      this.updating.delete(info.Id)
    }
  }

  /** An update of a container's image, kept where `images history` and the Image updates page read it. */
  private recordHistory(u: {
    name: string
    from: string
    to: string
    fromDigests: string[]
    toDigests: string[]
    result: UpdateRecord['result']
    error: string | null
  }): void {
    if (!this.options.recordUpdate) return
    const digestOf = (reference: string, digests: string[]) =>
      localDigestsFor(parseImageReference(reference), digests)[0] ?? null
    try {
      this.options.recordUpdate({
        at: new Date().toISOString(),
        workload: u.name,
        kind: 'container',
        image: imageName(u.to),
        previousVersion: tagOf(u.from),
        newVersion: tagOf(u.to),
        previousDigest: digestOf(u.from, u.fromDigests),
        newDigest: digestOf(u.to, u.toDigests),
        by: 'manual',
        result: u.result,
        error: u.error === null ? null : redactText(u.error).slice(0, 2000),
      })
    } catch (error) {
      this.options.logger.warn('cannot record the update in the image history', {error: errorMessage(error)})
    }
  }

  private async inspectForUpdate(nameOrId: string) {
    try {
      return await this.options.docker.getContainer(nameOrId).inspect()
    } catch (error) {
      if ((error as {statusCode?: number}).statusCode === 404) throw new ContainerNotFoundError(nameOrId)
      throw new OperationError(`docker api error: ${dockerMessage(error)}`, {cause: error})
    }
  }

  unusedImages(filter?: ImageFilter): Promise<UnusedImage[]> {
    return listUnusedImages(this.options.docker, filter)
  }

  prune(filter?: ImageFilter): Promise<PruneResult> {
    return pruneUnusedImages(this.options.docker, filter)
  }

  async diag(): Promise<Record<string, unknown>> {
    const {docker} = this.options
    let ping = false
    let version: {Version?: string; ApiVersion?: string} = {}
    let error: string | undefined
    try {
      // Bounded: a frozen daemon must not hold the diagnostics page for the client's whole idle limit.
      // dockerode passes `abortSignal` on; its types omit the options argument of these two.
      const bounded = docker as unknown as {
        ping(options: {abortSignal: AbortSignal}): Promise<unknown>
        version(options: {abortSignal: AbortSignal}): Promise<{Version?: string; ApiVersion?: string}>
      }
      const abortSignal = AbortSignal.timeout(3000)
      await bounded.ping({abortSignal})
      ping = true
      version = await bounded.version({abortSignal})
    } catch (e) {
      error = dockerMessage(e)
    }
    const watcher = this.watcher.info
    return {
      ok: ping && watcher.connected,
      ping,
      containers: this.watcher.containers().map((c) => c.name),
      running: this.watcher.containers().filter((c) => c.state === 'running').length,
      docker_host: this.options.dockerAddress,
      docker_version: version.Version ?? null,
      docker_api_version: version.ApiVersion ?? null,
      stats_streams: watcher.streams,
      events_connected: watcher.connected,
      reconnects: watcher.reconnects,
      registry_cache_entries: this.updates.size,
      registry_checks: this.updates.checks,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      ...(this.options.version ? {version: this.options.version} : {}),
      ...(error || watcher.lastError ? {error: error ?? watcher.lastError} : {}),
    }
  }

  private digestsOf(imageId: string): Promise<string[]> {
    let found = this.repoDigests.get(imageId)
    if (!found) {
      found = this.options.docker
        .getImage(imageId)
        .inspect()
        .then((i) => i.RepoDigests ?? [])
      found.catch(() => this.repoDigests.delete(imageId))
      this.repoDigests.set(imageId, found)
    }
    return found
  }
}

function describeEntry(entry: JournalEntry): InterruptedUpdate {
  let running = false
  try {
    process.kill(entry.pid, 0)
    running = true
  } catch (error) {
    running = (error as {code?: string}).code === 'EPERM'
  }
  return {
    name: entry.name,
    step: entry.step,
    pid: entry.pid,
    running,
    aside_name: entry.asideName,
    image: entry.image,
    previous_image: entry.previousImage,
    started_at: entry.startedAt,
    updated_at: entry.updatedAt,
  }
}

export class UpdateInProgressError extends HomeopsError {
  readonly code = 'update_in_progress'
  constructor(readonly container: string) {
    super(`an update of "${container}" is already running`, 1)
  }
}

function toRow(
  c: WatchedContainer,
  metrics: ContainerMetrics | undefined,
  entry: UpdateEntry | undefined,
): ContainerRow {
  const m = c.state === 'running' && metrics ? metrics : {...EMPTY_METRICS}
  return {
    name: c.name,
    id: c.id,
    state: c.state,
    status: c.status,
    image: c.image,
    update: entry?.status ?? null,
    ...(entry?.error ? {update_error: entry.error} : {}),
    ...(entry?.remoteDigest ? {remote_digest: entry.remoteDigest} : {}),
    ...(entry ? {update_checked_at: new Date(entry.checkedAt).toISOString()} : {}),
    version_update: null,
    version_status: 'unknown',
    updatable: true,
    ...metricFields(m),
  }
}

/** The wire names of the Home Assistant integration. */
function metricFields(m: Omit<ContainerMetrics, 'at'>) {
  return {
    cpu: m.cpu,
    mem_usage: m.memUsage,
    mem_limit: m.memLimit,
    mem_perc: m.memPerc,
    net_rx: m.netRx,
    net_tx: m.netTx,
    blk_read: m.blkRead,
    blk_write: m.blkWrite,
  }
}

/** The version side of the one update notion: the stored `images check` result, when it is about this tag. */
function versionFields(
  c: WatchedContainer,
  stored: StoredVersion | undefined,
): Pick<ContainerRow, 'version_update' | 'version_status' | 'version_checked_at'> {
  // A result about another tag (the container changed since the check) says nothing about this one.
  if (!stored || stored.currentTag !== tagOf(c.image) || !['up_to_date', 'update_available'].includes(stored.status))
    return {version_update: null, version_status: 'unknown'}
  return {
    version_update: stored.newestAllowed,
    version_status: stored.newestAllowed ? 'update_available' : 'up_to_date',
    version_checked_at: stored.checkedAt,
  }
}

function updatability(c: WatchedContainer, self: boolean): Pick<ContainerRow, 'updatable' | 'not_updatable_reason'> {
  const service = swarmServiceOf(c.labels)
  if (service)
    return {
      updatable: false,
      not_updatable_reason: `a task of the Swarm service ${service}: update the service (homeops images update ${service})`,
    }
  if (self) return {updatable: false, not_updatable_reason: 'homeops itself runs in this container'}
  return {updatable: true}
}

function metaOf(row: ContainerRow): StatusMeta {
  return {
    state: row.state,
    image: row.image,
    version_update: row.version_update,
    version_status: row.version_status,
    updatable: row.updatable,
    ...(row.not_updatable_reason ? {not_updatable_reason: row.not_updatable_reason} : {}),
    cpu: row.cpu,
    mem_usage: row.mem_usage,
    mem_limit: row.mem_limit,
    mem_perc: row.mem_perc,
    net_rx: row.net_rx,
    net_tx: row.net_tx,
    blk_read: row.blk_read,
    blk_write: row.blk_write,
  }
}

/** The shared registry client, wrapped for the monitor (digest checks, pull credentials). */
export async function registryAccess(
  config: HomeopsConfig,
  logger: Logger,
  extra: {version?: string; signal?: AbortSignal} = {},
): Promise<RegistryAccess> {
  const [{createRegistryClient}, {checkImageStatus}] = await Promise.all([
    import('../registry/factory.js'),
    import('../registry/update-status.js'),
  ])
  // The one factory (same credentials, timeouts, User-Agent and abort as images). The monitor keeps its own
  // cache (registryCacheMinutes); the client's memo only de-duplicates bursts.
  const client = createRegistryClient(
    {config, logger, version: extra.version ?? 'unknown', signal: extra.signal},
    {cacheTtlMs: 5_000},
  )
  return {
    check: (image, repoDigests) => checkImageStatus(client, image, repoDigests),
    credentialsFor: (image) => registryAuthFor(client, image),
    close: () => client.close(),
  }
}

/** A started `MonitorService` for a command or a mode, stopped when the context closes. */
/** Reads the fresh `images check` results (within two check intervals); none when the database cannot be opened. */
async function storedChecksOf(
  context: import('../context.js').Context,
): Promise<(() => Map<string, StoredVersion>) | undefined> {
  try {
    const db = await context.state()
    const maxAgeMs = 2 * context.config.images.intervalSeconds * 1000
    return () => latestContainerChecks(db, maxAgeMs)
  } catch (error) {
    context.logger.debug('no stored image checks', {error: errorMessage(error)})
    return undefined
  }
}

export async function openMonitorService(
  context: import('../context.js').Context,
  options: {registryWaitMs?: number; watch?: boolean; streams?: boolean; self?: SelfIdentity} = {},
): Promise<MonitorService> {
  const {docker, address} = await context.docker()
  const config = context.config
  const [registry, db, {stateJournal}, {stateDir}, {ActivityLog}, {recordUpdate}] = await Promise.all([
    registryAccess(config, context.logger, {version: context.version, signal: context.signal}),
    context.state(),
    import('../docker/update-journal.js'),
    import('../paths.js'),
    import('../activity/log.js'),
    import('../images/history.js'),
  ])
  const service = new MonitorService({
    docker,
    dockerAddress: address,
    logger: context.logger,
    registry,
    cacheTtlMs: config.monitor.registryCacheMinutes * 60_000,
    healthTimeoutMs: config.monitor.healthTimeoutSeconds * 1000,
    registryWaitMs: options.registryWaitMs,
    version: context.version,
    self: options.self,
    streams: options.streams,
    storedChecks: await storedChecksOf(context),
    lockDir: stateDir(context.statePath),
    journal: stateJournal(db),
    activity: new ActivityLog(db),
    recordUpdate: (record) => recordUpdate(db, record),
  })
  context.onClose(() => service.stop())
  if (options.watch === false) return service
  try {
    await service.start()
  } catch (error) {
    await service.stop().catch(() => {})
    const {dockerUnreachable} = await import('../docker/client.js')
    throw dockerUnreachable(address, error)
  }
  return service
}
