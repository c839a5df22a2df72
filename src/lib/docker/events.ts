import {errorMessage} from '../errors.js'
import type {Logger} from '../log/logger.js'
import {type Docker, pingDocker} from './client.js'

/** One line of `GET /events` (the fields homeops reads; old daemons send `status`/`id` beside them). */
export interface DockerEvent {
  Type?: string
  Action?: string
  status?: string
  id?: string
  Actor?: {ID?: string; Attributes?: Record<string, string>}
}

/** Longest line of a JSON-lines stream (an event, a stats sample is ~2 KiB): past it the line is dropped. */
export const MAX_LINE_BYTES = 256 * 1024

type Readable = NodeJS.ReadableStream & {destroy?: (error?: Error) => void}

/**
 * Reads a JSON-lines answer of the daemon (events, stats) line by line. A line longer than `maxLineBytes`
 * (a daemon gone wrong, or something that is not one) is dropped whole instead of growing the buffer;
 * `onOversize` is told so the caller may count it.
 */
export function readLines(
  stream: Readable,
  onLine: (line: string) => void,
  options: {maxLineBytes?: number; onData?: () => void; onOversize?: () => void} = {},
): void {
  const max = options.maxLineBytes ?? MAX_LINE_BYTES
  let buffer = ''
  let skipping = false
  stream.on('data', (chunk: Buffer | string) => {
    options.onData?.()
    buffer += chunk.toString()
    let newline: number
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).trim()
      buffer = buffer.slice(newline + 1)
      if (skipping) skipping = false
      else if (line) onLine(line)
    }
    if (buffer.length > max) {
      buffer = ''
      if (!skipping) options.onOversize?.()
      skipping = true
    }
  })
}

export interface EventFollowerOptions {
  /** A client for each (re)connection; called again after a failure (`context.docker()` or a fixed client). */
  connect: () => Promise<Docker>
  /** `GET /events` filters, e.g. `{type: ['container']}`. */
  filters: Record<string, string[]>
  logger: Logger
  /**
   * Runs once the stream is open, at start and after every reconnection: re-reads what events may have
   * been missed meanwhile. The follower counts as connected only once it succeeded.
   */
  onOpen: (docker: Docker) => Promise<void>
  onEvent: (event: DockerEvent) => void
  /** The stream is gone (`ended`: the daemon closed it; `failed`: an error, a ping unanswered); a reconnection follows. */
  onLost?: (reason: string, how: 'ended' | 'failed') => void
  /** A connection after a loss succeeded (`reconnects` counts them). */
  onReconnected?: () => void
  /** Reconnect backoff bounds (default 500 ms … 30 s, doubling). */
  minBackoffMs?: number
  maxBackoffMs?: number
  /**
   * How often the daemon is pinged while connected (default 5 s): the event stream stays silent when
   * nothing happens, so a frozen daemon shows only as an unanswered ping.
   */
  heartbeatMs?: number
  /** How long a ping may take before the daemon counts as gone (default 3 s). */
  pingTimeoutMs?: number
  maxLineBytes?: number
}

/**
 * The one follower of Docker's event stream, for every group that keeps state from it (the monitor's
 * container list, the DNS server's label records): connect, open `/events`, catch up (`onOpen`), then
 * hand each event over; when the stream ends, errors or the daemon stops answering pings, reconnect
 * with exponential backoff and catch up again. Events are JSON lines, each bounded in size.
 */
export class DockerEventFollower {
  private stream?: Readable
  private stopped = true
  private connectedFlag = false
  private everConnected = false
  private backoffMs: number
  private reconnectTimer?: NodeJS.Timeout
  private heartbeatTimer?: NodeJS.Timeout
  private pinging = false
  private docker?: Docker
  /** Reconnections that succeeded after a loss. */
  reconnects = 0
  lastError?: string
  /** Last time the daemon answered anything (ms since epoch; 0: never). */
  lastContact = 0
  /** Since when the daemon has not answered (ms since epoch), while disconnected. */
  lostAt?: number
  /** Event lines dropped for their size. */
  oversized = 0

  constructor(private readonly options: EventFollowerOptions) {
    this.backoffMs = options.minBackoffMs ?? 500
  }

  get connected(): boolean {
    return this.connectedFlag
  }

  /**
   * Connects and catches up once. When that fails it throws, and with `retry` keeps trying in the
   * background (a server that starts before Docker does); without it the follower stays stopped.
   */
  async start(options: {retry?: boolean} = {}): Promise<void> {
    this.stopped = false
    const interval = this.options.heartbeatMs ?? 5000
    if (interval > 0) {
      this.heartbeatTimer = setInterval(() => void this.heartbeat(), interval)
      this.heartbeatTimer.unref()
    }
    try {
      await this.connect()
    } catch (error) {
      this.lastError = errorMessage(error)
      this.lostAt ??= Date.now()
      if (options.retry) this.scheduleReconnect()
      else this.halt()
      throw error
    }
  }

  async stop(): Promise<void> {
    this.halt()
  }

  /** Lets go of the current stream, as if the daemon had closed it: a reconnection follows (tests, a forced resync). */
  drop(): void {
    this.stream?.destroy?.()
  }

  /** Something else heard from the daemon (a stats sample): it is alive. */
  noteContact(): void {
    this.lastContact = Date.now()
  }

  private halt(): void {
    this.stopped = true
    this.connectedFlag = false
    clearTimeout(this.reconnectTimer)
    clearInterval(this.heartbeatTimer)
    this.reconnectTimer = undefined
    const stream = this.stream
    this.stream = undefined
    stream?.destroy?.()
  }

  private async connect(): Promise<void> {
    const docker = await this.options.connect()
    this.docker = docker
    await pingDocker(docker, this.options.pingTimeoutMs ?? 3000)
    this.noteContact()
    const stream = (await docker.getEvents({filters: this.options.filters})) as Readable
    if (this.stopped) {
      stream.destroy?.()
      return
    }
    this.stream = stream
    readLines(stream, (line) => this.onLine(line), {
      maxLineBytes: this.options.maxLineBytes,
      onData: () => this.noteContact(),
      onOversize: () => this.oversized++,
    })
    const lost = (reason: string, how: 'ended' | 'failed') => {
      if (this.stream !== stream) return
      this.stream = undefined
      this.disconnected(reason, how)
    }
    stream.on('end', () => lost('event stream ended', 'ended'))
    stream.on('close', () => lost('event stream closed', 'ended'))
    stream.on('error', (error: Error) => lost(errorMessage(error), 'failed'))
    // Events that happened while connecting are covered by catching up after subscribing.
    await this.options.onOpen(docker)
    if (this.stream !== stream) throw new Error(this.lastError ?? 'event stream closed while catching up')
    const reconnected = this.everConnected
    this.everConnected = true
    this.connectedFlag = true
    this.lastError = undefined
    this.lostAt = undefined
    this.backoffMs = this.options.minBackoffMs ?? 500
    if (reconnected) {
      this.reconnects++
      this.options.onReconnected?.()
    }
  }

  private onLine(line: string): void {
    let event: DockerEvent
    try {
      event = JSON.parse(line) as DockerEvent
    } catch {
      return
    }
    if (event && typeof event === 'object') this.options.onEvent(event)
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped || !this.connectedFlag || this.pinging || !this.docker) return
    this.pinging = true
    try {
      await pingDocker(this.docker, this.options.pingTimeoutMs ?? 3000)
      this.noteContact()
    } catch (error) {
      if (this.connectedFlag) {
        const stream = this.stream
        this.stream = undefined
        stream?.destroy?.()
        this.disconnected(errorMessage(error), 'failed')
      }
    } finally {
      this.pinging = false
    }
  }

  private disconnected(reason: string, how: 'ended' | 'failed'): void {
    if (this.stopped) return
    const was = this.connectedFlag
    if (was || this.lostAt === undefined) this.lostAt = Date.now()
    this.connectedFlag = false
    this.lastError = reason
    if (was) this.options.onLost?.(reason, how)
    this.scheduleReconnect()
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return
    const delay = this.backoffMs
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? 30_000)
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined
      if (this.stopped) return
      this.connect().catch((error: unknown) => {
        this.lastError = errorMessage(error)
        const stream = this.stream
        this.stream = undefined
        stream?.destroy?.()
        this.options.logger.debug('docker event stream: reconnection failed', {error: this.lastError})
        this.scheduleReconnect()
      })
    }, delay)
    this.reconnectTimer.unref?.()
  }
}
