import type {Docker} from '../docker/client.js'
import {DockerEventFollower} from '../docker/events.js'
import {errorMessage} from '../errors.js'
import type {Logger} from '../log/logger.js'
import {type RecordStore, type SourceRecord, recordsFromValue} from './record-store.js'

/** Labels read on containers and Swarm services (`deploy.labels`). */
export const DNS_LABELS = {
  /** Comma-separated names. */
  names: ['homeops.dns.name', 'joyride.host.name'],
  /** Comma-separated addresses, instead of HOSTIP. */
  ip: 'homeops.dns.ip',
  /** Comma-separated names answered with a CNAME to the first name. */
  alias: 'homeops.dns.alias',
  /** `false` opts the workload out. */
  enable: 'homeops.dns.enable',
} as const

const FALSE = new Set(['false', '0', 'no', 'off'])

/** The records a workload's labels ask for (none when opted out or unlabelled). */
export function recordsFromLabels(labels: Record<string, string> | undefined, hostIps: string[]): SourceRecord[] {
  if (!labels) return []
  if (FALSE.has((labels[DNS_LABELS.enable] ?? '').trim().toLowerCase())) return []
  const names = DNS_LABELS.names
    .flatMap((label) => (labels[label] ?? '').split(','))
    .map((n) => n.trim())
    .filter(Boolean)
  const unique = [...new Set(names.map((n) => n.toLowerCase()))]
  if (unique.length === 0) return []
  const ipLabel = (labels[DNS_LABELS.ip] ?? '').trim()
  const addresses = ipLabel === '' ? hostIps.join(',') : ipLabel
  const records: SourceRecord[] = []
  for (const name of unique) {
    // An address label holding a name would become a CNAME: only addresses are allowed there.
    for (const record of recordsFromValue(name, addresses)) if (record.type !== 'CNAME') records.push(record)
    if (ipLabel !== '' && records.length === 0) records.push({name, type: 'A', value: ipLabel}) // reported as invalid
  }
  for (const alias of (labels[DNS_LABELS.alias] ?? '').split(',').map((n) => n.trim().toLowerCase())) {
    if (alias && !unique.includes(alias)) records.push({name: alias, type: 'CNAME', value: unique[0]!})
  }
  return records
}

export interface DockerSourceOptions {
  /** Returns a client; called again after a failure. */
  connect: () => Promise<{docker: Docker; address: string}>
  store: RecordStore
  hostIps: string[]
  logger: Logger
  /** Full resync even without events (safety net), ms. */
  resyncMs?: number
  /** Merge event bursts, ms. */
  debounceMs?: number
  /**
   * What this source reads (default both): `containers` when Swarm services come from the managers of
   * `dns.swarmManagers` instead, `services` for that manager source.
   */
  read?: 'all' | 'containers' | 'services'
  /** Logged when the first connection fails (default: Docker is not reachable…). */
  unreachable?: string
}

export interface DockerSourceStatus {
  running: boolean
  connected: boolean
  address: string | null
  containers: number
  services: number
  swarm: 'manager' | 'not a manager' | 'unknown'
  lastSyncAt: string | null
  lastError: string | null
  reconnects: number
}

/**
 * Container and Swarm service labels → `docker` and `swarm` records. A full
 * sync at start, then Docker events (container start/die/destroy, service
 * create/update/remove, through the one follower of `docker/events.ts`)
 * trigger a debounced resync of that kind; when the event stream drops it
 * reconnects with backoff and resyncs everything.
 */
export class DockerSource {
  readonly status: DockerSourceStatus = {
    running: false,
    connected: false,
    address: null,
    containers: 0,
    services: 0,
    swarm: 'unknown',
    lastSyncAt: null,
    lastError: null,
    reconnects: 0,
  }
  private docker: Docker | undefined
  private pending = {containers: false, services: false}
  private debounce: NodeJS.Timeout | undefined
  private interval: NodeJS.Timeout | undefined
  private loggedSwarm = false
  private readonly events: DockerEventFollower

  private readonly containers: boolean
  private readonly services: boolean

  constructor(private readonly options: DockerSourceOptions) {
    const read = options.read ?? 'all'
    this.containers = read !== 'services'
    this.services = read !== 'containers'
    this.events = new DockerEventFollower({
      connect: async () => {
        await this.connect()
        return this.docker!
      },
      filters: {
        type: [...(this.containers ? ['container'] : []), ...(this.services ? ['service'] : [])],
        event: ['start', 'die', 'destroy', 'stop', 'pause', 'unpause', 'rename', 'update', 'create', 'remove'],
      },
      logger: options.logger,
      onOpen: async () => {
        this.status.connected = true
        await this.syncAll()
      },
      onEvent: (event) => {
        if (event.Type === 'service') this.schedule('services')
        else if (event.Type === 'container') this.schedule('containers')
      },
      onLost: (reason, how) => {
        this.status.connected = false
        if (how === 'ended') this.options.logger.warn('docker event stream ended; reconnecting')
        else this.fail('docker event stream failed; reconnecting', new Error(reason))
      },
      onReconnected: () => {
        this.status.reconnects = this.events.reconnects
        this.options.logger.info('docker event stream reconnected; records resynced')
      },
      minBackoffMs: 1000,
      maxBackoffMs: 30_000,
    })
  }

  /** Connects and syncs once; keeps retrying in the background when Docker is not reachable yet. */
  async start(): Promise<void> {
    this.status.running = true
    try {
      await this.events.start({retry: true})
    } catch (error) {
      this.status.connected = false
      this.fail(this.options.unreachable ?? 'Docker is not reachable; names from labels will appear once it is', error)
    }
    this.interval = setInterval(() => {
      if (this.docker && this.events.connected)
        void this.syncAll().catch((error: unknown) => this.fail('docker resync failed', error))
    }, this.options.resyncMs ?? 60_000)
    this.interval.unref()
  }

  /** One sync without events (`dns records`). */
  async once(): Promise<void> {
    await this.connect()
    await this.syncAll()
  }

  async stop(): Promise<void> {
    this.status.running = false
    if (this.debounce) clearTimeout(this.debounce)
    if (this.interval) clearInterval(this.interval)
    await this.events.stop()
  }

  private async connect(): Promise<void> {
    const {docker, address} = await this.options.connect()
    this.docker = docker
    this.status.address = address
    this.status.connected = true
  }

  private async syncAll(): Promise<void> {
    await Promise.all([this.containers && this.syncContainers(), this.services && this.syncServices()])
    this.status.lastSyncAt = new Date().toISOString()
  }

  private async syncContainers(): Promise<void> {
    const docker = this.docker
    if (!docker) return
    const containers = await docker.listContainers({all: false})
    const byId = new Map<string, SourceRecord[]>()
    for (const c of containers) {
      const records = recordsFromLabels(c.Labels, this.options.hostIps)
      if (records.length === 0) continue
      const name = (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, '')
      byId.set(`container/${name}`, records)
    }
    this.status.containers = byId.size
    this.options.store.replaceKind('docker', byId)
  }

  private async syncServices(): Promise<void> {
    const docker = this.docker
    if (!docker) return
    let services: Awaited<ReturnType<Docker['listServices']>>
    try {
      services = await docker.listServices()
    } catch (error) {
      const message = errorMessage(error)
      // The manager source reconnects (to the next manager) instead: a demoted manager is a failure there.
      if (this.containers && /not a swarm manager|swarm mode|not part of a swarm/i.test(message)) {
        this.status.swarm = 'not a manager'
        if (!this.loggedSwarm) {
          this.loggedSwarm = true
          this.options.logger.info('this Docker is not a Swarm manager: service labels are not read', {
            hint: 'point DOCKER_HOST at a manager to answer for every service of the cluster',
          })
        }
        this.options.store.replaceKind('swarm', new Map())
        this.status.services = 0
        return
      }
      throw error
    }
    this.status.swarm = 'manager'
    const byId = new Map<string, SourceRecord[]>()
    for (const s of services) {
      const records = recordsFromLabels(s.Spec?.Labels, this.options.hostIps)
      if (records.length === 0) continue
      byId.set(`service/${s.Spec?.Name ?? s.ID}`, records)
    }
    this.status.services = byId.size
    this.options.store.replaceKind('swarm', byId)
  }

  private schedule(kind: 'containers' | 'services'): void {
    this.pending[kind] = true
    if (this.debounce) return
    this.debounce = setTimeout(() => {
      this.debounce = undefined
      const {containers, services} = this.pending
      this.pending = {containers: false, services: false}
      const work = [...(containers ? [this.syncContainers()] : []), ...(services ? [this.syncServices()] : [])]
      void Promise.all(work)
        .then(() => (this.status.lastSyncAt = new Date().toISOString()))
        .catch((error: unknown) => this.fail('docker sync after an event failed', error))
    }, this.options.debounceMs ?? 100)
  }

  /** Lets go of the event stream as if Docker had closed it: a reconnection and a full resync follow. */
  private closeStream(): void {
    this.events.drop()
  }

  private fail(message: string, error: unknown): void {
    const text = errorMessage(error)
    this.status.lastError = text
    this.options.logger.warn(message, {error: text})
  }
}
