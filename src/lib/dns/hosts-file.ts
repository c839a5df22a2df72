import {type FSWatcher, watch} from 'node:fs'
import {readFile, readdir, stat} from 'node:fs/promises'
import {join} from 'node:path'

import {UserError, errnoCode, errorMessage} from '../errors.js'
import type {Logger} from '../log/logger.js'
import {addressFamily} from './names.js'
import type {RecordStore, SourceRecord} from './store.js'

export interface HostsProblem {
  line: number
  text: string
  reason: string
}

/**
 * Parses hosts-file text: `ADDRESS NAME [NAME…]`, `#` comments, IPv4 and IPv6.
 * Bad lines are reported and skipped, never fatal.
 */
export function parseHosts(text: string): {records: SourceRecord[]; problems: HostsProblem[]} {
  const records: SourceRecord[] = []
  const problems: HostsProblem[] = []
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/#.*/, '').trim()
    if (line === '') continue
    const [address, ...names] = line.split(/\s+/)
    const family = addressFamily(address!)
    if (!family) {
      problems.push({line: i + 1, text: raw.trim(), reason: `"${address}" is not an IP address`})
      continue
    }
    if (names.length === 0) {
      problems.push({line: i + 1, text: raw.trim(), reason: 'no name after the address'})
      continue
    }
    for (const name of names) records.push({name, type: family === 4 ? 'A' : 'AAAA', value: address!})
  }
  return {records, problems}
}

/**
 * Keeps the `hosts` records of the store equal to the files of a directory:
 * loads them at start, then reloads on change (fs.watch, debounced) and on a
 * slow timer as a safety net. Files whose name starts with `.` (editor swap
 * files, `.git`) are ignored.
 */
export class HostsDirectory {
  private watcher: FSWatcher | undefined
  private timer: NodeJS.Timeout | undefined
  private interval: NodeJS.Timeout | undefined
  private readonly reported = new Set<string>()
  private files = 0
  running = false

  constructor(
    private readonly directory: string,
    private readonly store: RecordStore,
    private readonly logger: Logger,
    private readonly options: {debounceMs?: number; rescanMs?: number} = {},
  ) {}

  get fileCount(): number {
    return this.files
  }

  async start(): Promise<void> {
    await this.check()
    await this.load()
    try {
      this.watcher = watch(this.directory, {persistent: false}, (_event, file) => {
        if (file && String(file).startsWith('.')) return
        this.schedule()
      })
      this.watcher.on('error', (error) => {
        this.logger.warn('hosts directory watch failed; rescanning on a timer', {error: errorMessage(error)})
      })
    } catch (error) {
      this.logger.warn('cannot watch the hosts directory; rescanning on a timer', {error: errorMessage(error)})
    }
    this.interval = setInterval(() => this.schedule(), this.options.rescanMs ?? 30_000)
    this.interval.unref()
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
    if (this.timer) clearTimeout(this.timer)
    if (this.interval) clearInterval(this.interval)
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

  /** Reads every file again and replaces the `hosts` records at once. */
  async load(): Promise<void> {
    const byFile = new Map<string, SourceRecord[]>()
    let entries: string[]
    try {
      entries = await readdir(this.directory)
    } catch (error) {
      this.logger.warn('cannot list the hosts directory; keeping the records loaded before', {
        directory: this.directory,
        error: errorMessage(error),
      })
      return
    }
    for (const name of entries.sort()) {
      if (name.startsWith('.')) continue
      const file = join(this.directory, name)
      let text: string
      try {
        const info = await stat(file)
        if (!info.isFile() || info.size > 16 * 1024 * 1024) continue
        text = await readFile(file, 'utf8')
      } catch {
        continue // removed between listing and reading
      }
      const {records, problems} = parseHosts(text)
      for (const problem of problems) {
        const key = `${file}:${problem.line}:${problem.text}`
        if (this.reported.has(key)) continue
        this.reported.add(key)
        this.logger.warn('hosts line ignored', {file, line: problem.line, reason: problem.reason})
      }
      byFile.set(file, records)
    }
    this.files = byFile.size
    this.store.replaceKind('hosts', byFile)
  }
}
