import {Command, Flags, type Interfaces, ux} from '@oclif/core'

import {type HomeopsError, ExitCode, type ExitCodeValue, UserError, worst} from '../lib/errors.js'
import {LOG_FORMATS, LOG_LEVELS, Logger, type LogFormat, type LogLevel} from '../lib/log/logger.js'
import {redact, redactDeep} from '../lib/log/redact.js'
import type {Context} from '../lib/context.js'
import {type Terminal, detectTerminal, paint} from '../lib/ui/terminal.js'

export type GlobalFlags = Interfaces.InferredFlags<(typeof HomeopsCommand)['baseFlags']>

/** `--docker-host`, for commands that talk to Docker. */
export const dockerHostFlag = Flags.string({
  description: 'Docker daemon address (unix:///path or tcp://host:port)',
  env: 'HOMEOPS_DOCKER_HOST',
  helpGroup: 'GLOBAL',
})

/** `--yes`, for commands that change or remove things and otherwise ask first. */
export const yesFlag = Flags.boolean({
  char: 'y',
  description: 'do not ask for confirmation (required off a terminal: cron, systemd, scripts)',
  env: 'HOMEOPS_YES',
})

/** What every command prints under `--json` when it fails (test/contract/json/error.schema.json). */
export interface JsonError {
  error: {message: string; exitCode: ExitCodeValue; hint?: string}
}

/**
 * Base of every command: `--json`, the global flags, lazy config/state/docker
 * through `context()`, one `catch()` that maps typed errors to the exit
 * code table of docs/architecture.md "Conventions every command follows" (set on
 * `process.exitCode` itself: under `--json` oclif 4 loses an error's exit code),
 * and the exit code of a run that returned a report: the worst() of its
 * `exitCodes()`. No command sets an exit code itself.
 */
export abstract class HomeopsCommand<T> extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    config: Flags.string({
      char: 'c',
      description: 'config file (default: /etc/homeops/config.yaml as root, else $XDG_CONFIG_HOME/homeops/config.yaml)',
      env: 'HOMEOPS_CONFIG',
      helpGroup: 'GLOBAL',
    }),
    'log-level': Flags.option({options: LOG_LEVELS, description: 'minimum level logged', helpGroup: 'GLOBAL'})(),
    'log-format': Flags.option({
      options: LOG_FORMATS,
      description: 'log lines on stderr (default: pretty on a terminal, text otherwise)',
      helpGroup: 'GLOBAL',
    })(),
    debug: Flags.boolean({description: 'show stack traces and debug logs', env: 'HOMEOPS_DEBUG', helpGroup: 'GLOBAL'}),
  }

  protected globalFlags!: GlobalFlags
  private contextPromise?: Promise<Context>
  private terminalCache?: Terminal
  private loggerCache?: Logger
  private readonly abort = new AbortController()

  public override async init(): Promise<void> {
    await super.init()
    const ctor = this.constructor as typeof HomeopsCommand
    const {flags} = await this.parse({
      flags: ctor.flags,
      baseFlags: ctor.baseFlags,
      enableJsonFlag: ctor.enableJsonFlag,
      args: ctor.args,
      strict: ctor.strict,
    })
    this.globalFlags = flags
  }

  protected get terminal(): Terminal {
    this.terminalCache ??= detectTerminal({json: this.jsonEnabled()})
    return this.terminalCache
  }

  /** Logger from flags/env; `context()` replaces it with one that also honours the config file. */
  protected get logger(): Logger {
    this.loggerCache ??= this.buildLogger()
    return this.loggerCache
  }

  private buildLogger(configLevel?: LogLevel, configFormat?: LogFormat): Logger {
    const flags = this.globalFlags ?? {}
    const envLevel = LOG_LEVELS.find((l) => l === process.env.HOMEOPS_LOG_LEVEL)
    const level = flags.debug ? 'debug' : (flags['log-level'] ?? envLevel ?? configLevel ?? 'info')
    const format = flags['log-format'] ?? configFormat ?? (this.terminal.interactive ? 'pretty' : 'text')
    const term = detectTerminal({stdoutIsTTY: Boolean(process.stderr.isTTY)})
    return new Logger({
      level,
      format,
      paint: (lvl, text) =>
        paint(term, lvl === 'error' ? 'bad' : lvl === 'warn' ? 'warn' : lvl === 'debug' ? 'muted' : 'plain', text),
    })
  }

  /** Loads config once and builds the context library code receives. */
  protected context(options: {dockerHost?: string; strictEnv?: boolean} = {}): Promise<Context> {
    this.contextPromise ??= (async () => {
      const [{loadConfig}, {createContext}, {unknownHomeopsEnv, unknownEnvMessage}] = await Promise.all([
        import('../lib/config/load.js'),
        import('../lib/context.js'),
        import('../lib/config/known-env.js'),
      ])
      const loaded = loadConfig({path: this.globalFlags.config})
      this.loggerCache = this.buildLogger(loaded.config.log.level, loaded.config.log.format)
      // `config validate` makes these an error; every other command goes on without them.
      if (!options.strictEnv)
        for (const unknown of unknownHomeopsEnv(process.env)) this.loggerCache.warn(unknownEnvMessage(unknown))
      return createContext({
        config: loaded.config,
        configFile: loaded.file,
        logger: this.loggerCache,
        terminal: this.terminal,
        version: this.config.version,
        dockerHost: options.dockerHost,
        signal: this.abort.signal,
      })
    })()
    return this.contextPromise
  }

  /** For `serve` modes: SIGINT/SIGTERM abort the context signal instead of killing the process. */
  protected handleSignals(): void {
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.abort.signal.aborted) {
        this.logger.warn(`second ${signal}: exiting now`)
        process.exit(ExitCode.failure)
      }
      this.logger.info(`${signal} received, stopping`)
      this.abort.abort()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  }

  /** Writes human output to stdout (never under `--json`). */
  protected print(text: string): void {
    if (!this.jsonEnabled()) this.log(text)
  }

  /**
   * Asks a yes/no question on the terminal (default no). Off a terminal or
   * under `--json` nobody can answer, so it refuses with `refusal` (exit 2)
   * instead of waiting for input that never comes: unattended runs pass `--yes`.
   */
  protected async confirm(
    question: string,
    refusal: string,
    hint = 'pass --yes when running without a terminal (cron, systemd, scripts)',
  ): Promise<boolean> {
    if (!process.stdin.isTTY || !this.terminal.interactive) throw new UserError(refusal, {hint})
    const {createInterface} = await import('node:readline/promises')
    const prompt = createInterface({input: process.stdin, output: process.stderr})
    try {
      return /^y(es)?$/i.test((await prompt.question(`${question} [y/N] `)).trim())
    } finally {
      prompt.close()
    }
  }

  /**
   * oclif tokenizes the JSON to colour it even when no theme sets colours
   * (milliseconds per kilobyte, on every `--json` run from cron); without a
   * theme the text is the same (test/unit/cli/json-output.test.ts), so it is
   * written directly. Strings go to oclif, which parses them first. Every
   * string in it is redacted: a remote's answer a command passes through
   * (an error, a provider's text) must not print a secret.
   */
  public override logJson(json: unknown): void {
    if (this.config.theme?.json || typeof json === 'string') {
      super.logJson(typeof json === 'string' ? redact(json) : redactDeep(json))
      return
    }
    // One pass over the text in the usual case (no secret in it); the value is rewritten only when one is.
    const text = JSON.stringify(json, null, 2)
    ux.stdout(redact(text) === text ? text : JSON.stringify(redactDeep(json), null, 2))
  }

  protected paint(tone: Parameters<typeof paint>[1], text: string): string {
    return paint(this.terminal, tone, text)
  }

  /**
   * The exit codes of the outcomes in the report `run()` returned; the run exits with their worst()
   * (errors.ts: one policy for every command). Default: the report's own `exitCode`, when it has one.
   * A command whose report says it another way (per workload, a doctor verdict) overrides this.
   */
  protected exitCodes(report: T): Iterable<number> | Promise<Iterable<number>> {
    const code = (report as {exitCode?: unknown} | null | undefined)?.exitCode
    return typeof code === 'number' ? [code] : []
  }

  protected override async _run<R>(): Promise<R> {
    const result = await super._run<R>()
    // undefined: run() threw, and catch() has set the code of the error.
    if (result !== undefined) {
      const code = worst(await this.exitCodes(result as unknown as T))
      if (code !== ExitCode.ok) process.exitCode = code
    }
    return result
  }

  public override async catch(error: Interfaces.CommandError): Promise<void> {
    const exitCode = exitCodeOf(error)
    process.exitCode = exitCode
    // `this.exit(n)` and `--help`/`--version` arrive here as ExitError: nothing to print.
    if (oclifExit(error) !== undefined && error.message.startsWith('EEXIT')) return
    const message = redact(error.message)
    const rawHint = (error as Partial<HomeopsError>).hint
    const hint = rawHint === undefined ? undefined : redact(rawHint)
    const debug = this.globalFlags?.debug || process.env.HOMEOPS_DEBUG === '1'
    if (this.jsonEnabled()) {
      this.logJson({error: {message, exitCode, ...(hint ? {hint} : {})}} satisfies JsonError)
    } else {
      const term = detectTerminal({stdoutIsTTY: Boolean(process.stderr.isTTY)})
      const lines = message.split('\n')
      this.logToStderr(paint(term, 'bad', `✖ ${lines[0]}`))
      for (const line of lines.slice(1)) this.logToStderr(paint(term, 'bad', `  ${line}`))
      if (hint) this.logToStderr(paint(term, 'muted', `  ${hint}`))
    }
    if (debug && error.stack) this.logToStderr(redact(error.stack))
  }

  public override async finally(error: Error | undefined): Promise<unknown> {
    if (this.contextPromise) {
      const context = await this.contextPromise.catch(() => undefined)
      await context?.close()
    }
    return super.finally(error)
  }

  abstract override run(): Promise<T>
}

function exitCodeOf(error: Interfaces.CommandError): ExitCodeValue {
  const code = (error as Partial<HomeopsError>).exitCode
  if (typeof code === 'number') return code
  // oclif's flag/argument parse errors carry their own code (2: usage).
  return (oclifExit(error) ?? ExitCode.failure) as ExitCodeValue
}

function oclifExit(error: Error): number | undefined {
  const exit = (error as {oclif?: {exit?: unknown}}).oclif?.exit
  return typeof exit === 'number' ? exit : undefined
}
