import type {Context} from '../context.js'
import {ExitCode, UserError, errorMessage, worst} from '../errors.js'
import {sleep as abortableSleep} from '../time/sleep.js'
import {type Family, familyLabel} from './address.js'
import {DEFAULT_SOURCES, type Detection, type IpSource, detectAddress, parseSource} from './detect.js'
import {DdnsHttpClient, HttpFailure} from './http.js'
import {fatalHint} from './providers/dyndns2.js'
import {redact} from '../log/redact.js'
import {type AnswerKind, type DdnsProvider, MAX_REMOTE_DELAY_S, type ProviderAnswer} from './providers/provider.js'
import {type DdnsRecord, effectiveRecords, isCleartextRemote} from './records.js'
import {type AttemptInput, DdnsStore, type RecordState} from './store.js'

/**
 * What happened to one record and family in a pass:
 * - `sent`: a request reached the provider (see `result` for its answer);
 * - `skipped`: nothing to send (address unchanged) or nothing safe to send (detection failed);
 * - `blocked`: a previous fatal answer blocks this record until its config changes or `--force`;
 * - `deferred`: a previous transient failure set a "not before" time that has not passed;
 * - `dry-run`: would have been sent.
 */
export type DdnsAction = 'sent' | 'skipped' | 'blocked' | 'deferred' | 'dry-run'

export interface RecordReport {
  record: string
  hostname: string
  provider: string
  family: 'ipv4' | 'ipv6'
  detectedIp: string | null
  previousIp: string | null
  action: DdnsAction
  /** `good`, `nochg`, `unchanged`, `detection-failed`, a dyndns2 code (`badauth`, `911`…), `http-503`, `timeout`, `mismatch`, `unknown`. */
  result: string
  /** The provider's answer (first line), when one was received. */
  answer: string | null
  /** One sentence for people. */
  message: string
  tries: number
  /** Set when a later run must wait (deferred or just failed). */
  notBefore: string | null
  exitCode: number
}

export interface DetectionReport {
  family: 'ipv4' | 'ipv6'
  ip: string | null
  sources: string[]
  attempts: {source: string; ip?: string; error?: string; ms: number}[]
  error: string | null
}

export interface DdnsRunReport {
  /** Most severe of the records: 4 (needs a human) > 3 (retry later) > 1 (failed) > 0. */
  exitCode: number
  dryRun: boolean
  forced: boolean
  startedAt: string
  durationMs: number
  detection: DetectionReport[]
  records: RecordReport[]
}

export interface PassOptions {
  force?: boolean
  dryRun?: boolean
  /** `--record`: only these record names. */
  records?: string[]
  /** Defaults to `context.signal`. */
  signal?: AbortSignal
  now?: () => Date
  /** In-run back-off wait; tests replace it. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  random?: () => number
}

/** The configured sources per family, parsed; the built-in list when none are configured. */
export function ipSources(ddns: Context['config']['ddns']): Record<Family, IpSource[]> {
  const v4 = ddns.ipSources.v4.length > 0 ? ddns.ipSources.v4 : DEFAULT_SOURCES[4]
  const v6 = ddns.ipSources.v6.length > 0 ? ddns.ipSources.v6 : DEFAULT_SOURCES[6]
  return {
    4: v4.map((s, i) => parseSource(s, 4, `ddns.ipSources.v4[${i}] (DDNS_IP_SOURCES_V4)`)),
    6: v6.map((s, i) => parseSource(s, 6, `ddns.ipSources.v6[${i}] (DDNS_IP_SOURCES_V6)`)),
  }
}

/** Checks the ddns configuration as a whole (records and sources) without any I/O. */
export function checkDdnsConfig(ddns: Context['config']['ddns']): {
  records: DdnsRecord[]
  sources: Record<Family, IpSource[]>
} {
  return {records: effectiveRecords(ddns), sources: ipSources(ddns)}
}

/**
 * The context with the ddns area's own log level (`ddns.logLevel`, DDNS_LOG_LEVEL of the original tool),
 * unless the user asked for a level on the command line (`--log-level`, `--debug`), which wins.
 */
export function withDdnsLogLevel(context: Context, explicitLevel: boolean): Context {
  const level = context.config.ddns.logLevel
  if (!level || explicitLevel) return context
  return {...context, logger: context.logger.child({}, level)}
}

interface Work {
  record: DdnsRecord
  family: Family
  previousIp: string | null
  state: RecordState | undefined
  report: RecordReport
}

/**
 * One pass over every record (`ddns update`, and each tick of `ddns serve`):
 * honour blocks and persisted back-off, detect the public addresses the
 * remaining records need, send only what changed, retry transient failures
 * with exponential back-off and jitter, and persist the outcome.
 */
export async function runPass(context: Context, options: PassOptions = {}): Promise<DdnsRunReport> {
  const started = performance.now()
  const now = options.now ?? (() => new Date())
  const signal = options.signal ?? context.signal
  const ddns = context.config.ddns
  const logger = context.logger
  const {records: all, sources} = checkDdnsConfig(ddns)
  const records = selectRecords(all, options.records)
  const store = new DdnsStore(await context.state())
  const startedAt = now().toISOString()
  const work: Work[] = []

  for (const record of records) {
    if (!options.dryRun && isCleartextRemote(record.server)) {
      logger.warn('ddns credentials go over plain http to a remote host', {record: record.name})
    }
    let block = store.block(record.name)
    if (block && block.fingerprint !== record.fingerprint && !options.dryRun) {
      logger.info('ddns record configuration changed: clearing its block', {record: record.name, reason: block.reason})
      store.clearBlock(record.name)
      block = undefined
    } else if (block && options.force && !options.dryRun) {
      logger.info('ddns --force: clearing the block', {record: record.name, reason: block.reason})
      store.clearBlock(record.name)
      block = undefined
    }
    for (const family of record.families) {
      const state = store.state(record.name, family)
      const sameTarget = state?.target === record.target
      const previousIp = sameTarget ? (state?.lastIp ?? null) : null
      const report: RecordReport = {
        record: record.name,
        hostname: record.hostname,
        provider: record.provider,
        family: family === 4 ? 'ipv4' : 'ipv6',
        detectedIp: null,
        previousIp,
        action: 'skipped',
        result: 'pending',
        answer: null,
        message: '',
        tries: 0,
        notBefore: null,
        exitCode: 0,
      }
      if (block && !(block.fingerprint !== record.fingerprint || options.force)) {
        const hint = fatalHint(block.reason)
        Object.assign(report, {
          action: 'blocked',
          result: block.reason,
          answer: block.message,
          exitCode: ExitCode.fatalRemote,
          message: `blocked since ${block.blockedAt}: ${block.reason}${hint ? ` (${hint})` : ''}; nothing sent until its configuration changes or \`homeops ddns update --force\``,
        })
      } else if (sameTarget && state?.notBefore && Date.parse(state.notBefore) > now().getTime() && !options.force) {
        Object.assign(report, {
          action: 'deferred',
          result: state.lastResult ?? 'deferred',
          answer: state.lastMessage,
          notBefore: state.notBefore,
          // One answer, one exit code: the run that deferred and every deferred run after it agree.
          exitCode: state.lastExitCode ?? ExitCode.temporary,
          message: `deferred until ${state.notBefore} after ${state.lastResult ?? 'a failure'} (${state.failures} failure${state.failures === 1 ? '' : 's'} in a row); \`--force\` sends now`,
        })
      }
      work.push({record, family, previousIp, state: sameTarget ? state : undefined, report})
    }
  }

  // Detect only what some record still needs (a fully blocked or deferred setup asks nobody), once per family
  // and source list: records with their own sources (`ddns.records[].ipSources`) get their own detection.
  const sourcesOf = (record: DdnsRecord, family: Family) => record.sources?.[family] ?? sources[family]
  const groups = new Map<string, {family: Family; sources: IpSource[]}>()
  for (const w of work) {
    if (w.report.result !== 'pending') continue
    const list = sourcesOf(w.record, w.family)
    groups.set(sourceKey(w.family, list), {family: w.family, sources: list})
  }
  const http = new DdnsHttpClient({
    userAgent: `homeops/${context.version}`,
    timeoutMs: ddns.requestTimeout * 1000,
    signal,
  })
  const detections = new Map<string, Detection>()
  try {
    const results = await Promise.all(
      [...groups.entries()].map(async ([key, group]) => {
        const detection = await detectAddress(group.family, group.sources, {
          http,
          timeoutMs: ddns.requestTimeout * 1000,
          requireAgreement: ddns.requireAgreement,
          signal,
        })
        return [key, detection] as const
      }),
    )
    for (const [key, detection] of results) {
      detections.set(key, detection)
      logDetection(context, detection)
    }
    const detectionOf = (record: DdnsRecord, family: Family) =>
      detections.get(sourceKey(family, sourcesOf(record, family)))

    const providers = new Map<string, DdnsProvider>()
    const blockedNow = new Set<string>()
    for (const item of work) {
      const {record, family, report} = item
      if (report.result !== 'pending') continue
      if (signal.aborted) {
        Object.assign(report, {result: 'stopped', message: 'stopped before sending', exitCode: ExitCode.temporary})
        continue
      }
      if (blockedNow.has(record.name)) {
        const block = store.block(record.name)
        Object.assign(report, {
          action: 'blocked',
          result: block?.reason ?? 'blocked',
          answer: block?.message ?? null,
          exitCode: ExitCode.fatalRemote,
          message: `not sent: the ${family === 4 ? 'IPv6' : 'IPv4'} update of this record was just refused`,
        })
        continue
      }
      try {
        const outcome = await handle(context, store, item, detectionOf, providers, http, options, signal, now)
        if (outcome === 'fatal') blockedNow.add(record.name)
      } catch (error) {
        // One record never stops the others: a bug or an unexpected answer fails this record only.
        Object.assign(report, {
          result: 'error',
          exitCode: ExitCode.failure,
          message: `failed: ${redact(errorMessage(error))}`,
        })
      }
    }
  } finally {
    await http.close()
  }

  const report: DdnsRunReport = {
    exitCode: worst(work.map((w) => w.report.exitCode)),
    dryRun: options.dryRun ?? false,
    forced: options.force ?? false,
    startedAt,
    durationMs: Math.round(performance.now() - started),
    detection: [...detections.values()].map((d) => ({
      family: d.family === 4 ? 'ipv4' : 'ipv6',
      ip: d.ip ?? null,
      sources: d.sources,
      attempts: d.attempts,
      error: d.error ?? null,
    })),
    records: work.map((w) => w.report),
  }
  for (const w of work) logRecord(context, w.report)
  if (!options.dryRun && ddns.notifiers.length > 0) {
    const {ddnsNotices, sendDdnsNotices} = await import('./notices.js')
    const failures = (name: string, family: 'ipv4' | 'ipv6') =>
      store.state(name, family === 'ipv4' ? 4 : 6)?.failures ?? 0
    await sendDdnsNotices(context, ddnsNotices(report.records, failures, ddns.notifyAfterFailures))
  }
  return report
}

/** Detect → compare → (check by DNS) → send → persist, for one record and family. */
async function handle(
  context: Context,
  store: DdnsStore,
  item: Work,
  detectionOf: (record: DdnsRecord, family: Family) => Detection | undefined,
  providers: Map<string, DdnsProvider>,
  http: DdnsHttpClient,
  options: PassOptions,
  signal: AbortSignal,
  now: () => Date,
): Promise<AnswerKind | undefined> {
  const {record, family, report} = item
  const ddns = context.config.ddns
  const detection = detectionOf(record, family)!
  if (!detection.ip) {
    Object.assign(report, {
      result: 'detection-failed',
      exitCode: ExitCode.temporary,
      message: `${familyLabel(family)} detection failed (${detection.error}); nothing sent, the record keeps its address`,
    })
    return undefined
  }
  report.detectedIp = detection.ip
  const state = item.state
  const refreshDue = refreshIsDue(state, ddns.maxAgeDays, now())
  if (detection.ip === item.previousIp && !options.force && !refreshDue) {
    Object.assign(report, {result: 'unchanged', message: `unchanged: the provider already has ${detection.ip}`})
    if (!options.dryRun) store.checked({record: record.name, family}, detection.ip, now().toISOString())
    return undefined
  }
  const reason = detection.ip === item.previousIp && refreshDue && !options.force ? 'refresh' : 'change'
  if (options.dryRun) {
    Object.assign(report, {
      action: 'dry-run',
      result: 'would-send',
      message:
        reason === 'refresh'
          ? `would resend ${detection.ip} (last accepted ${state?.lastSuccessAt}, older than ${ddns.maxAgeDays} days)`
          : `would send ${detection.ip}${item.previousIp ? ` (provider has ${item.previousIp})` : ' (first update)'}`,
    })
    return undefined
  }
  // The last send of this very address ended without an answer: the provider may hold it already. Ask DNS first.
  if (
    state &&
    !options.force &&
    (state.lastResult === 'timeout' || state.lastResult === 'stopped') &&
    state.lastDetectedIp === detection.ip
  ) {
    const {recordHolds} = await import('./dns-check.js')
    if (
      await recordHolds(record.hostname, family, detection.ip, {resolver: ddns.checkResolver, timeoutMs: 2000, signal})
    ) {
      store.confirmed(
        attemptOf(item, detection.ip, {kind: 'good', code: 'confirmed', text: 'confirmed by DNS'}, 0, 0, now()),
      )
      Object.assign(report, {
        action: 'skipped',
        result: 'confirmed',
        message: `the last update's outcome was unknown; DNS shows ${record.hostname} at ${detection.ip}: nothing sent`,
      })
      return undefined
    }
  }
  let provider = providers.get(record.name)
  if (!provider) {
    const {createProvider} = await import('./providers/factory.js')
    provider = await createProvider({record, http})
    providers.set(record.name, provider)
  }
  const detected: Partial<Record<Family, string>> = {}
  for (const f of [4, 6] as const) {
    const ip = detectionOf(record, f)?.ip
    if (ip) detected[f] = ip
  }
  const outcome = await send(context, provider, item, detection.ip, detected, options, signal)
  persist(context, store, item, detection.ip, outcome, now, options.random ?? Math.random)
  if (reason === 'refresh' && report.exitCode === 0) {
    report.message = `resent ${detection.ip}: the last accepted update is older than ${ddns.maxAgeDays} days (${report.message})`
  }
  return outcome.answer.kind
}

/** Periodic refresh (ddclient's max-interval): the provider last accepted this address more than `maxAgeDays` ago. */
export function refreshIsDue(state: RecordState | undefined, maxAgeDays: number, now: Date): boolean {
  if (!state?.lastSuccessAt || maxAgeDays <= 0) return false
  return now.getTime() - Date.parse(state.lastSuccessAt) > maxAgeDays * 86_400_000
}

function attemptOf(
  item: Work,
  ip: string,
  answer: ProviderAnswer,
  tries: number,
  durationMs: number,
  at: Date,
): AttemptInput {
  const {record, family} = item
  return {
    at: at.toISOString(),
    record: record.name,
    family,
    hostname: record.hostname,
    provider: record.provider,
    target: record.target,
    ip,
    previousIp: item.previousIp,
    result: answer.code,
    // Providers answer through the masking HTTP client; masked again here so nothing else can slip through.
    answer: redact(answer.text),
    httpStatus: answer.httpStatus,
    tries,
    durationMs,
    exitCode: exitCodeOf(answer),
  }
}

function exitCodeOf(answer: ProviderAnswer): number {
  switch (answer.kind) {
    case 'good':
    case 'nochg':
      return ExitCode.ok
    case 'fatal':
      return ExitCode.fatalRemote
    case 'error':
      return ExitCode.failure
    default:
      return ExitCode.temporary
  }
}

function sourceKey(family: Family, list: IpSource[]): string {
  return `${family} ${list.map((s) => s.label).join(' ')}`
}

function selectRecords(all: DdnsRecord[], names: string[] | undefined): DdnsRecord[] {
  if (all.length === 0) {
    throw new UserError('no ddns records are configured', {
      hint: 'set INFOMANIAK_DDNS_HOSTNAME/USERNAME/PASSWORD, or add ddns.records to the config file',
    })
  }
  if (!names || names.length === 0) return all
  const unknown = names.filter((n) => !all.some((r) => r.name.toLowerCase() === n.toLowerCase()))
  if (unknown.length > 0) {
    throw new UserError(`no ddns record named ${unknown.map((n) => `"${n}"`).join(', ')}`, {
      hint: `configured records: ${all.map((r) => r.name).join(', ')}`,
    })
  }
  return all.filter((r) => names.some((n) => n.toLowerCase() === r.name.toLowerCase()))
}

/** The longest a run waits between two tries of a provider it could not reach. */
const MAX_IN_RUN_WAIT_MS = 5000

function failureAnswer(error: unknown): ProviderAnswer {
  if (!(error instanceof HttpFailure)) return {kind: 'error', code: 'error', text: redact(errorMessage(error))}
  switch (error.kind) {
    case 'aborted':
      return {kind: 'unknown', code: 'stopped', text: 'stopped while sending; outcome unknown'}
    case 'timeout':
      return {kind: 'unknown', code: 'timeout', text: `${error.message}; outcome unknown`}
    case 'unreachable':
      return {kind: 'unreached', code: 'unreachable', text: error.message}
    default:
      return {kind: 'unreached', code: 'network', text: error.message}
  }
}

interface SendOutcome {
  answer: ProviderAnswer
  tries: number
  durationMs: number
}

async function send(
  context: Context,
  provider: DdnsProvider,
  item: Work,
  ip: string,
  detected: Partial<Record<Family, string>>,
  options: PassOptions,
  signal: AbortSignal,
): Promise<SendOutcome> {
  const {maxRetries, retryBackoff} = context.config.ddns
  const sleep = options.sleep ?? abortableSleep
  const random = options.random ?? Math.random
  const started = performance.now()
  let answer: ProviderAnswer = {kind: 'unknown', code: 'stopped', text: 'stopped'}
  let tries = 0
  // One request per record per run for any answer the provider gave (dyndns2: after 911 or dnserr, nothing for
  // 30 minutes). Only a connection that never reached the provider is tried again, briefly, within the run.
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    tries++
    try {
      answer = await provider.update({family: item.family, ip, detected})
    } catch (error) {
      answer = failureAnswer(error)
    }
    if (answer.kind !== 'unreached' || attempt === maxRetries || signal.aborted) break
    // Exponential with jitter (×0.5–1.5), capped: a timer run never waits more than a few seconds.
    const wait = Math.min(retryBackoff * 1000 * 2 ** attempt * (0.5 + random()), MAX_IN_RUN_WAIT_MS)
    context.logger.warn('ddns provider unreachable, retrying', {
      record: item.record.name,
      family: familyLabel(item.family),
      error: answer.text,
      retryInSeconds: Math.round(wait / 100) / 10,
      attempt: attempt + 1,
      of: maxRetries + 1,
    })
    await sleep(wait, signal)
  }
  if ((answer.kind === 'good' || answer.kind === 'nochg') && answer.echoedIp && answer.echoedIp !== ip) {
    answer = {
      ...answer,
      kind: 'error',
      code: 'mismatch',
      text: `${answer.text} (the provider reports ${answer.echoedIp}, but ${ip} was sent)`,
    }
  }
  return {answer, tries, durationMs: Math.round(performance.now() - started)}
}

function persist(
  context: Context,
  store: DdnsStore,
  item: Work,
  ip: string,
  outcome: SendOutcome,
  now: () => Date,
  random: () => number,
): void {
  const {record, family, report} = item
  const {answer} = outcome
  const attempt = attemptOf(item, ip, answer, outcome.tries, outcome.durationMs, now())
  Object.assign(report, {
    action: 'sent',
    result: answer.code,
    answer: attempt.answer,
    tries: outcome.tries,
    exitCode: attempt.exitCode,
  })
  const tries = `${outcome.tries} tr${outcome.tries === 1 ? 'y' : 'ies'}`
  switch (answer.kind) {
    case 'good':
    case 'nochg':
      store.succeeded(attempt)
      report.message =
        answer.kind === 'good'
          ? `updated to ${ip}${item.previousIp ? ` (was ${item.previousIp})` : ''}`
          : `the provider already had ${ip}`
      return
    case 'fatal': {
      store.blocked(attempt, record.fingerprint)
      const hint = fatalHint(answer.code)
      report.message = `refused: ${answer.code}${hint ? ` (${hint})` : ''}; the record is blocked until its configuration changes or \`homeops ddns update --force\``
      return
    }
    case 'unknown':
      store.unsettled(attempt)
      report.message =
        answer.code === 'stopped'
          ? 'stopped while sending, outcome unknown; the next run checks and decides'
          : `${answer.text}: not resent in this run; the next run checks and decides`
      return
    case 'unreached':
      store.unsettled(attempt)
      report.message = `provider not reached (${answer.text}) after ${tries}; the next run tries again`
      return
    default: {
      if (answer.retryAfterRaw !== undefined) {
        context.logger.warn('ddns provider asked for an out-of-range delay; clamped', {
          record: record.name,
          retryAfter: answer.retryAfterRaw,
          clampedToSeconds: answer.retryAfterSeconds ?? 'ignored',
        })
      }
      const failures = store.failures({record: record.name, family, target: record.target}) + 1
      const delay = deferDelay(answer, failures, random)
      const notBefore = new Date(now().getTime() + delay).toISOString()
      store.failed(attempt, notBefore)
      report.notBefore = notBefore
      report.message = `${answer.kind === 'transient' ? 'provider unavailable' : 'failed'}: ${attempt.answer}; next attempt not before ${notBefore}`
      context.logger.debug('ddns back-off persisted', {record: record.name, failures, notBefore})
    }
  }
}

/**
 * The persisted back-off after a run gave up: dyndns2 asks clients to wait at
 * least 30 minutes after 911/dnserr; other failures start at 5 minutes. Doubles
 * per consecutive failure (capped at 4 h / 1 h), ±20 % jitter, never shorter
 * than the provider's Retry-After.
 */
export function deferDelay(answer: ProviderAnswer, failures: number, random: () => number = Math.random): number {
  const serverSide = answer.code === '911' || answer.code === 'dnserr'
  const base = serverSide ? 30 * 60_000 : 5 * 60_000
  const cap = serverSide ? 4 * 3600_000 : 3600_000
  const exponent = Math.min(Math.max(0, failures - 1), 20)
  const delay = Math.min(base * 2 ** exponent, cap) * (0.8 + 0.4 * random())
  // The remote's wish is already clamped (MAX_REMOTE_DELAY_S); clamp again so no caller can defer for years.
  const asked = Math.min(answer.retryAfterSeconds ?? 0, MAX_REMOTE_DELAY_S) * 1000
  return Math.max(Math.round(delay), asked)
}

function logDetection(context: Context, detection: Detection): void {
  const family = familyLabel(detection.family)
  for (const attempt of detection.attempts) {
    if (attempt.error)
      context.logger.warn('ddns ip source failed', {family, source: attempt.source, error: attempt.error})
  }
  if (detection.ip)
    context.logger.debug('ddns public address', {family, ip: detection.ip, source: detection.sources.join(',')})
  else context.logger.error('ddns address detection failed', {family, error: detection.error})
}

function logRecord(context: Context, report: RecordReport): void {
  const fields = {
    record: report.record,
    family: report.family,
    action: report.action,
    result: report.result,
    ip: report.detectedIp ?? undefined,
    previous: report.previousIp ?? undefined,
    answer: report.answer ?? undefined,
  }
  if (report.exitCode === ExitCode.fatalRemote) context.logger.error(`ddns ${report.message}`, fields)
  else if (report.exitCode !== ExitCode.ok) context.logger.warn(`ddns ${report.message}`, fields)
  else if (report.action === 'sent') context.logger.info(`ddns ${report.message}`, fields)
  else context.logger.debug(`ddns ${report.message}`, fields)
}
