import type {Context} from '../context.js'
import {errorMessage} from '../errors.js'
import type {Notice} from '../notify/message.js'
import type {RecordReport} from './updater.js'

/**
 * What ddns tells people, as the notifier layer's notices: a record's address changed, a record was blocked
 * (badauth, nohost, abuse…), or a record has failed `ddns.notifyAfterFailures` runs in a row. No `rank`:
 * every notifier gets them whatever its version threshold.
 */
export type DdnsNotice = Notice & {
  source: 'ddns'
  event: 'address_changed' | 'record_blocked' | 'record_failing'
}

/** The notices one pass gives, from its records' reports and their consecutive failure counts. */
export function ddnsNotices(
  records: RecordReport[],
  failures: (record: string, family: 'ipv4' | 'ipv6') => number,
  threshold: number,
): DdnsNotice[] {
  const out: DdnsNotice[] = []
  for (const r of records) {
    const family = r.family === 'ipv4' ? 'IPv4' : 'IPv6'
    const subject = `${r.record} (${family})`
    const data = {
      record: r.record,
      hostname: r.hostname,
      provider: r.provider,
      family: r.family,
      ip: r.detectedIp,
      previousIp: r.previousIp,
      result: r.result,
    }
    if (r.action === 'sent' && r.result === 'good' && r.previousIp !== r.detectedIp) {
      out.push({
        source: 'ddns',
        event: 'address_changed',
        subject,
        title: `${r.hostname} now points at ${r.detectedIp}`,
        lines: [`${family} of ${r.hostname} (${r.provider}): ${r.previousIp ?? '(none)'} → ${r.detectedIp}`],
        links: [],
        level: 'success',
        data,
      })
    } else if (r.action === 'sent' && r.exitCode === 4) {
      out.push({
        source: 'ddns',
        event: 'record_blocked',
        subject,
        title: `${r.hostname} is blocked: ${r.result}`,
        lines: [`${r.provider} refused the ${family} update (${r.answer ?? r.result}).`, r.message],
        links: [],
        level: 'error',
        data,
      })
    } else if (r.exitCode !== 0 && r.action === 'sent' && threshold > 0 && failures(r.record, r.family) === threshold) {
      out.push({
        source: 'ddns',
        event: 'record_failing',
        subject,
        title: `${r.hostname} has failed ${threshold} runs in a row`,
        lines: [`Last ${family} result from ${r.provider}: ${r.result} (${r.answer ?? r.message})`, r.message],
        links: [],
        level: 'warning',
        data: {...data, failures: threshold},
      })
    }
  }
  return out
}

/**
 * Sends the notices through the notifiers configured in `ddns.notifiers` (the notifier layer's types and keys):
 * one digest per notifier and run. A notifier that fails is logged; it never changes the run's outcome.
 */
export async function sendDdnsNotices(context: Context, notices: DdnsNotice[]): Promise<void> {
  const configs = context.config.ddns.notifiers
  if (notices.length === 0 || configs.length === 0) return
  try {
    const [{createNotifiers, deliver}, {hostname}] = await Promise.all([
      import('../notify/notifiers.js'),
      import('node:os'),
    ])
    await deliver(createNotifiers(configs, 'ddns.notifiers'), notices, {
      logger: context.logger,
      title: (count) => (count === 1 ? notices[0]!.title : `homeops ddns: ${count} records`),
      host: hostname(),
    })
  } catch (error) {
    context.logger.warn('ddns notifications failed', {error: errorMessage(error)})
  }
}
