import {HttpError, type Router, json} from '../http/router.js'
import type {MetricsRegistry} from '../metrics/registry.js'
import type {ModeHealth, ModeRuntime, ServiceMode} from '../serve/mode.js'
import {effectiveDnsPort} from './config.js'
import type {ForwarderStats, UpstreamHealth} from './forwarder.js'
import {ANSWER_BUCKETS, METRIC_RCODES, METRIC_TYPES} from './server.js'
import {type DnsConfig, DnsService, type RecordsReport, dockerConnector, managerConnector} from './service.js'

/** Record rows in `/snapshot` (the status page) at most; `/dns/records` has them all. */
const SNAPSHOT_ROWS = 5000

export interface DnsModeOptions {
  /** Flags of `dns serve` over the config's `dns` block. */
  overrides?: Partial<DnsConfig>
  /** `--docker-host`. */
  dockerHost?: string
  /** Store debounce in ms (tests). */
  debounceMs?: number
}

/** `/dns/records` in the original tool's shape, plus `type` and `source`. */
export interface JoyrideRecords {
  status: 'success'
  total_records: number
  records: {hostname: string; ip_address: string; ttl: number; type: string; source: string}[]
}

export interface DnsSnapshot extends RecordsReport {
  listening: string[]
  port: number
  upstreams: string[]
  /** `dns.upstreams`, or the resolv.conf they were read from. */
  upstreamsFrom: string
  fastPath: boolean
  /** How UDP is read and answered: `native` threads (the fast path), or `public` (dgram, the full path). */
  udpPath: string
  startedAt: string | null
  queries: {total: number; byRcode: Record<string, number>; byType: Record<string, number>}
  dropped: {malformed: number; rateLimited: number; tcpRejected: number; overloaded: number}
  forwarder: ForwarderStats | null
  /** Per upstream (`host:port`): failures since its last good answer. */
  upstreamHealth: Record<string, UpstreamHealth>
}

/**
 * The DNS server as a ServiceMode: standalone in `homeops dns serve`, or one
 * of the modes of `homeops serve` (routes under `/dns`).
 */
export function createDnsMode(options: DnsModeOptions = {}): ServiceMode & {
  service(): DnsService | undefined
  /** `/dns/records`'s answer, for the standalone server's root. */
  records(): ReturnType<typeof json>
} {
  let service: DnsService | undefined
  let version = 'dev'
  let lastError: string | undefined

  const need = (): DnsService => {
    if (!service?.server) throw new HttpError(503, {status: 'unhealthy', error: 'the DNS server is not running'})
    return service
  }

  const snapshot = (s: DnsService): DnsSnapshot => {
    const stats = s.server?.stats
    const byRcode: Record<string, number> = {}
    const byType: Record<string, number> = {}
    let total = 0
    if (stats) {
      stats.queries.forEach((value, i) => {
        if (value === 0) return
        const type = METRIC_TYPES[Math.floor(i / METRIC_RCODES.length)]!
        const rcode = METRIC_RCODES[i % METRIC_RCODES.length]!
        byRcode[rcode] = (byRcode[rcode] ?? 0) + value
        byType[type] = (byType[type] ?? 0) + value
        total += value
      })
    }
    return {
      // The status page lists the first rows; a million-line blocklist would make a 100 MB snapshot.
      ...s.report(SNAPSHOT_ROWS),
      listening: s.server?.addresses ?? [],
      port: s.server?.port ?? effectiveDnsPort(s.config.port),
      upstreams: s.upstreams.upstreams,
      upstreamsFrom: s.upstreams.origin,
      fastPath: s.server?.fastPath ?? false,
      udpPath: s.server?.udpPath ?? 'none',
      startedAt: s.startedAt?.toISOString() ?? null,
      queries: {total, byRcode, byType},
      dropped: {...(stats?.dropped ?? {malformed: 0, rateLimited: 0, tcpRejected: 0, overloaded: 0})},
      forwarder: s.forwarder ? {...s.forwarder.stats} : null,
      upstreamHealth: s.forwarder ? Object.fromEntries(s.forwarder.upstreamHealth) : {},
    }
  }

  const records = () => {
    const rows = need().store.data.rows()
    const body: JoyrideRecords = {
      status: 'success',
      total_records: rows.length,
      records: rows.map((r) => ({hostname: r.name, ip_address: r.value, ttl: r.ttl, type: r.type, source: r.source})),
    }
    return json(body)
  }

  return {
    name: 'dns',
    service: () => service,
    records,

    routes(router: Router) {
      router.get('/health', () => {
        const up = Boolean(service?.server)
        return json(
          {
            status: up ? 'healthy' : 'unhealthy',
            timestamp: new Date().toISOString(),
            service: 'homeops dns',
            version,
          },
          up ? 200 : 503,
        )
      })
      router.get('/status', () => {
        const s = need()
        const config = s.config
        const uptime = s.startedAt ? Math.round((Date.now() - s.startedAt.getTime()) / 1000) : 0
        return json({
          status: 'running',
          timestamp: new Date().toISOString(),
          service: 'homeops dns',
          version,
          environment: process.env.NODE_ENV ?? 'production',
          dns_server: {port: s.server!.port, bind_address: config.bind, running: true, listening: s.server!.addresses},
          docker_monitor: {running: Boolean(s.docker?.status.running), ...(s.docker ? {...s.docker.status} : {})},
          swarm_managers: s.managers ? {...s.managers.status} : null,
          hosts_monitor: {
            enabled: Boolean(s.hosts),
            directory: config.hostsDirectory ?? null,
            running: Boolean(s.hosts?.running),
            records_count: s.store.data.rowCount('hosts'),
          },
          uptime: `${uptime}s`,
          uptime_seconds: uptime,
          zones: s.store.data.zones,
          host_ip: s.hostIp,
        })
      })
      // `/records` here: `/dns/records` in `homeops serve` (`/<mode>/<route>`, as every mode); `dns serve` adds the
      // original tool's `/dns/records` at its root itself.
      router.get('/records', records)
      router.get('/snapshot', () => json(snapshot(need())))
    },

    async start(runtime: ModeRuntime) {
      const {context} = runtime
      version = context.version
      const config: DnsConfig = {...context.config.dns, ...stripUndefined(options.overrides ?? {})}
      const s = new DnsService({
        config,
        logger: context.logger.child({mode: 'dns'}),
        connectDocker: config.docker ? dockerConnector(context, options.dockerHost) : undefined,
        connectManager: managerConnector(context, config),
        debounceMs: options.debounceMs,
      })
      try {
        await s.load(true)
        await s.serve()
      } catch (error) {
        await s.stop().catch(() => undefined)
        lastError = error instanceof Error ? error.message : String(error)
        throw error
      }
      service = s
      lastError = undefined
      registerMetrics(runtime.metrics, () => service)
    },

    async stop() {
      const s = service
      service = undefined
      await s?.stop()
    },

    health(): ModeHealth {
      if (service?.server) {
        const docker = service.docker?.status
        if (docker && !docker.connected)
          return {up: true, detail: `answering; Docker not connected (${docker.lastError ?? 'reconnecting'})`}
        const managers = service.managers?.status
        if (managers && !managers.connected)
          return {up: true, detail: `answering; no Swarm manager connected (${managers.lastError ?? 'reconnecting'})`}
        return {
          up: true,
          detail: `answering ${service.store.data.names.size} names on ${service.server.addresses.join(' ')}`,
        }
      }
      return {up: false, detail: lastError ?? 'not started'}
    },

    async snapshot() {
      return service ? snapshot(service) : {}
    },
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

function registerMetrics(metrics: MetricsRegistry, current: () => DnsService | undefined): void {
  metrics.collectedCounter('homeops_dns_queries_total', 'DNS queries answered, by query type and rcode', () => {
    const stats = current()?.server?.stats
    if (!stats) return []
    const out: {labels: Record<string, string>; value: number}[] = []
    stats.queries.forEach((value, i) => {
      if (value === 0) return
      out.push({
        labels: {
          type: METRIC_TYPES[Math.floor(i / METRIC_RCODES.length)]!,
          rcode: METRIC_RCODES[i % METRIC_RCODES.length]!,
        },
        value,
      })
    })
    return out
  })
  metrics.collectedHistogram(
    'homeops_dns_answer_seconds',
    'Time from receiving a DNS query to sending its answer',
    ANSWER_BUCKETS,
    () => {
      const stats = current()?.server?.stats
      return stats ? [{counts: stats.cumulative(), sum: stats.answerSum, count: stats.answerCount}] : []
    },
  )
  metrics.collectedCounter('homeops_dns_dropped_total', 'DNS packets dropped without an answer, by reason', () => {
    const stats = current()?.server?.stats
    if (!stats) return []
    return [
      {labels: {reason: 'malformed'}, value: stats.dropped.malformed},
      {labels: {reason: 'rate_limited'}, value: stats.dropped.rateLimited},
      {labels: {reason: 'tcp_connection_limit'}, value: stats.dropped.tcpRejected},
      {labels: {reason: 'overloaded'}, value: stats.dropped.overloaded},
    ]
  })
  metrics.collectedGauge('homeops_dns_names', 'Names the DNS server answers for, by winning source kind', () => {
    const data = current()?.store.data
    if (!data) return []
    const counts = new Map<string, number>()
    for (const entry of data.names.values()) counts.set(entry.kind, (counts.get(entry.kind) ?? 0) + 1)
    return [...counts].map(([source, value]) => ({labels: {source}, value}))
  })
  metrics.collectedCounter('homeops_dns_forwarded_total', 'Queries sent to upstream resolvers', () => {
    const f = current()?.forwarder
    return f ? [{value: f.stats.forwarded}] : []
  })
  metrics.collectedCounter('homeops_dns_cache_hits_total', 'Forwarded questions answered from the cache', () => {
    const s = current()
    const f = s?.forwarder
    if (!f) return []
    const native = s.server?.stats.nativeCacheHits ?? 0
    return [
      {labels: {path: 'native'}, value: native},
      {labels: {path: 'full'}, value: f.stats.cacheHits},
    ]
  })
  metrics.collectedGauge('homeops_dns_forward_inflight', 'Questions forwarded upstream and not answered yet', () => {
    const f = current()?.forwarder
    return f ? [{value: f.stats.inflight}] : []
  })
  metrics.collectedGauge(
    'homeops_dns_forward_max',
    'Questions forwarded at the same time at most (dns.forwardMax)',
    () => {
      const f = current()?.forwarder
      return f ? [{value: f.forwardMax}] : []
    },
  )
  metrics.collectedCounter(
    'homeops_dns_forward_refused_total',
    'Forwarded questions answered SERVFAIL without asking, by reason',
    () => {
      const f = current()?.forwarder
      return f ? [{labels: {reason: 'forward_max'}, value: f.stats.overMax}] : []
    },
  )
  metrics.collectedCounter('homeops_dns_upstream_rejected_total', 'Upstream answers not usable (malformed)', () => {
    const f = current()?.forwarder
    return f ? [{value: f.stats.rejected}] : []
  })
  metrics.collectedGauge('homeops_dns_cache_entries', 'Forwarded answers cached', () => {
    const f = current()?.forwarder
    return f ? [{value: f.stats.cached}] : []
  })
  metrics.collectedGauge('homeops_dns_cache_bytes', 'Bytes of forwarded answers cached (bound: dns.cacheBytes)', () => {
    const f = current()?.forwarder
    return f ? [{value: f.stats.cacheBytes}] : []
  })
  metrics.collectedGauge('homeops_dns_tcp_connections', 'Open DNS TCP connections', () => {
    const server = current()?.server
    return server ? [{value: server.tcpConnections}] : []
  })
  metrics.collectedCounter('homeops_dns_tcp_closed_total', 'DNS TCP connections closed by a bound, by reason', () => {
    const stats = current()?.server?.stats
    if (!stats) return []
    return [
      {labels: {reason: 'per_source_limit'}, value: stats.tcpClosed.perSource},
      {labels: {reason: 'message_timeout'}, value: stats.tcpClosed.messageTimeout},
      {labels: {reason: 'idle'}, value: stats.tcpClosed.idle},
      {labels: {reason: 'output_limit'}, value: stats.tcpClosed.outputLimit},
    ]
  })
}
