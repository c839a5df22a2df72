import {execFile} from 'node:child_process'
import dgram from 'node:dgram'
import net from 'node:net'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {afterAll} from 'vitest'
import {stringify} from 'yaml'

import {loadConfig} from '../../../src/lib/config/load.js'
import {type Context, createContext} from '../../../src/lib/context.js'
import {createDnsMode} from '../../../src/lib/dns/mode.js'
import {Logger} from '../../../src/lib/log/logger.js'
import {MetricsRegistry} from '../../../src/lib/metrics/registry.js'
import {Router} from '../../../src/lib/http/router.js'

const run = promisify(execFile)

export interface DigResult {
  status: string
  flags: string[]
  answers: string[][]
  authority: string[][]
  /** The whole text, for failure messages. */
  text: string
  udpSize?: number
}

/** Runs the real `dig` against 127.0.0.1:port and parses its sections. */
export async function dig(port: number, args: string[], server = '127.0.0.1'): Promise<DigResult> {
  const {stdout} = await run('dig', [`@${server}`, '-p', String(port), '+tries=1', '+time=2', ...args], {
    timeout: 15_000,
  })
  const status = /status: (\w+)/.exec(stdout)?.[1] ?? 'NONE'
  const flags = (/;; flags: ([^;]*);/.exec(stdout)?.[1] ?? '').trim().split(/\s+/)
  const section = (title: string) => {
    const match = new RegExp(`;; ${title} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(stdout)
    return match ? match[1]!.split('\n').map((l) => l.trim().split(/\s+/)) : []
  }
  const udp = /udp: (\d+)/.exec(stdout)
  return {
    status,
    flags,
    answers: section('ANSWER'),
    authority: section('AUTHORITY'),
    text: stdout,
    udpSize: udp ? Number(udp[1]) : undefined,
  }
}

const made: string[] = []
// Every directory tempDir made goes when the test file that made it ends.
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, {recursive: true, force: true})
})

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `homeops-dns-${prefix}-`))
  made.push(dir)
  return dir
}

export function capturingLogger(): {logger: Logger; lines: string[]} {
  const lines: string[] = []
  return {lines, logger: new Logger({level: 'debug', format: 'text', sink: {write: (l: string) => lines.push(l)}})}
}

/** A context from a config written to a temp file (so the schema and env rules apply as in production). */
export async function makeContext(
  dns: Record<string, unknown>,
  options: {dockerHost?: string; logger?: Logger} = {},
): Promise<Context> {
  const dir = tempDir('ctx')
  const file = join(dir, 'config.yaml')
  // No system resolvers unless a test gives some: forwarding stays what the test configures.
  const withResolv = {resolvConf: join(dir, 'no-resolv.conf'), ...dns}
  writeFileSync(
    file,
    stringify({dns: withResolv, state: {path: join(dir, 'state.db')}, docker: {host: options.dockerHost}}),
  )
  const {config} = loadConfig({path: file, env: {}})
  return createContext({
    config,
    logger: options.logger ?? capturingLogger().logger,
    terminal: {interactive: false, color: false},
    version: 'test',
  })
}

export interface RunningDns {
  port: number
  mode: ReturnType<typeof createDnsMode>
  router: Router
  metrics: MetricsRegistry
  context: Context
  stop(): Promise<void>
}

/** Starts the dns mode in this process on a free loopback port. */
export async function startDns(context: Context, options: {dockerHost?: string} = {}): Promise<RunningDns> {
  const mode = createDnsMode({dockerHost: options.dockerHost, debounceMs: 20})
  const metrics = new MetricsRegistry()
  const router = new Router()
  mode.routes?.(router)
  await mode.start({context, metrics, signal: context.signal, crashed: () => undefined})
  const port = mode.service()!.server!.port
  return {
    port,
    mode,
    router,
    metrics,
    context,
    async stop() {
      await mode.stop()
      await context.close()
    },
  }
}

/** Polls `check` every 50 ms until it returns true or `ms` passes; returns the elapsed ms or throws. */
export async function within(
  ms: number,
  what: string | (() => string),
  check: () => Promise<boolean>,
): Promise<number> {
  const started = Date.now()
  for (;;) {
    if (await check()) return Date.now() - started
    if (Date.now() - started > ms) throw new Error(`${typeof what === 'function' ? what() : what}: not within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export function uniqueName(what: string): string {
  return `hotest-dns-${what}-${Math.random().toString(36).slice(2, 8)}`
}

/** A query packet: `name` as labels (a label may hold any bytes, dots included), type, EDNS or not. */
export function queryPacket(labels: string[], type: number, options: {id?: number; edns?: boolean} = {}): Buffer {
  const header = Buffer.alloc(12)
  header.writeUInt16BE(options.id ?? 0x4242, 0)
  header[2] = 0x01 // RD
  header.writeUInt16BE(1, 4)
  if (options.edns) header.writeUInt16BE(1, 10)
  const name = Buffer.concat([
    ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])),
    Buffer.from([0]),
  ])
  const tail = Buffer.alloc(4)
  tail.writeUInt16BE(type, 0)
  tail.writeUInt16BE(1, 2)
  const opt = options.edns ? Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]) : Buffer.alloc(0)
  return Buffer.concat([header, name, tail, opt])
}

/** Sends one UDP datagram to 127.0.0.1:port; resolves with the answer, or undefined after `timeoutMs`. */
export function udpAsk(port: number, packet: Buffer, timeoutMs = 1000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4')
    const timer = setTimeout(() => {
      socket.close()
      resolve(undefined)
    }, timeoutMs)
    socket.on('message', (msg) => {
      clearTimeout(timer)
      socket.close()
      resolve(msg)
    })
    socket.send(packet, port, '127.0.0.1')
  })
}

/** One query over a fresh TCP connection (from `localAddress` when given); undefined on close or timeout. */
export function tcpAsk(
  port: number,
  packet: Buffer,
  options: {timeoutMs?: number; localAddress?: string} = {},
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({host: '127.0.0.1', port, localAddress: options.localAddress})
    let buffered = Buffer.alloc(0)
    const done = (answer: Buffer | undefined) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(answer)
    }
    const timer = setTimeout(() => done(undefined), options.timeoutMs ?? 2000)
    socket.on('error', () => done(undefined))
    socket.on('close', () => done(undefined))
    socket.on('connect', () => {
      const framed = Buffer.alloc(packet.length + 2)
      framed.writeUInt16BE(packet.length, 0)
      packet.copy(framed, 2)
      socket.write(framed)
    })
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      if (buffered.length >= 2 && buffered.length >= buffered.readUInt16BE(0) + 2)
        done(buffered.subarray(2, 2 + buffered.readUInt16BE(0)))
    })
  })
}

/** Header fields of an answer. */
export function header(answer: Buffer): {id: number; rcode: number; tc: boolean; aa: boolean; an: number} {
  return {
    id: answer.readUInt16BE(0),
    rcode: answer[3]! & 0x0f,
    tc: (answer[2]! & 0x02) !== 0,
    aa: (answer[2]! & 0x04) !== 0,
    an: answer.readUInt16BE(6),
  }
}

/** A normal UDP and TCP query for `name` are both answered within `ms` (after an attack). */
export async function answersPromptly(
  port: number,
  labels: string[],
  ms = 100,
  localAddress?: string,
): Promise<{udpMs: number; tcpMs: number}> {
  let started = performance.now()
  const udp = await udpAsk(port, queryPacket(labels, 1), ms)
  const udpMs = performance.now() - started
  started = performance.now()
  const tcp = await tcpAsk(port, queryPacket(labels, 1), {timeoutMs: ms, localAddress})
  const tcpMs = performance.now() - started
  if (!udp || !tcp)
    throw new Error(`no answer within ${ms} ms (udp ${udp ? 'ok' : 'none'}, tcp ${tcp ? 'ok' : 'none'})`)
  return {udpMs, tcpMs}
}
