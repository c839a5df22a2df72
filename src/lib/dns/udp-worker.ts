/**
 * A worker process of `dns serve` (`dns.workers`): it shares the server's UDP
 * sockets and answers what the pre-encoded table holds (on a native thread
 * when the addon is built, else on the JS hot path); anything else goes back
 * to the main process, which owns the full path. Started by workers.ts.
 */
import type dgram from 'node:dgram'
import {performance} from 'node:perf_hooks'

import {DnsStats, type HotEntry, answerFast, attachRaw} from './hot-path.js'
import {type NativeAnswerer, NativeTable, attachNative, nativeAddon} from './native.js'
import {RateLimiter} from './rate-limit.js'
import type {ToParent, ToWorker} from './workers.js'

let table = new Map<string, HotEntry>()
let maxUdp = 1232
let rateLimit = 0
let useNative = true
let limiter: RateLimiter | undefined
let stats = new DnsStats()
const sockets: dgram.Socket[] = []
const natives: NativeAnswerer[] = []
let nativeTable: NativeTable | undefined

const send = (message: ToParent): void => {
  if (process.connected) process.send!(message)
}

function toBuffer(value: Uint8Array): Buffer {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
}

function attach(socket: dgram.Socket, index: number): void {
  sockets.push(socket)
  const {addon} = useNative ? nativeAddon() : {addon: undefined}
  if (addon) {
    nativeTable ??= new NativeTable(addon)
    nativeTable.set(table)
    const native = attachNative(socket, nativeTable, {maxUdp, perSource: rateLimit}, (msg, address, port) =>
      send({type: 'miss', index, msg, address, port}),
    )
    if (native) {
      natives.push(native)
      socket.on('error', () => stats.sendErrors++)
      return
    }
  }
  const onPacket = (
    msg: Buffer,
    address: string,
    port: number,
    direct?: (out: Buffer, p: number, a: string) => boolean,
  ) => {
    const started = performance.now()
    if (limiter && !limiter.allow(address)) {
      stats.dropped.rateLimited++
      return
    }
    if (answerFast(msg, address, port, direct, table, undefined, maxUdp, stats, started)) return
    send({type: 'miss', index, msg, address, port})
  }
  const raw = attachRaw(
    socket,
    onPacket,
    () => stats.sendErrors++,
    () => stats.dropped.malformed++,
  )
  if (!raw) socket.on('message', (msg, rinfo) => onPacket(msg, rinfo.address, rinfo.port, undefined))
  socket.on('error', () => stats.sendErrors++)
}

process.on('message', (message: ToWorker, handle?: unknown) => {
  if (message.type === 'socket' && handle) attach(handle as dgram.Socket, message.index)
  else if (message.type === 'config') {
    maxUdp = message.maxUdp
    rateLimit = message.rateLimit
    useNative = message.native
    limiter?.stop()
    limiter = new RateLimiter({perSource: message.rateLimit})
    limiter.start()
  } else if (message.type === 'table') {
    const next = new Map<string, HotEntry>()
    for (const [key, plain, edns, rcode, questionLength, metric] of message.entries)
      next.set(key, {plain: toBuffer(plain), edns: toBuffer(edns), rcode, questionLength, metric})
    table = next
    nativeTable?.set(table)
  }
})

// The main process went away (stopped or crashed): stop too.
process.on('disconnect', () => {
  for (const native of natives) native.close()
  for (const socket of sockets) {
    try {
      socket.close()
    } catch {
      // closed
    }
  }
  process.exit(0)
})

setInterval(() => {
  const current = stats
  for (const native of natives) current.merge(native.takeStats())
  stats = new DnsStats()
  if (current.answerCount === 0 && current.dropped.rateLimited === 0 && current.dropped.malformed === 0) return
  send({type: 'stats', stats: current.toJSON()})
}, 1000).unref()

send({type: 'ready'})
