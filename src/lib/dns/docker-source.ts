import type {Docker} from '../docker/client.js'
import {errorMessage} from '../errors.js'
import type {Logger} from '../log/logger.js'
import {type RecordStore, type SourceRecord, recordsFromValue} from './store.js'

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
 * create/update/remove) trigger a debounced resync of that kind; when the
 * event stream drops it reconnects with backoff and resyncs everything.
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
  private stopped = false
  private stream: NodeJS.ReadableStream | undefined
  private timers = new Set<NodeJS.Timeout>()
  private pending = {containers: false, services: false}
  private debounce: NodeJS.Timeout | undefined
  private interval: NodeJS.Timeout | undefined
  private loop: Promise<void> | undefined
  private wake: (() => void) | undefined
  private loggedSwarm = false

  constructor(private readonly options: DockerSourceOptions) {}

  /** Connects and syncs once; keeps retrying in the background when Docker is not reachable yet. */
  async start(): Promise<void> {
    this.status.running = true
    try {
      await this.connect()
      await this.syncAll()
    } catch (error) {
      this.fail('Docker is not reachable; names from labels will appear once it is', error)
    }
    this.loop = this.eventLoop()
    this.interval = setInterval(() => {
      if (this.docker) void this.syncAll().catch((error: unknown) => this.fail('docker resync failed', error))
    }, this.options.resyncMs ?? 60_000)
    this.interval.unref()
  }

  /** One sync without events (`dns records`). */
  async once(): Promise<void> {
    await this.connect()
    await this.syncAll()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.status.running = false
    if (this.debounce) clearTimeout(this.debounce)
    if (this.interval) clearInterval(this.interval)
    for (const timer of this.timers) clearTimeout(timer)
    this.closeStream()
    this.wake?.()
    await this.loop
  }

  private async connect(): Promise<void> {
    const {docker, address} = await this.options.connect()
    this.docker = docker
    this.status.address = address
    this.status.connected = true
  }

  private async syncAll(): Promise<void> {
    await Promise.all([this.syncContainers(), this.syncServices()])
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
      if (/not a swarm manager|swarm mode|not part of a swarm/i.test(message)) {
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

  private async eventLoop(): Promise<void> {
    let backoff = 1000
    let first = true
    while (!this.stopped) {
      try {
        if (!this.docker || !first) {
          await this.connect()
          await this.syncAll()
          if (!first) {
            this.status.reconnects++
            this.options.logger.info('docker event stream reconnected; records resynced')
          }
        }
        first = false
        await this.follow()
        backoff = 1000
        if (this.stopped) return
        this.options.logger.warn('docker event stream ended; reconnecting')
      } catch (error) {
        first = false
        if (this.stopped) return
        this.fail('docker event stream failed; reconnecting', error)
      }
      this.status.connected = false
      await this.sleep(backoff)
      backoff = Math.min(backoff * 2, 30_000)
    }
  }

  /** Reads the event stream until it ends. */
  private async follow(): Promise<void> {
    const docker = this.docker!
    const stream = await docker.getEvents({
      filters: {
        type: ['container', 'service'],
        event: ['start', 'die', 'destroy', 'stop', 'pause', 'unpause', 'rename', 'update', 'create', 'remove'],
      },
    })
    this.stream = stream
    this.status.connected = true
    // Events that happened while we were connecting are covered by a sync right after subscribing.
    await this.syncAll()
    await new Promise<void>((resolve, reject) => {
      let buffered = ''
      stream.on('data', (chunk: Buffer | string) => {
        buffered += chunk.toString()
        let newline: number
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim()
          buffered = buffered.slice(newline + 1)
          if (line) this.onEvent(line)
        }
      })
      stream.on('end', () => resolve())
      stream.on('close', () => resolve())
      stream.on('error', (error: Error) => reject(error))
    })
  }

  private onEvent(line: string): void {
    let event: {Type?: string; Action?: string}
    try {
      event = JSON.parse(line) as {Type?: string; Action?: string}
    } catch {
      return
    }
    if (event.Type === 'service') this.schedule('services')
    else if (event.Type === 'container') this.schedule('containers')
  }

  private closeStream(): void {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- widens to the object's real type
    const stream = this.stream as (NodeJS.ReadableStream & {destroy?: () => void}) | undefined
    this.stream = undefined
    stream?.destroy?.()
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer)
        this.wake = undefined
        resolve()
      }, ms)
      this.timers.add(timer)
      this.wake = () => {
        clearTimeout(timer)
        this.timers.delete(timer)
        resolve()
      }
    })
  }

  private fail(message: string, error: unknown): void {
    const text = errorMessage(error)
    this.status.lastError = text
    this.options.logger.warn(message, {error: text})
  }
}
