import type {HomeopsConfig} from '../config/root-schema.js'
import type {Context} from '../context.js'
import type {DockerConnection} from '../docker/client.js'
import {errorMessage} from '../errors.js'
import type {Logger} from '../log/logger.js'
import {effectiveDnsPort} from './config.js'
import {DockerSource, type DockerSourceStatus} from './docker-source.js'
import {Forwarder, parseUpstream} from './forwarder.js'
import {type HostIp, detectHostIp} from './host-ip.js'
import {HostsDirectory} from './hosts-file.js'
import {RateLimiter} from './rate-limit.js'
import {DnsServer} from './server.js'
import {type Conflict, type RecordRow, RecordStore, type SourceRecord, recordsFromValue} from './record-store.js'
import {connectSwarmManager} from './swarm-managers.js'
import {chooseUpstreams, type UpstreamChoice} from './system-resolvers.js'

export type DnsConfig = HomeopsConfig['dns']

let registrable: ((name: string) => string | null) | undefined

/**
 * The public suffix list (tldts: a compiled trie, typed, no dependencies, ~1 µs a name; `psl` is slower
 * and pulls the deprecated punycode module), loaded on first use only.
 */
async function loadPublicSuffixes(): Promise<void> {
  if (registrable) return
  const {getDomain} = await import('tldts')
  registrable = (name) => getDomain(name, {allowPrivateDomains: true, validateHostname: false})
}

export interface DnsServiceOptions {
  config: DnsConfig
  logger: Logger
  /** Docker for labels; undefined: no Docker source. */
  connectDocker?: () => Promise<DockerConnection>
  /** The Swarm managers services are read from (`dns.swarmManagers`); undefined: the local Docker's. */
  connectManager?: () => Promise<DockerConnection>
  /** Store debounce (tests). */
  debounceMs?: number
}

/**
 * Everything behind `dns serve`: the record store and its sources (static
 * config, hosts directory, Docker labels), and, when serving, the DNS server,
 * forwarder and rate limiter.
 */
export class DnsService {
  readonly store: RecordStore
  hostIp: HostIp = {addresses: [], origin: 'not detected yet'}
  hosts: HostsDirectory | undefined
  docker: DockerSource | undefined
  /** Swarm service labels from a manager (`dns.swarmManagers`), for a server on a worker node. */
  managers: DockerSource | undefined
  server: DnsServer | undefined
  forwarder: Forwarder | undefined
  limiter: RateLimiter | undefined
  startedAt: Date | undefined
  /** What other names are forwarded to: the configured upstreams, else the system's (resolv.conf). */
  upstreams: UpstreamChoice = {upstreams: [], origin: 'not started'}
  private unsubscribe: (() => void) | undefined

  constructor(private readonly options: DnsServiceOptions) {
    const config = options.config
    this.store = new RecordStore({
      ttl: config.ttl,
      zones: config.zones,
      logger: options.logger,
      debounceMs: options.debounceMs,
      registrableDomain: (name) => registrable?.(name) ?? null,
    })
  }

  get config(): DnsConfig {
    return this.options.config
  }

  /** Loads every source; `watch` keeps them current (hosts watcher, Docker events). */
  async load(watch: boolean): Promise<void> {
    const {config, logger} = this.options
    await loadPublicSuffixes()
    this.hostIp = await detectHostIp(config.hostIp)
    const statics = new Map<string, SourceRecord[]>()
    const records: SourceRecord[] = []
    // The schema checked every entry at load (dns/static-records.ts).
    for (const [name, value] of Object.entries(config.records)) records.push(...recordsFromValue(name, String(value)))
    statics.set('config', records)
    this.store.replaceKind('static', statics)
    if (config.hostsDirectory) {
      this.hosts = new HostsDirectory(config.hostsDirectory, this.store, logger)
      if (watch) await this.hosts.start()
      else {
        await this.hosts.check()
        await this.hosts.load()
      }
    }
    if (this.options.connectDocker && config.docker) {
      const fromManagers = this.options.connectManager !== undefined
      this.docker = new DockerSource({
        connect: this.options.connectDocker,
        store: this.store,
        hostIps: this.hostIp.addresses,
        logger,
        read: fromManagers ? 'containers' : 'all',
      })
      if (fromManagers) {
        this.managers = new DockerSource({
          connect: this.options.connectManager!,
          store: this.store,
          hostIps: this.hostIp.addresses,
          logger,
          read: 'services',
          unreachable: 'no Swarm manager of dns.swarmManagers answers; service names will appear once one does',
        })
      }
      const sources = [this.docker, this.managers].filter((source) => source !== undefined)
      await Promise.all(sources.map((source) => loadSource(source, watch)))
      if (this.managers?.status.connected)
        logger.info('reading Swarm service labels from a manager', {manager: this.managers.status.address})
    }
    this.store.flush()
  }

  /** Binds the DNS sockets and answers from the store from now on. */
  async serve(): Promise<void> {
    const {config, logger} = this.options
    this.upstreams = chooseUpstreams(config)
    for (const {address, reason} of this.upstreams.skipped ?? [])
      logger.info('dns upstream from resolv.conf left out', {address, reason})
    const upstreams = this.upstreams.upstreams.map(parseUpstream)
    this.forwarder =
      upstreams.length > 0
        ? new Forwarder({
            upstreams,
            timeoutMs: config.upstreamTimeoutMs,
            cacheSize: config.cacheSize,
            cacheBytes: config.cacheBytes,
            forwardMax: config.forwardMax,
            udpSize: config.maxUdpSize,
          })
        : undefined
    this.limiter = new RateLimiter({perSource: config.rateLimit})
    const server = new DnsServer({
      bind: config.bind,
      port: effectiveDnsPort(config.port),
      ipv6: config.ipv6,
      tcp: config.tcp,
      maxUdpSize: config.maxUdpSize,
      forwarder: this.forwarder,
      limiter: this.limiter,
      logger,
      rateLimit: config.rateLimit,
      native: config.native,
      maxTcpConnections: config.tcpMaxConnections,
      maxTcpPerSource: config.tcpMaxPerSource,
      tcpMessageMs: config.tcpMessageTimeoutMs,
      tcpIdleMs: config.tcpIdleMs,
      tcpOutputBytes: config.tcpOutputBytes,
    })
    server.setData(this.store.data)
    this.unsubscribe = this.store.onChange((data) => {
      server.setData(data)
      logger.info('dns records changed', {names: data.names.size, version: data.version})
    })
    await server.start()
    this.limiter.start()
    this.server = server
    this.startedAt = new Date()
    const data = this.store.data
    logger.info('dns server listening', {
      addresses: server.addresses.join(' '),
      names: data.names.size,
      zones: data.zones.join(',') || '(none)',
      hostIp: `${this.hostIp.addresses.join(',')} (${this.hostIp.origin})`,
      upstreams:
        upstreams.length > 0
          ? `${this.upstreams.upstreams.join(',')} (${this.upstreams.origin})`
          : `none: other names REFUSED (${this.upstreams.origin})`,
      fastPath: server.fastPath,
      udpPath: server.udpPath,
    })
    if (server.udpPath !== 'native') {
      logger.warn('dns native answerer not used: the full path answers everything (slower)', {
        reason: server.nativeProblem ?? "Node's UDP socket handle is not as expected",
      })
    }
    if (config.workers > 0)
      logger.warn('dns.workers is ignored: the native answerer replaced the worker processes', {
        workers: config.workers,
      })
  }

  async stop(): Promise<void> {
    this.unsubscribe?.()
    this.limiter?.stop()
    this.hosts?.stop()
    await this.docker?.stop()
    await this.managers?.stop()
    await this.server?.stop()
    this.forwarder?.close()
    this.store.close()
  }

  /** What the server answers; `limit`: at most that many record rows (`recordCount` has them all). */
  report(limit?: number): RecordsReport {
    const data = this.store.data
    return {
      zones: [...data.zones],
      hostIp: this.hostIp,
      records: data.rows(limit),
      recordCount: data.rowCount(),
      conflicts: [...data.conflicts],
      docker: this.docker ? {...this.docker.status} : null,
      swarmManagers: this.managers ? {...this.managers.status} : null,
      hostsDirectory: this.config.hostsDirectory ?? null,
    }
  }
}

export interface RecordsReport {
  zones: string[]
  hostIp: HostIp
  records: RecordRow[]
  /** Every record row, also those left out of `records`. */
  recordCount: number
  conflicts: Conflict[]
  docker: DockerSourceStatus | null
  /** The manager source of `dns.swarmManagers`, when configured. */
  swarmManagers: DockerSourceStatus | null
  hostsDirectory: string | null
}

/** `watch`: connect, sync and follow events; else one sync, its error kept in the status. */
async function loadSource(source: DockerSource, watch: boolean): Promise<void> {
  if (watch) return source.start()
  try {
    await source.once()
  } catch (error) {
    source.status.lastError = errorMessage(error)
  }
}

/** `dns records`: what the server would answer now, with sources. */
export async function collectRecords(
  context: Context,
  options: {dockerHost?: string; docker?: boolean} = {},
): Promise<RecordsReport> {
  const config = {...context.config.dns, docker: options.docker ?? context.config.dns.docker}
  const service = new DnsService({
    config,
    logger: context.logger,
    connectDocker: config.docker ? dockerConnector(context, options.dockerHost) : undefined,
    connectManager: managerConnector(context, config),
  })
  try {
    await service.load(false)
    return service.report()
  } finally {
    await service.stop()
  }
}

/** Connects through the context first; after a failure, with a fresh client each time. */
export function dockerConnector(context: Context, dockerHost?: string): () => Promise<DockerConnection> {
  let first = true
  return async () => {
    if (first) {
      first = false
      if (!dockerHost) return context.docker()
    }
    const {connectDocker} = await import('../docker/client.js')
    return connectDocker(dockerHost ?? context.config.docker.host)
  }
}

/** `dns.swarmManagers`: the first address that answers as a Swarm manager; undefined when none is configured. */
export function managerConnector(
  context: Context,
  dns: DnsConfig = context.config.dns,
): (() => Promise<DockerConnection>) | undefined {
  const addresses = dns.swarmManagers
  if (!dns.docker || addresses.length === 0) return undefined
  return () => connectSwarmManager(addresses, context.config.docker.timeoutSeconds * 1000)
}
