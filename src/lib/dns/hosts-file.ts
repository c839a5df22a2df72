import {type FSWatcher, constants, watch} from 'node:fs'
import {open, readdir, realpath, stat} from 'node:fs/promises'
import {join, sep} from 'node:path'

import {UserError, errnoCode, errorMessage} from '../errors.js'
import type {Logger} from '../log/logger.js'
import {addressFamily, canonicalAddress, isSinkAddress} from './names.js'
import type {OriginData, SinkNames, SourceRecord} from './record-store.js'
import type {RecordStore} from './record-store.js'

/** Files larger than this are skipped (and logged): a hosts file is text, not a disk image. */
export const MAX_HOSTS_FILE_BYTES = 64 * 1024 * 1024

export interface HostsProblem {
  line: number
  /** Never the line's text: a hosts file may be anything (line numbers and reasons only reach the log). */
  reason: string
}

/**
 * Parses hosts-file text: `ADDRESS NAME [NAME…]`, `#` comments, IPv4 and IPv6.
 * Bad lines are reported (line number and reason) and skipped, never fatal.
 * Names pointing at a sink address (`0.0.0.0`, `::`: blocklists) are returned
 * as bare names, checked and normalised, so a million-line list stays small.
 */
export function parseHosts(text: string): OriginData & {sinks: SinkNames; problems: HostsProblem[]} {
  const records: SourceRecord[] = []
  const sinks: SinkNames = {a: [], aaaa: []}
  const problems: HostsProblem[] = []
  // Blocklists repeat one address a million times: remember the last one's checks.
  let lastText = ''
  let lastAddress = ''
  let lastFamily: 4 | 6 | undefined
  let line = 0
  const length = text.length
  for (let start = 0; start < length;) {
    let end = text.indexOf('\n', start)
    if (end < 0) end = length
    line++
    const fields = splitFields(text, start, end)
    start = end + 1
    if (fields.length === 0) continue
    const first = fields[0]!
    if (first !== lastText) {
      lastText = first
      lastAddress = canonicalAddress(first)
      lastFamily = addressFamily(lastAddress)
    }
    const address = lastAddress
    const family = lastFamily
    if (!family) {
      problems.push({line, reason: 'the first field is not an IP address'})
      continue
    }
    if (fields.length === 1) {
      problems.push({line, reason: 'no name after the address'})
      continue
    }
    const sink = isSinkAddress(address) ? (family === 4 ? sinks.a : sinks.aaaa) : undefined
    for (let i = 1; i < fields.length; i++) {
      let name = fields[i]!
      if (UPPER.test(name)) name = name.toLowerCase()
      if (name.endsWith('.')) name = name.slice(0, -1)
      if (name.length > 253 || !VALID_NAME.test(name)) {
        problems.push({line, reason: `name ${i} is not a valid DNS name`})
        continue
      }
      if (sink) sink.push(name)
      else records.push({name, type: family === 4 ? 'A' : 'AAAA', value: address})
    }
  }
  return {records, sinks, problems}
}

const UPPER = /[A-Z]/
/** nameProblem() in one expression, for speed: labels of a-z 0-9 _ -, at most 63 octets, `*` first only. */
const LABEL_RE = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?'
const VALID_NAME = new RegExp(`^(?:\\*\\.)?(?:${LABEL_RE}\\.)*${LABEL_RE}$`)

/** The whitespace-separated fields of text[start, end) before a `#`. */
function splitFields(text: string, start: number, end: number): string[] {
  const fields: string[] = []
  let i = start
  for (;;) {
    while (i < end && isSpace(text.charCodeAt(i))) i++
    if (i >= end || text.charCodeAt(i) === 0x23) return fields
    const from = i
    while (i < end && !isSpace(text.charCodeAt(i)) && text.charCodeAt(i) !== 0x23) i++
    fields.push(text.slice(from, i))
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0b || c === 0x0c
}

/**
 * Keeps the `hosts` records of the store equal to the files of a directory:
 * loads them at start, then reloads on change (fs.watch, debounced) and on a
 * slow timer as a safety net. The directory itself is checked every second:
 * deleted and created again, it is watched again. Files whose name starts
 * with `.` (editor swap files, `.git`) are ignored; links leading out of the
 * directory, anything but regular files and files over the size limit are
 * skipped with a log line.
 */
export class HostsDirectory {
  private watcher: FSWatcher | undefined
  private watchedIno: number | undefined
  private timer: NodeJS.Timeout | undefined
  private interval: NodeJS.Timeout | undefined
  private dirCheck: NodeJS.Timeout | undefined
  private readonly reported = new Set<string>()
  private files = 0
  running = false

  constructor(
    private readonly directory: string,
    private readonly store: RecordStore,
    private readonly logger: Logger,
    private readonly options: {debounceMs?: number; rescanMs?: number; maxFileBytes?: number} = {},
  ) {}

  get fileCount(): number {
    return this.files
  }

  async start(): Promise<void> {
    await this.check()
    await this.load()
    await this.rewatch()
    this.interval = setInterval(() => this.schedule(), this.options.rescanMs ?? 30_000)
    this.interval.unref()
    this.dirCheck = setInterval(() => void this.rewatch(), 1000)
    this.dirCheck.unref()
    this.running = true
  }

  /** The directory must exist (a typo in HOSTS_DIRECTORY is an error, not an empty zone). */
  async check(): Promise<void> {
    try {
      const info = await stat(this.directory)
      if (!info.isDirectory()) throw new UserError(`HOSTS_DIRECTORY ${this.directory} is not a directory`)
    } catch (error) {
      if (error instanceof UserError) throw error
      throw new UserError(
        `cannot read HOSTS_DIRECTORY ${this.directory}: ${errnoCode(error) === 'ENOENT' ? 'it does not exist' : errorMessage(error)}`,
        {
          hint: 'create it, or unset HOSTS_DIRECTORY / dns.hostsDirectory',
        },
      )
    }
  }

  stop(): void {
    this.running = false
    this.watcher?.close()
    this.watcher = undefined
    if (this.timer) clearTimeout(this.timer)
    if (this.interval) clearInterval(this.interval)
    if (this.dirCheck) clearInterval(this.dirCheck)
  }

  /** Watches the directory again when it is not the one watched (deleted and created again, or replaced). */
  private async rewatch(): Promise<void> {
    let ino: number | undefined
    try {
      const info = await stat(this.directory)
      ino = info.isDirectory() ? info.ino : undefined
    } catch {
      ino = undefined
    }
    if (ino === this.watchedIno && (this.watcher || ino === undefined)) return
    this.watcher?.close()
    this.watcher = undefined
    const changed = this.watchedIno !== undefined || ino !== undefined
    this.watchedIno = ino
    if (ino !== undefined) {
      try {
        this.watcher = watch(this.directory, {persistent: false}, (_event, file) => {
          if (file && String(file).startsWith('.')) return
          this.schedule()
        })
        this.watcher.on('error', () => {
          // The directory went away: the next check watches it again once it is back.
          this.watcher?.close()
          this.watcher = undefined
        })
      } catch (error) {
        this.logger.warn('cannot watch the hosts directory; rescanning on a timer', {error: errorMessage(error)})
      }
    }
    if (changed && this.running) this.schedule()
  }

  private schedule(): void {
    if (this.timer) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.load().catch((error: unknown) =>
        this.logger.warn('cannot reload the hosts directory', {error: errorMessage(error)}),
      )
    }, this.options.debounceMs ?? 150)
  }

  /** Logs a problem once per file, line (or kind) and reason. */
  private report(file: string, what: string, message: string, fields: Record<string, unknown>): void {
    const key = `${file}\0${what}`
    if (this.reported.has(key)) return
    this.reported.add(key)
    this.logger.warn(message, {file, ...fields})
  }

  /** Reads every file again and replaces the `hosts` records at once. */
  async load(): Promise<void> {
    const byFile = new Map<string, OriginData>()
    let entries: string[]
    let root: string
    try {
      root = await realpath(this.directory)
      entries = await readdir(this.directory)
    } catch (error) {
      this.logger.warn('cannot list the hosts directory; keeping the records loaded before', {
        directory: this.directory,
        error: errorMessage(error),
      })
      return
    }
    const maxBytes = this.options.maxFileBytes ?? MAX_HOSTS_FILE_BYTES
    for (const name of entries.sort()) {
      if (name.startsWith('.')) continue
      const file = join(this.directory, name)
      const text = await this.readFile(file, root, maxBytes)
      if (text === undefined) continue
      const {records, sinks, problems} = parseHosts(text)
      // The first lines with a problem, each once; then one count (a binary file must not flood the log).
      for (const problem of problems.slice(0, 20))
        this.report(file, `${problem.line}:${problem.reason}`, 'hosts line ignored', {
          line: problem.line,
          reason: problem.reason,
        })
      if (problems.length > 20)
        this.report(file, `more:${problems.length}`, 'hosts lines ignored', {lines: problems.length - 20, more: true})
      byFile.set(file, {records, sinks})
    }
    this.files = byFile.size
    this.store.replaceKind('hosts', byFile)
  }

  /** A regular file inside the directory (links resolved and checked), within the size limit; else undefined. */
  private async readFile(file: string, root: string, maxBytes: number): Promise<string | undefined> {
    let target: string
    try {
      target = await realpath(file)
    } catch {
      return undefined // removed between listing and reading, or a dangling link
    }
    if (!target.startsWith(root + sep)) {
      this.report(file, 'outside', 'hosts file skipped: it links outside the hosts directory', {})
      return undefined
    }
    let handle
    try {
      // O_NONBLOCK: a FIFO must not hang the reload; O_NOFOLLOW: the path checked is the path read.
      handle = await open(target, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW)
    } catch {
      return undefined
    }
    try {
      const info = await handle.stat()
      if (!info.isFile()) {
        this.report(file, 'type', 'hosts file skipped: not a regular file', {})
        return undefined
      }
      if (info.size > maxBytes) {
        this.report(file, `size:${info.size}`, 'hosts file skipped: larger than the limit', {
          bytes: info.size,
          limit: maxBytes,
        })
        return undefined
      }
      const buffer = Buffer.alloc(info.size)
      const {bytesRead} = await handle.read(buffer, 0, info.size, 0)
      return buffer.toString('utf8', 0, bytesRead)
    } catch {
      return undefined
    } finally {
      await handle.close()
    }
  }
}
