import type Dockerode from 'dockerode'

import {errorMessage} from '../errors.js'
import type {Logger} from '../log/logger.js'
import type {Docker} from './client.js'
import {type DockerEvent, DockerEventFollower, readLines} from './events.js'

/** One container's resource use, as `docker stats` shows it; `null` where unknown. */
export interface ContainerMetrics {
  /** Percent of one CPU × online CPUs (200 = two CPUs busy), like `docker stats`. */
  cpu: number | null
  /** Bytes used, page cache excluded. */
  memUsage: number | null
  memLimit: number | null
  memPerc: number | null
  /** Cumulative bytes since the container started. */
  netRx: number | null
  netTx: number | null
  blkRead: number | null
  blkWrite: number | null
  /** When the sample was read (ms since epoch). */
  at: number
}

export const EMPTY_METRICS: Omit<ContainerMetrics, 'at'> = {
  cpu: null,
  memUsage: null,
  memLimit: null,
  memPerc: null,
  netRx: null,
  netTx: null,
  blkRead: null,
  blkWrite: null,
}

type Stats = Dockerode.ContainerStats

/** The `docker stats` arithmetic (docker/cli `calculateCPUPercentUnix`, `calculateMemUsageUnixNoCache`). */
export function computeMetrics(stats: Stats, at = Date.now()): ContainerMetrics {
  return {...computeCpuMem(stats), ...computeIo(stats), at}
}

function computeCpuMem(stats: Stats): Pick<ContainerMetrics, 'cpu' | 'memUsage' | 'memLimit' | 'memPerc'> {
  const cpuStats = stats.cpu_stats
  const pre = stats.precpu_stats
  let cpu: number | null = null
  if (cpuStats?.cpu_usage && pre?.cpu_usage && pre.system_cpu_usage) {
    const cpuDelta = cpuStats.cpu_usage.total_usage - pre.cpu_usage.total_usage
    const systemDelta = (cpuStats.system_cpu_usage ?? 0) - pre.system_cpu_usage
    const online = cpuStats.online_cpus || cpuStats.cpu_usage.percpu_usage?.length || 1
    if (systemDelta > 0 && cpuDelta >= 0) cpu = round((cpuDelta / systemDelta) * online * 100, 2)
    else if (systemDelta > 0) cpu = 0
  }
  const mem = stats.memory_stats as (Stats['memory_stats'] & {stats?: Record<string, number>}) | undefined
  let memUsage: number | null = null
  let memLimit: number | null = null
  if (mem && typeof mem.usage === 'number') {
    const inactive = mem.stats?.total_inactive_file ?? mem.stats?.inactive_file
    memUsage = inactive !== undefined && inactive < mem.usage ? mem.usage - inactive : mem.usage
    memLimit = typeof mem.limit === 'number' && mem.limit > 0 ? mem.limit : null
  }
  const memPerc = memUsage !== null && memLimit ? round((memUsage / memLimit) * 100, 2) : null
  return {cpu, memUsage, memLimit, memPerc}
}

function computeIo(stats: Stats): Pick<ContainerMetrics, 'netRx' | 'netTx' | 'blkRead' | 'blkWrite'> {
  let netRx: number | null = null
  let netTx: number | null = null
  for (const net of Object.values(stats.networks ?? {})) {
    netRx = (netRx ?? 0) + (net.rx_bytes ?? 0)
    netTx = (netTx ?? 0) + (net.tx_bytes ?? 0)
  }
  let blkRead: number | null = null
  let blkWrite: number | null = null
  const entries = stats.blkio_stats?.io_service_bytes_recursive
  if (Array.isArray(entries)) {
    blkRead = 0
    blkWrite = 0
    for (const entry of entries) {
      const op = String(entry.op).toLowerCase()
      if (op === 'read') blkRead += entry.value
      else if (op === 'write') blkWrite += entry.value
    }
  }
  return {netRx, netTx, blkRead, blkWrite}
}

function round(value: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

/**
 * One sample per container, in parallel, with the daemon's own previous
 * sample as the CPU reference: what `docker stats --no-stream` does. Bounded
 * by dockerd's 1 s sampling cycle (CPU needs two cycles), so about 1–2 s.
 */
export async function statsOnce(docker: Docker, ids: readonly string[]): Promise<Map<string, ContainerMetrics>> {
  const out = new Map<string, ContainerMetrics>()
  await Promise.all(
    ids.map(async (id) => {
      try {
        out.set(id, computeMetrics(await docker.getContainer(id).stats({stream: false})))
      } catch {
        // Stopped meanwhile: no metrics.
      }
    }),
  )
  return out
}

/** What the watcher knows about a container (from the list, kept current by events). */
export interface WatchedContainer {
  id: string
  name: string
  /** The reference the container was created from (`Config.Image`). */
  image: string
  imageId: string
  /** created, running, paused, restarting, removing, exited, dead */
  state: string
  /** `Up 5 minutes (healthy)` */
  status: string
  created: number
  labels: Record<string, string>
}

export interface ContainerWatcherOptions {
  logger: Logger
  /** Full re-list as a safety net for missed events (default 30 s). */
  refreshMs?: number
  /** Reconnect backoff bounds after the daemon went away (default 500 ms … 30 s). */
  minBackoffMs?: number
  maxBackoffMs?: number
  /** Keep a stats stream per running container (default true; false: the list only, for one-shot commands). */
  streams?: boolean
  /**
   * How often the daemon is pinged while connected (default 5 s): the event stream stays silent when nothing
   * happens, so a frozen daemon shows only as an unanswered ping.
   */
  heartbeatMs?: number
  /** How long a ping may take before the daemon counts as gone (default 3 s). */
  pingTimeoutMs?: number
}

interface StatsStream {
  stream: NodeJS.ReadableStream & {destroy?: () => void}
}

/**
 * Keeps the container list and one streaming stats connection per running
 * container in memory, so readers (`/status`) never wait for Docker: CPU % from
 * each sample's `precpu_stats`, memory without page cache, cumulative net and
 * block I/O. Docker events (start/die/destroy/rename…, through the one
 * follower of `events.ts`) re-list and re-attach at once; when the daemon goes
 * away (restart, socket gone, frozen) it reconnects with exponential backoff
 * and re-attaches everything.
 */
export class ContainerWatcher {
  private readonly containersById = new Map<string, WatchedContainer>()
  private readonly metricsById = new Map<string, ContainerMetrics>()
  private readonly streams = new Map<string, StatsStream>()
  private readonly configImages = new Map<string, string>()
  private readonly events: DockerEventFollower
  private refreshTimer?: NodeJS.Timeout
  private debounceTimer?: NodeJS.Timeout
  private refreshing?: Promise<void>
  private refreshAgain = false
  private stopped = true
  private listeners = new Set<() => void>()

  constructor(
    private readonly docker: Docker,
    private readonly options: ContainerWatcherOptions,
  ) {
    this.events = new DockerEventFollower({
      connect: () => Promise.resolve(docker),
      filters: {type: ['container']},
      logger: options.logger,
      onOpen: () => this.refresh(),
      onEvent: (event) => this.onEvent(event),
      onLost: (reason) => {
        options.logger.warn('lost the Docker daemon, reconnecting', {reason})
        for (const id of [...this.streams.keys()]) this.detach(id)
      },
      onReconnected: () =>
        options.logger.info('reconnected to the Docker daemon', {containers: this.containersById.size}),
      minBackoffMs: options.minBackoffMs,
      maxBackoffMs: options.maxBackoffMs,
      heartbeatMs: options.heartbeatMs,
      pingTimeoutMs: options.pingTimeoutMs,
    })
  }

  /** Lists containers and attaches; throws when the daemon cannot be reached at start. */
  async start(): Promise<void> {
    this.stopped = false
    await this.events.start()
    this.refreshTimer = setInterval(() => void this.refresh().catch(() => {}), this.options.refreshMs ?? 30_000)
    this.refreshTimer.unref()
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.refreshTimer)
    clearTimeout(this.debounceTimer)
    await this.events.stop()
    for (const id of [...this.streams.keys()]) this.detach(id)
    await this.refreshing?.catch(() => {})
  }

  get connected(): boolean {
    return this.events.connected
  }

  get info(): {
    connected: boolean
    streams: number
    reconnects: number
    lastError?: string
    /** Last time the daemon answered (ms since epoch; 0: never). */
    lastContact: number
    /** Since when the daemon has not answered (ms since epoch), while disconnected. */
    lostAt?: number
  } {
    const events = this.events
    return {
      connected: events.connected,
      streams: this.streams.size,
      reconnects: events.reconnects,
      lastError: events.lastError,
      lastContact: events.lastContact,
      ...(events.lostAt === undefined ? {} : {lostAt: events.lostAt}),
    }
  }

  containers(): WatchedContainer[] {
    return [...this.containersById.values()].sort((a, b) => a.name.localeCompare(b.name))
  }

  find(nameOrId: string): WatchedContainer | undefined {
    const key = nameOrId.replace(/^\//, '')
    for (const c of this.containersById.values()) if (c.name === key) return c
    if (key.length >= 12) for (const c of this.containersById.values()) if (c.id.startsWith(key)) return c
    return undefined
  }

  metrics(id: string): ContainerMetrics | undefined {
    return this.metricsById.get(id)
  }

  /** Called after each change of the container list. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Re-lists containers (coalesced: concurrent callers share one listing). */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true
      return this.refreshing
    }
    this.refreshing = (async () => {
      try {
        do {
          this.refreshAgain = false
          await this.listAndAttach()
        } while (this.refreshAgain && !this.stopped)
      } finally {
        this.refreshing = undefined
      }
    })()
    return this.refreshing
  }

  private onEvent(event: DockerEvent): void {
    const action = (event.Action ?? event.status ?? '').split(':')[0]
    const id = event.Actor?.ID ?? event.id
    if (!id) return
    if (action === 'die' || action === 'destroy' || action === 'stop') this.detach(id)
    if (action === 'destroy') {
      this.containersById.delete(id)
      this.metricsById.delete(id)
      this.configImages.delete(id)
    }
    if (
      ['create', 'start', 'die', 'stop', 'destroy', 'rename', 'pause', 'unpause', 'restart', 'health_status'].includes(
        action ?? '',
      )
    ) {
      this.scheduleRefresh()
    }
  }

  private scheduleRefresh(): void {
    if (this.debounceTimer || this.stopped) return
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined
      void this.refresh().catch((error: unknown) => {
        this.options.logger.debug('container refresh failed', {error: errorMessage(error)})
      })
    }, 50)
  }

  private async listAndAttach(): Promise<void> {
    const list = await this.docker.listContainers({all: true})
    this.events.noteContact()
    const seen = new Set<string>()
    const next = new Map<string, WatchedContainer>()
    for (const item of list) {
      seen.add(item.Id)
      let image = this.configImages.get(item.Id)
      if (image === undefined) {
        // `Image` of the list turns into an image ID once the tag moved; Config.Image never changes.
        image = item.Image
        if (/^sha256:[0-9a-f]{64}$/.test(item.Image)) {
          image = await this.docker
            .getContainer(item.Id)
            .inspect()
            .then((i) => i.Config.Image)
            .catch(() => item.Image)
        }
        this.configImages.set(item.Id, image)
      }
      next.set(item.Id, {
        id: item.Id,
        name: (item.Names?.[0] ?? item.Id.slice(0, 12)).replace(/^\//, ''),
        image,
        imageId: item.ImageID,
        state: item.State,
        status: item.Status,
        created: item.Created,
        labels: item.Labels ?? {},
      })
    }
    this.containersById.clear()
    for (const [id, c] of next) this.containersById.set(id, c)
    for (const id of [...this.metricsById.keys()]) if (!seen.has(id)) this.metricsById.delete(id)
    for (const id of [...this.configImages.keys()]) if (!seen.has(id)) this.configImages.delete(id)
    for (const [id, c] of this.containersById) {
      if (c.state === 'running') {
        if (!this.streams.has(id) && this.options.streams !== false) await this.attach(id)
      } else {
        this.detach(id)
        this.metricsById.delete(id)
      }
    }
    for (const id of [...this.streams.keys()]) if (!this.containersById.has(id)) this.detach(id)
    for (const listener of this.listeners) listener()
  }

  private async attach(id: string): Promise<void> {
    if (this.stopped) return
    let stream: StatsStream['stream']
    try {
      stream = await this.docker.getContainer(id).stats({stream: true})
    } catch (error) {
      this.options.logger.debug('cannot attach stats', {id: id.slice(0, 12), error: errorMessage(error)})
      return
    }
    if (this.stopped || this.streams.has(id)) {
      stream.destroy?.()
      return
    }
    const entry: StatsStream = {stream}
    this.streams.set(id, entry)
    readLines(
      stream,
      (line) => {
        try {
          const sample = JSON.parse(line) as Stats
          // A stopped container streams zeros with an empty `read` time: keep the last real sample.
          if (sample.read && !sample.read.startsWith('0001-')) this.metricsById.set(id, computeMetrics(sample))
        } catch {
          // A partial line after a cut connection: ignored.
        }
      },
      {onData: () => this.events.noteContact()},
    )
    const gone = () => {
      if (this.streams.get(id) === entry) this.streams.delete(id)
    }
    stream.on('end', gone)
    stream.on('close', gone)
    stream.on('error', gone)
  }

  private detach(id: string): void {
    const entry = this.streams.get(id)
    if (!entry) return
    this.streams.delete(id)
    entry.stream.destroy?.()
  }
}
