import type {Logger} from '../log/logger.js'
import {
  addressFamily,
  canonicalAddress,
  inZone,
  isWildcard,
  nameProblem,
  normalizeName,
  parentName,
  reverseName,
} from './names.js'

/**
 * Where records come from, strongest first: when two kinds of source define
 * the same name, the earlier kind wins and the other's records for that name
 * are ignored (logged once). Within one kind, records for a name add up
 * (two hosts-file lines with different addresses give two A records).
 */
export const SOURCE_ORDER = ['static', 'hosts', 'swarm', 'docker'] as const
export type SourceKind = (typeof SOURCE_ORDER)[number]

export interface SourceRecord {
  name: string
  type: 'A' | 'AAAA' | 'CNAME'
  /** An address (A/AAAA) or a target name (CNAME). */
  value: string
}

/** One name as served. */
export interface NameEntry {
  name: string
  a: string[]
  aaaa: string[]
  cname?: string
  ttl: number
  kind: SourceKind
  /** `docker:container/web`, `hosts:/etc/homeops/hosts/lan`, … */
  sources: string[]
}

/** A row of `dns records` and `/dns/records`. */
export interface RecordRow {
  name: string
  type: 'A' | 'AAAA' | 'CNAME'
  value: string
  ttl: number
  source: string
}

export interface Conflict {
  name: string
  winner: string
  ignored: string
}

/** The compiled, read-only view the server answers from. */
export interface ZoneData {
  readonly version: number
  readonly serial: number
  readonly ttl: number
  /** Exact names, wildcards included as `*.suffix`. */
  readonly names: ReadonlyMap<string, NameEntry>
  /** Every name and every ancestor of one inside a served zone (empty non-terminals exist). */
  readonly nodes: ReadonlySet<string>
  /** Reverse names → the names whose A/AAAA records point there. */
  readonly ptr: ReadonlyMap<string, string[]>
  /** Served zones, longest first. */
  readonly zones: readonly string[]
  readonly conflicts: readonly Conflict[]
  rows(): RecordRow[]
}

export interface RecordStoreOptions {
  ttl: number
  /** Configured zones; empty: the parent domain of every record name. */
  zones?: string[]
  logger?: Logger
  /** Delay that merges bursts of changes into one rebuild (ms). */
  debounceMs?: number
}

interface Origin {
  kind: SourceKind
  id: string
  records: SourceRecord[]
}

/**
 * Every source's records, merged into one `ZoneData` that is rebuilt (and
 * handed to listeners) when a source changes.
 */
export class RecordStore {
  private readonly origins = new Map<string, Origin>()
  private readonly listeners = new Set<(data: ZoneData) => void>()
  private readonly loggedConflicts = new Set<string>()
  private readonly loggedInvalid = new Set<string>()
  private current: ZoneData
  private version = 0
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly options: RecordStoreOptions) {
    this.current = this.build()
  }

  get data(): ZoneData {
    return this.current
  }

  onChange(listener: (data: ZoneData) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Replaces the records of one origin (a container, a file, …); an empty list removes it. */
  set(kind: SourceKind, id: string, records: SourceRecord[]): void {
    const key = `${kind}:${id}`
    const before = this.origins.get(key)
    if (records.length === 0) {
      if (!before) return
      this.origins.delete(key)
    } else {
      if (before && sameRecords(before.records, records)) return
      this.origins.set(key, {kind, id, records})
    }
    this.schedule()
  }

  /** Replaces every origin of one kind (a full resync). */
  replaceKind(kind: SourceKind, byId: Map<string, SourceRecord[]>): void {
    let changed = false
    for (const [key, origin] of this.origins) {
      if (origin.kind === kind && !byId.has(origin.id)) {
        this.origins.delete(key)
        changed = true
      }
    }
    for (const [id, records] of byId) {
      const key = `${kind}:${id}`
      const before = this.origins.get(key)
      if (records.length === 0) {
        if (before) {
          this.origins.delete(key)
          changed = true
        }
        continue
      }
      if (before && sameRecords(before.records, records)) continue
      this.origins.set(key, {kind, id, records})
      changed = true
    }
    if (changed) this.schedule()
  }

  /** Origins of one kind, for status. */
  count(kind: SourceKind): number {
    let n = 0
    for (const origin of this.origins.values()) if (origin.kind === kind) n++
    return n
  }

  /** Rebuilds now (tests, start-up) instead of after the debounce. */
  flush(): ZoneData {
    if (this.timer) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    this.current = this.build()
    for (const listener of this.listeners) listener(this.current)
    return this.current
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.listeners.clear()
  }

  private schedule(): void {
    if (this.timer) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.flush()
    }, this.options.debounceMs ?? 50)
    this.timer.unref?.()
  }

  private build(): ZoneData {
    const ttl = this.options.ttl
    const logger = this.options.logger
    // name → kind → {records, sources}
    const byName = new Map<string, Map<SourceKind, {records: SourceRecord[]; sources: Set<string>}>>()
    const sortedOrigins = [...this.origins.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    for (const origin of sortedOrigins) {
      for (const record of origin.records) {
        const name = normalizeName(record.name)
        const problem = nameProblem(name)
        const value = record.type === 'CNAME' ? normalizeName(record.value) : canonicalAddress(record.value.trim())
        const valueProblem =
          record.type === 'CNAME'
            ? nameProblem(value)
            : addressFamily(value) !== (record.type === 'A' ? 4 : 6)
              ? `"${record.value}" is not an IPv${record.type === 'A' ? 4 : 6} address`
              : undefined
        if (problem || valueProblem) {
          const key = `${origin.kind}:${origin.id}:${record.name}:${record.value}`
          if (!this.loggedInvalid.has(key)) {
            this.loggedInvalid.add(key)
            logger?.warn('dns record ignored', {
              name: record.name,
              source: `${origin.kind}:${origin.id}`,
              reason: problem ?? valueProblem,
            })
          }
          continue
        }
        let kinds = byName.get(name)
        if (!kinds) byName.set(name, (kinds = new Map()))
        let slot = kinds.get(origin.kind)
        if (!slot) kinds.set(origin.kind, (slot = {records: [], sources: new Set()}))
        slot.records.push({name, type: record.type, value})
        slot.sources.add(`${origin.kind}:${origin.id}`)
      }
    }

    const names = new Map<string, NameEntry>()
    const conflicts: Conflict[] = []
    for (const [name, kinds] of [...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const winnerKind = SOURCE_ORDER.find((k) => kinds.has(k))!
      const winner = kinds.get(winnerKind)!
      const entry: NameEntry = {name, a: [], aaaa: [], ttl, kind: winnerKind, sources: [...winner.sources]}
      const cnames: string[] = []
      for (const record of winner.records) {
        if (record.type === 'A' && !entry.a.includes(record.value)) entry.a.push(record.value)
        else if (record.type === 'AAAA' && !entry.aaaa.includes(record.value)) entry.aaaa.push(record.value)
        else if (record.type === 'CNAME' && !cnames.includes(record.value)) cnames.push(record.value)
      }
      if (cnames.length > 0) {
        if (entry.a.length > 0 || entry.aaaa.length > 0) {
          conflicts.push({name, winner: `${winnerKind} addresses`, ignored: `CNAME ${cnames.join(',')}`})
        } else {
          entry.cname = cnames[0]
          if (cnames.length > 1)
            conflicts.push({name, winner: `CNAME ${cnames[0]}`, ignored: `CNAME ${cnames.slice(1).join(',')}`})
        }
      }
      for (const kind of SOURCE_ORDER) {
        if (kind === winnerKind || !kinds.has(kind)) continue
        const other = kinds.get(kind)!
        if (other.records.every((r) => sameData(entry, r))) continue
        conflicts.push({name, winner: entry.sources.join(','), ignored: [...other.sources].join(',')})
      }
      names.set(name, entry)
    }

    for (const conflict of conflicts) {
      const key = `${conflict.name}|${conflict.winner}|${conflict.ignored}`
      if (this.loggedConflicts.has(key)) continue
      this.loggedConflicts.add(key)
      logger?.warn('dns name defined by several sources; the stronger one wins', {
        name: conflict.name,
        served: conflict.winner,
        ignored: conflict.ignored,
      })
    }

    const zones = computeZones(this.options.zones ?? [], names.keys())
    const nodes = new Set<string>()
    for (const name of names.keys()) {
      let node: string | undefined = isWildcard(name) ? name.slice(2) : name
      nodes.add(name)
      while (node !== undefined && zones.some((z) => inZone(node!, z))) {
        nodes.add(node)
        node = parentName(node)
      }
    }
    for (const zone of zones) nodes.add(zone)

    const ptr = new Map<string, string[]>()
    for (const entry of names.values()) {
      if (isWildcard(entry.name)) continue
      for (const address of [...entry.a, ...entry.aaaa]) {
        const reverse = reverseName(address)
        const list = ptr.get(reverse)
        if (list) list.push(entry.name)
        else ptr.set(reverse, [entry.name])
      }
    }

    this.version++
    const serial = Math.floor(Date.now() / 1000)
    return {
      version: this.version,
      serial,
      ttl,
      names,
      nodes,
      ptr,
      zones,
      conflicts,
      rows() {
        const rows: RecordRow[] = []
        for (const entry of names.values()) {
          const source = entry.sources.join(',')
          for (const value of entry.a) rows.push({name: entry.name, type: 'A', value, ttl: entry.ttl, source})
          for (const value of entry.aaaa) rows.push({name: entry.name, type: 'AAAA', value, ttl: entry.ttl, source})
          if (entry.cname) rows.push({name: entry.name, type: 'CNAME', value: entry.cname, ttl: entry.ttl, source})
        }
        return rows
      },
    }
  }
}

function sameData(entry: NameEntry, record: SourceRecord): boolean {
  if (record.type === 'A') return entry.a.includes(record.value)
  if (record.type === 'AAAA') return entry.aaaa.includes(record.value)
  return entry.cname === record.value
}

function sameRecords(a: SourceRecord[], b: SourceRecord[]): boolean {
  if (a.length !== b.length) return false
  return a.every((r, i) => r.name === b[i]!.name && r.type === b[i]!.type && r.value === b[i]!.value)
}

/**
 * Configured zones as given; otherwise the parent domain of every name (the
 * name itself for a single label), with zones nested in another one dropped.
 */
export function computeZones(configured: string[], names: Iterable<string>): string[] {
  const set = new Set<string>()
  if (configured.length > 0) {
    for (const zone of configured) set.add(normalizeName(zone))
  } else {
    for (const name of names) {
      const base = isWildcard(name) ? name.slice(2) : name
      set.add(parentName(base) ?? base)
    }
    for (const zone of [...set]) {
      for (const other of set) {
        if (other !== zone && inZone(zone, other)) {
          set.delete(zone)
          break
        }
      }
    }
  }
  return [...set].filter(Boolean).sort((a, b) => b.length - a.length || (a < b ? -1 : 1))
}

/** Records from a value such as `10.0.0.5`, `10.0.0.5,fd00::5` or `app.home.lan` (a CNAME). */
export function recordsFromValue(name: string, value: string): SourceRecord[] {
  const out: SourceRecord[] = []
  for (const part of value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const family = addressFamily(part)
    if (family === 4) out.push({name, type: 'A', value: part})
    else if (family === 6) out.push({name, type: 'AAAA', value: part})
    else out.push({name, type: 'CNAME', value: part})
  }
  return out
}
