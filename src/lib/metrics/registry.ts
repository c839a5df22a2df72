/**
 * Prometheus metrics in memory, rendered in the text exposition format
 * (version 0.0.4). Small on purpose: counters, gauges and histograms with
 * labels are all `/metrics` needs; prom-client would cost start-up time.
 */
export type Labels = Record<string, string>

type Kind = 'counter' | 'gauge' | 'histogram'

interface Family {
  name: string
  help: string
  kind: Kind
  buckets?: number[]
  series: Map<string, {labels: Labels; value: number; counts?: number[]; sum?: number}>
  /** Gauges computed at scrape time. */
  collect?: () => {labels?: Labels; value: number}[]
  /** Histograms whose counts are kept elsewhere and read at scrape time. */
  collectHistogram?: () => CollectedHistogram[]
}

/** Cumulative counts per bucket (same order as the family's buckets), sum and count. */
export interface CollectedHistogram {
  labels?: Labels
  counts: ArrayLike<number>
  sum: number
  count: number
}

export interface Counter {
  inc(labels?: Labels, by?: number): void
}
export interface Gauge {
  set(value: number, labels?: Labels): void
}
export interface Histogram {
  observe(value: number, labels?: Labels): void
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/

export class MetricsRegistry {
  private readonly families = new Map<string, Family>()

  counter(name: string, help: string): Counter {
    const family = this.family(name, help, 'counter')
    return {inc: (labels = {}, by = 1) => void (this.series(family, labels).value += by)}
  }

  gauge(name: string, help: string): Gauge {
    const family = this.family(name, help, 'gauge')
    return {set: (value, labels = {}) => void (this.series(family, labels).value = value)}
  }

  /** A gauge whose values are read when scraped (container CPU, stacks by status). */
  collectedGauge(name: string, help: string, collect: () => {labels?: Labels; value: number}[]): void {
    this.family(name, help, 'gauge').collect = collect
  }

  /** A counter whose values are read when scraped (hot paths that count in plain arrays). */
  collectedCounter(name: string, help: string, collect: () => {labels?: Labels; value: number}[]): void {
    this.family(name, help, 'counter').collect = collect
  }

  /** A histogram whose bucket counts are kept by the caller (sorted `buckets`, cumulative counts). */
  collectedHistogram(name: string, help: string, buckets: number[], collect: () => CollectedHistogram[]): void {
    const family = this.family(name, help, 'histogram')
    family.buckets = [...buckets]
    family.collectHistogram = collect
  }

  histogram(name: string, help: string, buckets: number[]): Histogram {
    const family = this.family(name, help, 'histogram')
    family.buckets = [...buckets].sort((a, b) => a - b)
    return {
      observe: (value, labels = {}) => {
        const s = this.series(family, labels)
        s.counts ??= family.buckets!.map(() => 0)
        family.buckets!.forEach((bound, i) => {
          if (value <= bound) s.counts![i]!++
        })
        s.sum = (s.sum ?? 0) + value
        s.value++
      },
    }
  }

  render(): string {
    const lines: string[] = []
    for (const family of this.families.values()) {
      lines.push(`# HELP ${family.name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`)
      lines.push(`# TYPE ${family.name} ${family.kind}`)
      if (family.collect) {
        for (const {labels = {}, value} of family.collect())
          lines.push(`${family.name}${formatLabels(labels)} ${formatNumber(value)}`)
        continue
      }
      if (family.collectHistogram) {
        for (const h of family.collectHistogram()) {
          const labels = h.labels ?? {}
          family.buckets!.forEach((bound, i) => {
            lines.push(`${family.name}_bucket${formatLabels({...labels, le: formatNumber(bound)})} ${h.counts[i] ?? 0}`)
          })
          lines.push(`${family.name}_bucket${formatLabels({...labels, le: '+Inf'})} ${h.count}`)
          lines.push(`${family.name}_sum${formatLabels(labels)} ${formatNumber(h.sum)}`)
          lines.push(`${family.name}_count${formatLabels(labels)} ${h.count}`)
        }
        continue
      }
      for (const s of family.series.values()) {
        if (family.kind !== 'histogram') {
          lines.push(`${family.name}${formatLabels(s.labels)} ${formatNumber(s.value)}`)
          continue
        }
        family.buckets!.forEach((bound, i) => {
          lines.push(
            `${family.name}_bucket${formatLabels({...s.labels, le: formatNumber(bound)})} ${s.counts?.[i] ?? 0}`,
          )
        })
        lines.push(`${family.name}_bucket${formatLabels({...s.labels, le: '+Inf'})} ${s.value}`)
        lines.push(`${family.name}_sum${formatLabels(s.labels)} ${formatNumber(s.sum ?? 0)}`)
        lines.push(`${family.name}_count${formatLabels(s.labels)} ${s.value}`)
      }
    }
    return lines.join('\n') + '\n'
  }

  private family(name: string, help: string, kind: Kind): Family {
    if (!NAME.test(name)) throw new Error(`invalid metric name ${name}`)
    const existing = this.families.get(name)
    if (existing) return existing
    const family: Family = {name, help, kind, series: new Map()}
    this.families.set(name, family)
    return family
  }

  private series(family: Family, labels: Labels) {
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)))
    let s = family.series.get(key)
    if (!s) {
      s = {labels, value: 0}
      family.series.set(key, s)
    }
    return s
  }
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels)
  if (entries.length === 0) return ''
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}
