import {execFile} from 'node:child_process'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

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

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `homeops-dns-${prefix}-`))
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
  writeFileSync(file, stringify({dns, state: {path: join(dir, 'state.db')}, docker: {host: options.dockerHost}}))
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
