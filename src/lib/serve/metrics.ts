import type {MetricsRegistry} from '../metrics/registry.js'

/**
 * Process metrics every Prometheus exporter has (`process_*`, `nodejs_*`) and
 * `homeops_up` / `homeops_build_info`, rendered after the registry's families.
 * Counters that are read at scrape time (CPU seconds) are rendered here because
 * the registry's collected families are gauges.
 */
export function registerProcessMetrics(registry: MetricsRegistry, version: string, startedAt: number): () => string {
  registry.collectedGauge('homeops_up', 'Whether homeops serve is running (always 1 when scraped)', () => [{value: 1}])
  registry.collectedGauge('homeops_build_info', 'The homeops version and Node.js version', () => [
    {labels: {version, node: process.version}, value: 1},
  ])
  registry.collectedGauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds', () => [
    {value: Math.round(startedAt / 1000)},
  ])
  registry.collectedGauge('process_resident_memory_bytes', 'Resident memory size in bytes', () => [
    {value: process.memoryUsage.rss()},
  ])
  registry.collectedGauge('nodejs_heap_size_used_bytes', 'Used V8 heap in bytes', () => [
    {value: process.memoryUsage().heapUsed},
  ])
  registry.collectedGauge('nodejs_active_handles', 'Active libuv handles (sockets, timers, child processes)', () => [
    {value: activeHandles()},
  ])
  return () => {
    const usage = process.cpuUsage()
    return [
      '# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds',
      '# TYPE process_cpu_seconds_total counter',
      `process_cpu_seconds_total ${(usage.user + usage.system) / 1e6}`,
      '# HELP process_cpu_user_seconds_total Total user CPU time spent in seconds',
      '# TYPE process_cpu_user_seconds_total counter',
      `process_cpu_user_seconds_total ${usage.user / 1e6}`,
      '# HELP process_cpu_system_seconds_total Total system CPU time spent in seconds',
      '# TYPE process_cpu_system_seconds_total counter',
      `process_cpu_system_seconds_total ${usage.system / 1e6}`,
      '',
    ].join('\n')
  }
}

function activeHandles(): number {
  const info = (process as unknown as {getActiveResourcesInfo?: () => string[]}).getActiveResourcesInfo
  return info ? info().length : 0
}
