import {type ChildProcess, fork} from 'node:child_process'
import type dgram from 'node:dgram'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {errorMessage} from '../errors.js'
import type {Logger} from '../log/logger.js'
import type {DnsStatsJson, HotEntry} from './hot-path.js'

export type ToWorker =
  | {type: 'socket'; index: number}
  | {type: 'config'; maxUdp: number; rateLimit: number; native: boolean}
  | {type: 'table'; entries: [string, Uint8Array, Uint8Array, number, number, number][]}

export type ToParent =
  | {type: 'ready'}
  | {type: 'miss'; index: number; msg: Uint8Array; address: string; port: number}
  | {type: 'stats'; stats: DnsStatsJson}

export interface WorkerPoolOptions {
  count: number
  sockets: dgram.Socket[]
  maxUdp: number
  rateLimit: number
  /** Workers answer on native threads too when the addon is built. */
  native: boolean
  logger: Logger
  /** A query the worker could not answer from the table. */
  onMiss(index: number, msg: Buffer, address: string, port: number): void
  onStats(stats: DnsStatsJson): void
}

/**
 * Extra processes sharing the UDP sockets (`dns.workers`): the kernel hands
 * each datagram to one of the processes reading the socket, so answering
 * from the pre-encoded table scales past one core. Workers get the table
 * whenever the records change, send back what they cannot answer, and report
 * their counters every second. A worker that dies is restarted.
 */
export class WorkerPool {
  private readonly workers = new Set<ChildProcess>()
  private entries: ToWorker | undefined
  private stopping = false

  constructor(private readonly options: WorkerPoolOptions) {}

  get size(): number {
    return this.workers.size
  }

  start(): void {
    for (let i = 0; i < this.options.count; i++) this.spawn()
  }

  setTable(table: Map<string, HotEntry>): void {
    const entries: [string, Uint8Array, Uint8Array, number, number, number][] = []
    for (const [key, e] of table) entries.push([key, e.plain, e.edns, e.rcode, e.questionLength, e.metric])
    this.entries = {type: 'table', entries}
    for (const worker of this.workers) this.post(worker, this.entries)
  }

  async stop(): Promise<void> {
    this.stopping = true
    await Promise.all(
      [...this.workers].map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.exitCode !== null || worker.signalCode !== null) return resolve()
            const timer = setTimeout(() => worker.kill('SIGKILL'), 2000)
            worker.once('exit', () => {
              clearTimeout(timer)
              resolve()
            })
            if (worker.connected) worker.disconnect()
            else worker.kill('SIGTERM')
          }),
      ),
    )
    this.workers.clear()
  }

  private spawn(): void {
    const here = fileURLToPath(import.meta.url)
    const ts = here.endsWith('.ts')
    const entry = join(dirname(here), ts ? 'udp-worker.ts' : 'udp-worker.js')
    const worker = fork(entry, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      execArgv: ts ? ['--import', 'tsx'] : [],
    })
    this.workers.add(worker)
    worker.on('message', (message: ToParent) => {
      if (message.type === 'ready') {
        this.post(worker, {
          type: 'config',
          maxUdp: this.options.maxUdp,
          rateLimit: this.options.rateLimit,
          native: this.options.native,
        })
        if (this.entries) this.post(worker, this.entries)
        this.options.sockets.forEach((socket, index) => {
          try {
            worker.send({type: 'socket', index} satisfies ToWorker, socket as never)
          } catch (error) {
            this.options.logger.warn('cannot hand the DNS socket to a worker', {error: errorMessage(error)})
          }
        })
      } else if (message.type === 'miss') {
        const msg = Buffer.from(message.msg.buffer, message.msg.byteOffset, message.msg.byteLength)
        this.options.onMiss(message.index, msg, message.address, message.port)
      } else if (message.type === 'stats') {
        this.options.onStats(message.stats)
      }
    })
    worker.on('error', (error) => this.options.logger.warn('dns worker error', {error: errorMessage(error)}))
    worker.on('exit', (code, signal) => {
      this.workers.delete(worker)
      if (this.stopping) return
      this.options.logger.warn('dns worker exited; restarting it', {code, signal})
      setTimeout(() => {
        if (!this.stopping) this.spawn()
      }, 1000).unref()
    })
  }

  private post(worker: ChildProcess, message: ToWorker): void {
    if (!worker.connected) return
    worker.send(message, (error) => {
      if (error) this.options.logger.debug('dns worker message failed', {error: errorMessage(error)})
    })
  }
}
