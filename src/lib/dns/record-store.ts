import type {Logger} from '../log/logger.js'
import {
  addressFamily,
  ancestorIn,
  canonicalAddress,
  isSinkAddress,
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

/**
 * Blocklist names of one origin (hosts lines with the sink addresses `0.0.0.0` / `::`), already
 * normalised and checked: kept as bare strings, so a million-line list costs little more than its names.
 */
export interface SinkNames {
  a: string[]
  aaaa: string[]
}

/** What one origin contributes. */
export interface OriginData {
  records: SourceRecord[]
  sinks?: SinkNames
}

/** One name as served. */
export interface NameEntry {
  /** The name (empty in the entries blocklist names share: their name is the map key). */
  name: string
  a: string[]
  aaaa: string[]
  cname?: string
  ttl: number
  kind: SourceKind
  /** `docker:container/web`, `hosts:/etc/homeops/hosts/lan`, … */
  sources: string[]
  /** A blocklist name (only sink addresses; one shared entry per file and families). */
  sink?: boolean
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
  /** Zone apexes and the ancestors of names inside a served zone (empty non-terminals exist); names are in `names`. */
  readonly nodes: ReadonlySet<string>
  /** Reverse names → the names whose A/AAAA records point there. */
  readonly ptr: ReadonlyMap<string, string[]>
  /** Served zones, longest first. */
  readonly zones: readonly string[]
  readonly zoneSet: ReadonlySet<string>
  readonly conflicts: readonly Conflict[]
  /** The records as rows, the first `limit` of them (a blocklist has a million). */
  rows(limit?: number): RecordRow[]
  /** How many rows there are, without building them. */
  rowCount(kind?: SourceKind): number
}

export interface RecordStoreOptions {
  ttl: number
  /** Configured zones; empty: the parent domain of every record name. */
  zones?: string[]
  logger?: Logger
  /** Delay that merges bursts of changes into one rebuild (ms). */
  debounceMs?: number
  /**
   * The registrable domain of a name by the public suffix list (tldts), null for a public suffix;
   * derived zones never go above it. Absent: a derived zone is the name itself.
   */
  registrableDomain?: (name: string) => string | null
}

interface Origin {
  kind: SourceKind
  id: string
  records: SourceRecord[]
  sinks?: SinkNames
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
      if (before && sameRecords(before.records, records) && !before.sinks) return
      this.origins.set(key, {kind, id, records})
    }
    this.schedule()
  }

  /** Replaces every origin of one kind (a full resync). */
  replaceKind(kind: SourceKind, byId: Map<string, SourceRecord[] | OriginData>): void {
    let changed = false
    for (const [key, origin] of this.origins) {
      if (origin.kind === kind && !byId.has(origin.id)) {
        this.origins.delete(key)
        changed = true
      }
    }
    for (const [id, value] of byId) {
      const {records, sinks} = Array.isArray(value) ? {records: value, sinks: undefined} : value
      const key = `${kind}:${id}`
      const before = this.origins.get(key)
      if (records.length === 0 && !sinks?.a.length && !sinks?.aaaa.length) {
        if (before) {
          this.origins.delete(key)
          changed = true
        }
        continue
      }
      if (before && sameRecords(before.records, records) && sameSinks(before.sinks, sinks)) continue
      this.origins.set(key, {kind, id, records, sinks})
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

  /**
   * Blocklist names into `names`: one shared entry per origin and families, so a million names cost a
   * map slot each. A name another source defines too keeps the source order: a stronger one is left
   * alone, a weaker one is replaced, another hosts line adds the sink address to it.
   */
  private addSinks(origins: Origin[], names: Map<string, NameEntry>, ttl: number): void {
    for (const origin of origins) {
      if (!origin.sinks) continue
      const source = `${origin.kind}:${origin.id}`
      const shared: NameEntry[] = [1, 2, 3].map((bits) => ({
        name: '',
        a: bits & 1 ? ['0.0.0.0'] : [],
        aaaa: bits & 2 ? ['::'] : [],
        ttl,
        kind: origin.kind,
        sources: [source],
        sink: true,
      }))
      const rank = SOURCE_ORDER.indexOf(origin.kind)
      const add = (name: string, bit: 1 | 2) => {
        const before = names.get(name)
        if (!before || (!before.sink && SOURCE_ORDER.indexOf(before.kind) > rank)) {
          names.set(name, shared[bit - 1]!)
          return
        }
        if (before.sink) {
          const had = (before.a.length > 0 ? 1 : 0) | (before.aaaa.length > 0 ? 2 : 0)
          const bits = had | bit
          if (bits === had) return
          if (before.sources[0] === source) names.set(name, shared[bits - 1]!)
          else names.set(name, {...before, a: bits & 1 ? ['0.0.0.0'] : [], aaaa: bits & 2 ? ['::'] : []})
          return
        }
        if (before.kind !== origin.kind || before.cname) return
        const list = bit === 1 ? before.a : before.aaaa
        const address = bit === 1 ? '0.0.0.0' : '::'
        if (!list.includes(address)) list.push(address)
      }
      for (const name of origin.sinks.a) add(name, 1)
      for (const name of origin.sinks.aaaa) add(name, 2)
    }
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
        if (!kinds) byName.set(name, (kinds = new Map<SourceKind, {records: SourceRecord[]; sources: Set<string>}>()))
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

    this.addSinks(sortedOrigins, names, ttl)

    // Zones come from the names of labels and static records only: a hosts (blocklist) name never makes
    // the server authoritative for its parent.
    const zones = computeZones(
      this.options.zones ?? [],
      (function* () {
        for (const [name, entry] of names) if (entry.kind !== 'hosts') yield name
      })(),
      this.options.registrableDomain,
    )
    const zoneSet = new Set(zones)
    const nodes = new Set<string>(zones)
    if (zones.length > 0) {
      for (const name of names.keys()) {
        // Empty non-terminals: the ancestors of a name up to its zone (each walk stops at a known node).
        if (ancestorIn(name, zoneSet) === undefined) continue
        // A wildcard's base exists as an empty non-terminal; a name's own node is its entry.
        let node = isWildcard(name) ? name.slice(2) : parentName(name)
        while (node !== undefined && !nodes.has(node) && ancestorIn(node, zoneSet) !== undefined) {
          nodes.add(node)
          node = parentName(node)
        }
      }
    }

    // PTR for every address but the sinks (0.0.0.0 / ::: thousands of blocked names must not answer there).
    const ptr = new Map<string, string[]>()
    for (const [name, entry] of names) {
      if (entry.sink || isWildcard(name)) continue
      for (const address of [...entry.a, ...entry.aaaa]) {
        if (isSinkAddress(address)) continue
        const reverse = reverseName(address)
        const list = ptr.get(reverse)
        if (list) list.push(name)
        else ptr.set(reverse, [name])
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
      zoneSet,
      conflicts,
      rows(limit = Infinity) {
        const rows: RecordRow[] = []
        for (const [name, entry] of names) {
          if (rows.length >= limit) break
          const source = entry.sources.join(',')
          for (const value of entry.a) rows.push({name, type: 'A', value, ttl: entry.ttl, source})
          for (const value of entry.aaaa) rows.push({name, type: 'AAAA', value, ttl: entry.ttl, source})
          if (entry.cname) rows.push({name, type: 'CNAME', value: entry.cname, ttl: entry.ttl, source})
        }
        return rows.length > limit ? rows.slice(0, limit) : rows
      },
      rowCount(kind?: SourceKind) {
        let n = 0
        for (const entry of names.values())
          if (!kind || entry.kind === kind) n += entry.a.length + entry.aaaa.length + (entry.cname ? 1 : 0)
        return n
      },
    }
  }
}

function sameData(entry: NameEntry, record: SourceRecord): boolean {
  if (record.type === 'A') return entry.a.includes(record.value)
  if (record.type === 'AAAA') return entry.aaaa.includes(record.value)
  return entry.cname === record.value
}

function sameSinks(a: SinkNames | undefined, b: SinkNames | undefined): boolean {
  if (!a || !b) return !a?.a.length && !a?.aaaa.length && !b?.a.length && !b?.aaaa.length
  const same = (x: string[], y: string[]) => x.length === y.length && x.every((v, i) => v === y[i])
  return same(a.a, b.a) && same(a.aaaa, b.aaaa)
}

function sameRecords(a: SourceRecord[], b: SourceRecord[]): boolean {
  if (a.length !== b.length) return false
  return a.every((r, i) => r.name === b[i]!.name && r.type === b[i]!.type && r.value === b[i]!.value)
}

/**
 * Configured zones as given; otherwise, for every name, its parent domain, but never above the name's
 * registrable domain (public suffix list: `doubleclick.net` gives `doubleclick.net`, not `net`), and
 * the name itself for a single label; zones nested in another one are dropped. Linear in the names.
 */
export function computeZones(
  configured: string[],
  names: Iterable<string>,
  registrableDomain?: (name: string) => string | null,
): string[] {
  const set = new Set<string>()
  if (configured.length > 0) {
    for (const zone of configured) set.add(normalizeName(zone))
  } else {
    for (const name of names) {
      const base = isWildcard(name) ? name.slice(2) : name
      const parent = parentName(base)
      if (parent === undefined) {
        set.add(base)
        continue
      }
      const registrable = registrableDomain?.(base)
      // Without a list nothing is known about the parent: the name alone.
      set.add(registrable && (parent === registrable || parent.endsWith('.' + registrable)) ? parent : base)
    }
    for (const zone of [...set]) {
      const above = parentName(zone)
      if (above !== undefined && ancestorIn(above, set) !== undefined) set.delete(zone)
    }
    set.delete('')
  }
  return [...set].sort((a, b) => b.length - a.length || (a < b ? -1 : 1))
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
