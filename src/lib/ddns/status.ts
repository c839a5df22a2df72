import type {Context} from '../context.js'
import {UserError} from '../errors.js'
import {fatalHint} from './providers/dyndns2.js'
import {effectiveRecords} from './records.js'
import {type AttemptRow, DdnsStore} from './store.js'

export interface RecordStatus {
  record: string
  hostname: string
  provider: string
  family: 'ipv4' | 'ipv6'
  /** The address the provider last accepted (null: never, or the record now points elsewhere). */
  lastIp: string | null
  lastIpAt: string | null
  lastDetectedIp: string | null
  lastCheckedAt: string | null
  lastResult: string | null
  lastMessage: string | null
  lastResultAt: string | null
  lastSuccessAt: string | null
  failures: number
  blocked: {reason: string; message: string; since: string; hint: string | null} | null
  /** ISO time before which no update is sent (persisted back-off); null when free to send. */
  nextAttemptNotBefore: string | null
}

export interface DdnsStatusReport {
  records: RecordStatus[]
}

export interface HistoryEntry {
  at: string
  record: string
  hostname: string
  provider: string
  family: 'ipv4' | 'ipv6'
  ip: string | null
  previousIp: string | null
  result: string
  answer: string | null
  httpStatus: number | null
  tries: number
  durationMs: number | null
}

export interface DdnsHistoryReport {
  entries: HistoryEntry[]
}

/** Per configured record and family: last accepted IP, last result and when, blocked reason, next allowed attempt. */
export async function ddnsStatus(context: Context, now: Date = new Date()): Promise<DdnsStatusReport> {
  const records = effectiveRecords(context.config.ddns)
  const store = new DdnsStore(await context.state())
  const out: RecordStatus[] = []
  for (const record of records) {
    const block = store.block(record.name)
    const activeBlock = block && block.fingerprint === record.fingerprint ? block : undefined
    for (const family of record.families) {
      const raw = store.state(record.name, family)
      const state = raw && raw.target === record.target ? raw : undefined
      const notBefore = state?.notBefore && Date.parse(state.notBefore) > now.getTime() ? state.notBefore : null
      out.push({
        record: record.name,
        hostname: record.hostname,
        provider: record.provider,
        family: family === 4 ? 'ipv4' : 'ipv6',
        lastIp: state?.lastIp ?? null,
        lastIpAt: state?.lastIpAt ?? null,
        lastDetectedIp: state?.lastDetectedIp ?? null,
        lastCheckedAt: state?.lastCheckedAt ?? null,
        lastResult: state?.lastResult ?? null,
        lastMessage: state?.lastMessage ?? null,
        lastResultAt: state?.lastResultAt ?? null,
        lastSuccessAt: state?.lastSuccessAt ?? null,
        failures: state?.failures ?? 0,
        blocked: activeBlock
          ? {
              reason: activeBlock.reason,
              message: activeBlock.message,
              since: activeBlock.blockedAt,
              hint: fatalHint(activeBlock.reason) ?? null,
            }
          : null,
        nextAttemptNotBefore: notBefore,
      })
    }
  }
  return {records: out}
}

/** Past attempts that reached a provider, newest first. */
export async function ddnsHistory(
  context: Context,
  options: {limit?: number; record?: string} = {},
): Promise<DdnsHistoryReport> {
  const limit = options.limit ?? 20
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
    throw new UserError(`--limit must be a whole number from 1 to 10000, got ${limit}`)
  }
  const store = new DdnsStore(await context.state())
  return {entries: store.history({limit, record: options.record}).map(toEntry)}
}

function toEntry(row: AttemptRow): HistoryEntry {
  return {
    at: row.at,
    record: row.record,
    hostname: row.hostname,
    provider: row.provider,
    family: row.family === 4 ? 'ipv4' : 'ipv6',
    ip: row.ip,
    previousIp: row.previousIp,
    result: row.result,
    answer: row.answer,
    httpStatus: row.httpStatus,
    tries: row.tries,
    durationMs: row.durationMs,
  }
}
