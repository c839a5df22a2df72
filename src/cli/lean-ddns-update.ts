/**
 * `homeops ddns update` without oclif: the command a systemd timer runs every few minutes, where loading
 * oclif's machinery (manifest, plugins, flag parser, help) cost more CPU than the run itself
 * (scripts/bench/ddns.mjs). `bin/run.js` hands it the arguments after `ddns update`; it handles exactly the
 * command's flags and returns `undefined` for anything else (`--help`, an unknown or malformed flag, flag
 * environment variables), which oclif then handles as always. Output, --json, logs and exit codes are the
 * oclif command's (src/commands/ddns/update.ts and HomeopsCommand); test/e2e/ddns-lean.test.ts compares them.
 */
import {readFileSync} from 'node:fs'
import {isatty} from 'node:tty'

import type {Context} from '../lib/context.js'
import {ExitCode, type HomeopsError} from '../lib/errors.js'
import {LOG_FORMATS, LOG_LEVELS, Logger, type LogFormat, type LogLevel} from '../lib/log/logger.js'
import {redact} from '../lib/log/redact.js'
import {detectTerminal, paint} from '../lib/ui/terminal.js'

interface LeanFlags {
  force: boolean
  dryRun: boolean
  records: string[]
  json: boolean
  config?: string
  logLevel?: LogLevel
  logFormat?: LogFormat
  debug: boolean
}

/** The flags of `ddns update`, or undefined when oclif must handle the arguments. */
export function parseLeanFlags(args: string[], env: NodeJS.ProcessEnv = process.env): LeanFlags | undefined {
  // Flags that read the environment keep oclif's exact parsing of it.
  for (const name of ['HOMEOPS_DDNS_FORCE', 'HOMEOPS_DDNS_RECORD', 'HOMEOPS_DEBUG'])
    if (env[name] !== undefined) return undefined
  if (env.HOMEOPS_CONFIG === '') return undefined
  const flags: LeanFlags = {force: false, dryRun: false, records: [], json: false, debug: false}
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1
    const name = eq > 0 ? arg.slice(0, eq) : arg
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined
    const value = (): string | undefined => {
      if (inline !== undefined) return inline
      const next = args[i + 1]
      if (next === undefined || next.startsWith('-')) return undefined
      i++
      return next
    }
    switch (name) {
      case '--force':
      case '--dry-run':
      case '--json':
      case '--debug':
        if (inline !== undefined) return undefined
        if (name === '--force') flags.force = true
        else if (name === '--dry-run') flags.dryRun = true
        else if (name === '--json') flags.json = true
        else flags.debug = true
        break
      case '--record': {
        const v = value()
        if (!v) return undefined
        flags.records.push(v)
        break
      }
      case '--config':
      case '-c': {
        const v = value()
        if (!v || flags.config !== undefined) return undefined
        flags.config = v
        break
      }
      case '--log-level': {
        const v = LOG_LEVELS.find((l) => l === value())
        if (!v || flags.logLevel) return undefined
        flags.logLevel = v
        break
      }
      case '--log-format': {
        const v = LOG_FORMATS.find((f) => f === value())
        if (!v || flags.logFormat) return undefined
        flags.logFormat = v
        break
      }
      default:
        return undefined
    }
  }
  flags.config ??= env.HOMEOPS_CONFIG
  return flags
}

/** Runs `ddns update` with `args` (after `ddns update`); the exit code, or undefined to let oclif run it. */
export async function runLeanDdnsUpdate(args: string[], packageJsonUrl: URL): Promise<number | undefined> {
  const flags = parseLeanFlags(args)
  if (!flags) return undefined
  // isatty() instead of process.stderr.isTTY: an unchanged run logs nothing, and creating the stderr stream
  // only to ask would cost a few milliseconds on every run.
  const stderrIsTTY = isatty(2)
  const terminal = detectTerminal({json: flags.json, stderrIsTTY, stdoutIsTTY: isatty(1)})
  const stderrTerm = detectTerminal({stdoutIsTTY: stderrIsTTY})
  const buildLogger = (configLevel?: LogLevel, configFormat?: LogFormat) => {
    const envLevel = LOG_LEVELS.find((l) => l === process.env.HOMEOPS_LOG_LEVEL)
    return new Logger({
      sink: {write: (line: string) => process.stderr.write(line)},
      level: flags.debug ? 'debug' : (flags.logLevel ?? envLevel ?? configLevel ?? 'info'),
      format: flags.logFormat ?? configFormat ?? (terminal.interactive ? 'pretty' : 'text'),
      paint: (lvl, text) =>
        paint(
          stderrTerm,
          lvl === 'error' ? 'bad' : lvl === 'warn' ? 'warn' : lvl === 'debug' ? 'muted' : 'plain',
          text,
        ),
    })
  }
  let logger = buildLogger()
  const abort = new AbortController()
  const onSignal = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) {
      logger.warn(`second ${signal}: exiting now`)
      process.exit(ExitCode.failure)
    }
    logger.info(`${signal} received, stopping`)
    abort.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  let context: Context | undefined
  try {
    const [{loadConfig}, {createContext}, {checkDdnsConfig, runPass, withDdnsLogLevel}] = await Promise.all([
      import('../lib/config/load.js'),
      import('../lib/context.js'),
      import('../lib/ddns/updater.js'),
    ])
    const loaded = loadConfig({path: flags.config})
    logger = buildLogger(loaded.config.log.level, loaded.config.log.format)
    const version = (JSON.parse(readFileSync(packageJsonUrl, 'utf8')) as {version: string}).version
    context = await createContext({
      config: loaded.config,
      configFile: loaded.file,
      logger,
      terminal,
      version,
      signal: abort.signal,
    })
    const explicitLevel = Boolean(flags.logLevel || flags.debug || process.env.HOMEOPS_LOG_LEVEL)
    const ddnsContext = withDdnsLogLevel(context, explicitLevel)
    checkDdnsConfig(ddnsContext.config.ddns)
    if (!flags.dryRun) await ddnsContext.lock('ddns')
    const report = await runPass(ddnsContext, {force: flags.force, dryRun: flags.dryRun, records: flags.records})
    if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
    else {
      const {renderRunReport} = await import('../lib/ddns/render.js')
      process.stdout.write(`${renderRunReport(terminal, report)}\n`)
    }
    return report.exitCode
  } catch (error) {
    return reportError(error as Error, flags)
  } finally {
    await context?.close()
  }
}

/** HomeopsCommand.catch(), for this entry: the same words, streams and exit codes. */
function reportError(error: Error, flags: LeanFlags): number {
  const code = (error as Partial<HomeopsError>).exitCode
  const exitCode = typeof code === 'number' ? code : ExitCode.failure
  const message = redact(error.message)
  const hint = (error as Partial<HomeopsError>).hint
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({error: {message, exitCode, ...(hint ? {hint} : {})}}, null, 2)}\n`)
  } else {
    const term = detectTerminal({stdoutIsTTY: Boolean(process.stderr.isTTY)})
    const lines = message.split('\n')
    process.stderr.write(`${paint(term, 'bad', `✖ ${lines[0]}`)}\n`)
    for (const line of lines.slice(1)) process.stderr.write(`${paint(term, 'bad', `  ${line}`)}\n`)
    if (hint) process.stderr.write(`${paint(term, 'muted', `  ${hint}`)}\n`)
  }
  if ((flags.debug || process.env.HOMEOPS_DEBUG === '1') && error.stack)
    process.stderr.write(`${redact(error.stack)}\n`)
  return exitCode
}
