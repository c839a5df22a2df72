import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, vi} from 'vitest'

import {loadConfig} from '../../../src/lib/config/load.js'
import type {HomeopsConfig, Mode} from '../../../src/lib/config/root-schema.js'
import {type Context, createContext} from '../../../src/lib/context.js'
import type {Router} from '../../../src/lib/http/router.js'
import {json} from '../../../src/lib/http/router.js'
import {Logger} from '../../../src/lib/log/logger.js'
import type {ModeHealth, ModeRuntime, ServiceMode} from '../../../src/lib/serve/mode.js'
import {detectTerminal} from '../../../src/lib/ui/terminal.js'

export interface LogCapture {
  logger: Logger
  lines: string[]
  matching(pattern: RegExp): string[]
}

export function captureLogs(level: 'debug' | 'info' = 'debug'): LogCapture {
  const lines: string[] = []
  const logger = new Logger({level, format: 'text', sink: {write: (line: string) => lines.push(line.trimEnd())}})
  return {logger, lines, matching: (pattern) => lines.filter((l) => pattern.test(l))}
}

/** Loads a config from YAML text (no environment) the way `homeops serve` does. */
// Every directory made here goes when the test file that made it ends.
const made: string[] = []
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, {recursive: true, force: true})
})

export function configFrom(yaml: string): {config: HomeopsConfig; file: string} {
  const dir = mkdtempSync(join(tmpdir(), 'homeops-serve-cfg-'))
  made.push(dir)
  const file = join(dir, 'config.yaml')
  writeFileSync(file, yaml)
  return {config: loadConfig({path: file, env: {}}).config, file}
}

export async function fakeContext(config: HomeopsConfig, logger: Logger, signal?: AbortSignal): Promise<Context> {
  const dir = mkdtempSync(join(tmpdir(), 'homeops-serve-state-'))
  made.push(dir)
  return createContext({
    config: {...config, state: {...config.state, path: join(dir, 'state.db')}},
    logger,
    terminal: detectTerminal({stdoutIsTTY: false}),
    version: '0.0.0-test',
    signal,
  })
}

export interface FakeModeOptions {
  /** Throws from start() for the first N attempts. */
  failStarts?: number
  /** Throws from start() while this returns true. */
  failWhile?: () => boolean
  /** start() never settles. */
  hangStart?: boolean
  /** stop() never settles. */
  hangStop?: boolean
  /** stop() takes this long. */
  stopMs?: number
  health?: () => ModeHealth
  snapshot?: unknown
}

/** A ServiceMode that records what serve does to it. */
export class FakeMode implements ServiceMode {
  starts = 0
  stops = 0
  startTimes: number[] = []
  runtimes: ModeRuntime[] = []
  running = false
  actions = 0
  configSeen: HomeopsConfig[] = []

  constructor(
    readonly name: Mode,
    private readonly options: FakeModeOptions = {},
  ) {}

  get runtime(): ModeRuntime | undefined {
    return this.runtimes.at(-1)
  }

  routes(router: Router): void {
    router.get('/status', () => json({mode: this.name, running: this.running, starts: this.starts}))
    router.post('/action', () => {
      this.actions++
      return json({ok: true, actions: this.actions})
    })
  }

  async start(runtime: ModeRuntime): Promise<void> {
    this.starts++
    this.startTimes.push(Date.now())
    this.runtimes.push(runtime)
    this.configSeen.push(runtime.context.config)
    if (this.options.hangStart) return new Promise(() => {})
    if (this.starts <= (this.options.failStarts ?? 0) || this.options.failWhile?.())
      throw new Error(`${this.name} cannot start (attempt ${this.starts})`)
    runtime.metrics.counter(`fake_${this.name}_starts_total`, 'starts of a fake mode').inc()
    this.running = true
  }

  async stop(): Promise<void> {
    this.stops++
    this.running = false
    if (this.options.hangStop) return new Promise(() => {})
    if (this.options.stopMs) await new Promise((resolve) => setTimeout(resolve, this.options.stopMs))
  }

  health(): ModeHealth {
    return this.options.health ? this.options.health() : {up: this.running, detail: this.running ? 'fine' : 'stopped'}
  }

  async snapshot(): Promise<unknown> {
    return this.options.snapshot ?? {items: [{name: 'a', status: 'ok'}]}
  }
}

/** Polls `check` every 10 ms up to `timeoutMs`; under fake timers it moves the fake clock instead of waiting. */
export async function until(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    if (vi.isFakeTimers()) await vi.advanceTimersByTimeAsync(10)
    else await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
