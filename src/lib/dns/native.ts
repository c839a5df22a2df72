/**
 * The native UDP answerer (native/udp_answerer.c), the one fast path: a
 * thread per socket that reads datagrams in batches (recvmmsg), answers the
 * plain queries from the table (owned names pre-encoded by dns2, forwarded
 * answers from the cache with their TTLs counted down, blocklist names) and
 * sends the answers in batches (sendmmsg). What it does not answer comes back
 * to JavaScript untouched and takes the full path. Built by `npm run build`
 * (node-gyp); when the addon is missing or Node's socket internals are not
 * what it expects, the full path answers everything.
 */
import type dgram from 'node:dgram'
import {existsSync} from 'node:fs'
import {createRequire} from 'node:module'
import {fileURLToPath} from 'node:url'

import type {DnsStatsJson, HotEntry} from './stats.js'

declare const tableBrand: unique symbol
declare const answererBrand: unique symbol
type NativeTableHandle = {readonly [tableBrand]: true}
type NativeAnswererHandle = {readonly [answererBrand]: true}
/** [key (latin1 bytes of the table key), plain, edns, question length, metric index] */
type NativeEntry = [Buffer, Buffer, Buffer, number, number]

/** Blocklist names answered A 0.0.0.0 / AAAA :: by the thread: `[bits][length][wire name]…`. */
export interface NativeSinks {
  names: Buffer
  ttl: number
  ra: number
  metricA: number
  metricAaaa: number
}

interface Addon {
  createTable(): NativeTableHandle
  /** Returns how many entries were skipped as not well-formed (never throws for one). */
  setTable(table: NativeTableHandle, entries: NativeEntry[], sinks?: NativeSinks): number
  putForward(
    table: NativeTableHandle,
    entry: NativeEntry,
    ttlOffsets: Buffer,
    ttlSeconds: number,
    noDo: boolean,
  ): boolean
  /** An empty key forgets every forwarded answer. */
  deleteForward(table: NativeTableHandle, key: Buffer): void
  addDynamic(table: NativeTableHandle, entry: NativeEntry, max: number): void
  open(
    fd: number,
    table: NativeTableHandle,
    options: {maxUdp: number; perSource: number; maxSources: number},
    onMiss: (msg: Buffer, address: string, port: number) => void,
  ): NativeAnswererHandle
  close(answerer: NativeAnswererHandle): void
  takeStats(answerer: NativeAnswererHandle): DnsStatsJson & {cacheHits: number}
}

const ADDON_PATH = fileURLToPath(new URL('../../../native/build/Release/homeops_dns.node', import.meta.url))

let loaded: {addon?: Addon; error?: string} | undefined

/** The addon, or why it is not available (not built, another platform, a load error). */
export function nativeAddon(): {addon?: Addon; error?: string} {
  if (loaded) return loaded
  if (process.platform !== 'linux') loaded = {error: `not available on ${process.platform}`}
  else if (!existsSync(ADDON_PATH)) loaded = {error: `not built (${ADDON_PATH} is missing; run npm run build)`}
  else {
    try {
      loaded = {addon: createRequire(import.meta.url)(ADDON_PATH) as Addon}
    } catch (error) {
      loaded = {error: `cannot load ${ADDON_PATH}: ${error instanceof Error ? error.message : String(error)}`}
    }
  }
  return loaded
}

const toEntry = (key: string, e: HotEntry): NativeEntry => [
  Buffer.from(key, 'latin1'),
  e.plain,
  e.edns,
  e.questionLength,
  e.metric,
]

/** The answers the native threads serve; shared by every socket of a server. */
export class NativeTable {
  readonly handle: NativeTableHandle

  constructor(private readonly addon: Addon) {
    this.handle = addon.createTable()
  }

  /**
   * Every pre-encoded answer and the blocklist names at once, replacing all; where both maps hold a key,
   * `table` wins. Returns how many entries the addon refused (not well-formed; the full path answers them).
   */
  set(table: Map<string, HotEntry>, dynamic?: Map<string, HotEntry>, sinks?: NativeSinks): number {
    const entries: NativeEntry[] = []
    for (const [key, entry] of dynamic ?? []) entries.push(toEntry(key, entry))
    for (const [key, entry] of table) entries.push(toEntry(key, entry))
    return this.addon.setTable(this.handle, entries, sinks)
  }

  /** A forwarded answer the cache holds (DO-less queries only when `noDo`); TTLs at `ttlOffsets` count down. */
  putForward(key: Buffer, entry: HotEntry, ttlOffsets: number[], ttlSeconds: number, noDo: boolean): boolean {
    const offsets = Buffer.alloc(ttlOffsets.length * 2)
    ttlOffsets.forEach((o, i) => offsets.writeUInt16BE(o, i * 2))
    return this.addon.putForward(
      this.handle,
      [key, entry.plain, entry.edns, entry.questionLength, entry.metric],
      offsets,
      ttlSeconds,
      noDo,
    )
  }

  /** The cache evicted `key` (an empty buffer: everything). */
  deleteForward(key: Buffer): void {
    this.addon.deleteForward(this.handle, key)
  }

  /** One answer encoded on demand; the native side starts over at `max`, as the server's dynamic map does. */
  addDynamic(key: string, entry: HotEntry, max: number): void {
    this.addon.addDynamic(this.handle, toEntry(key, entry), max)
  }
}

export interface NativeAnswerer {
  /** Counters since the last call (`cacheHits`: forwarded answers sent from the cache). */
  takeStats(): DnsStatsJson & {cacheHits: number}
  /** Stops the thread; call before closing the socket. */
  close(): void
}

interface UdpHandle {
  fd?: unknown
  recvStop?: () => number
  recvStart?: () => number
}

/**
 * Moves reading `socket` (bound) from libuv to a native thread. Undefined,
 * changing nothing, when the addon or the handle is not available. Sends
 * through the socket (`socket.send`) keep working; misses are answered there.
 */
export function attachNative(
  socket: dgram.Socket,
  table: NativeTable,
  options: {maxUdp: number; perSource: number; maxSources?: number},
  onMiss: (msg: Buffer, address: string, port: number) => void,
): NativeAnswerer | undefined {
  const {addon} = nativeAddon()
  if (!addon) return undefined
  const handle = socketHandle(socket) as UdpHandle | undefined
  if (
    !handle ||
    typeof handle.fd !== 'number' ||
    handle.fd < 0 ||
    typeof handle.recvStop !== 'function' ||
    typeof handle.recvStart !== 'function'
  ) {
    return undefined
  }
  if (handle.recvStop() !== 0) return undefined
  let answerer: NativeAnswererHandle
  try {
    answerer = addon.open(
      handle.fd,
      table.handle,
      {maxUdp: options.maxUdp, perSource: options.perSource, maxSources: options.maxSources ?? 10_000},
      onMiss,
    )
  } catch {
    handle.recvStart() // libuv reads the socket again
    return undefined
  }
  let open = true
  return {
    takeStats: () => addon.takeStats(answerer),
    close: () => {
      if (!open) return
      open = false
      addon.close(answerer)
    },
  }
}

/**
 * The libuv handle (Node's internal UDPWrap) behind a bound dgram socket, kept under the socket's
 * `state symbol`; undefined when Node keeps it elsewhere. Its methods are checked before use.
 */
function socketHandle(socket: dgram.Socket): unknown {
  const symbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol')
  const state = symbol ? (socket as unknown as Record<symbol, {handle?: unknown} | undefined>)[symbol] : undefined
  return state?.handle
}
