import {redact} from './redact.js'

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]
/**
 * `text`: `time level msg key=value…`, one line per event (cron, systemd, pipes).
 * `json`: one JSON object per line. `pretty`: for a person at a terminal.
 */
export const LOG_FORMATS = ['text', 'json', 'pretty'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]

export type LogValue = string | number | boolean | null | undefined | Date
export type LogFields = Record<string, LogValue>

export interface LogSink {
  write(line: string): unknown
}

export interface LoggerOptions {
  level?: LogLevel
  format?: LogFormat
  sink?: LogSink
  fields?: LogFields
  now?: () => Date
  /** Colour function for `pretty`; identity when absent. */
  paint?: (level: LogLevel, text: string) => string
}

const RANK: Record<LogLevel, number> = {debug: 10, info: 20, warn: 30, error: 40}
const PRETTY_PREFIX: Record<LogLevel, string> = {debug: '·', info: '›', warn: '!', error: '✖'}

export class Logger {
  readonly level: LogLevel
  readonly format: LogFormat
  private readonly sink: LogSink
  private readonly fields: LogFields
  private readonly now: () => Date
  private readonly paint: (level: LogLevel, text: string) => string

  constructor(options: LoggerOptions = {}) {
    this.level = options.level ?? 'info'
    this.format = options.format ?? 'text'
    this.sink = options.sink ?? process.stderr
    this.fields = options.fields ?? {}
    this.now = options.now ?? (() => new Date())
    this.paint = options.paint ?? ((_level, text) => text)
  }

  /** A logger with extra fields; `level` overrides the minimum level (an area's own level, e.g. DDNS_LOG_LEVEL). */
  child(fields: LogFields, level?: LogLevel): Logger {
    return new Logger({
      level: level ?? this.level,
      format: this.format,
      sink: this.sink,
      fields: {...this.fields, ...fields},
      now: this.now,
      paint: this.paint,
    })
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= RANK[this.level]
  }

  debug(msg: string, fields?: LogFields): void {
    this.emit('debug', msg, fields)
  }

  info(msg: string, fields?: LogFields): void {
    this.emit('info', msg, fields)
  }

  warn(msg: string, fields?: LogFields): void {
    this.emit('warn', msg, fields)
  }

  error(msg: string, fields?: LogFields): void {
    this.emit('error', msg, fields)
  }

  private emit(level: LogLevel, msg: string, extra?: LogFields): void {
    if (!this.enabled(level)) return
    const fields = extra ? {...this.fields, ...extra} : this.fields
    // Redacted before formatting: quoting (`k="a\"b"`) or folding lines (` ⏎ `) would change how a secret reads.
    this.sink.write(this.formatLine(level, redact(msg), redactFields(fields)) + '\n')
  }

  private formatLine(level: LogLevel, msg: string, fields: LogFields): string {
    const entries = Object.entries(fields).filter(([, v]) => v !== undefined)
    switch (this.format) {
      case 'json': {
        const record: Record<string, unknown> = {time: this.now().toISOString(), level, msg}
        for (const [k, v] of entries) record[k] = v instanceof Date ? v.toISOString() : v
        return JSON.stringify(record)
      }
      case 'pretty': {
        const kv = entries.map(([k, v]) => `${k}=${formatValue(v)}`).join(' ')
        return this.paint(level, `${PRETTY_PREFIX[level]} ${msg}`) + (kv ? ' ' + this.paint('debug', kv) : '')
      }
      default: {
        const kv = entries.map(([k, v]) => ` ${k}=${formatValue(v)}`).join('')
        return `${this.now().toISOString()} ${level} ${singleLine(msg)}${kv}`
      }
    }
  }
}

function redactFields(fields: LogFields): LogFields {
  const out: LogFields = {}
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'string') out[k] = redact(v)
    else if (typeof v === 'number') {
      // A numeric secret (a PIN) logged as a number.
      const text = String(v)
      const masked = redact(text)
      out[k] = masked === text ? v : masked
    } else out[k] = v
  }
  return out
}

function singleLine(text: string): string {
  return text.replace(/\r?\n/g, ' ⏎ ')
}

/** logfmt-style: bare when safe, JSON-quoted when it has spaces, quotes or `=`. */
export function formatValue(value: LogValue): string {
  if (value === null || value === undefined) return 'null'
  if (value instanceof Date) return value.toISOString()
  const text = String(value)
  return text === '' || /[\s"=\\]/.test(text) ? JSON.stringify(text) : text
}

/** A logger that drops everything (library defaults, tests). */
export const silentLogger = new Logger({level: 'error', sink: {write: () => true}})
