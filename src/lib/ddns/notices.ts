import type {Context} from '../context.js'
import {errorMessage} from '../errors.js'
import type {RecordReport} from './updater.js'

/**
 * What ddns tells people: a record's address changed, a record was blocked (badauth, nohost, abuse…), or a
 * record has failed `ddns.notifyAfterFailures` runs in a row. Shaped like the notifier layer's notices
 * (source, event, subject, title, lines, level, data), so the one adapter below is all that touches it.
 */
export interface DdnsNotice {
  source: 'ddns'
  event: 'address_changed' | 'record_blocked' | 'record_failing'
  subject: string
  title: string
  lines: string[]
  level: 'success' | 'error' | 'warning'
  data: Record<string, string | number | null>
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
        level: 'warning',
        data: {...data, failures: threshold},
      })
    }
  }
  return out
}

/**
 * Sends the notices through the notifiers configured in `ddns.notifiers` (the same notifier types and keys
 * as images). A notifier that fails is logged; it never changes the run's outcome.
 */
export async function sendDdnsNotices(context: Context, notices: DdnsNotice[]): Promise<void> {
  const configs = context.config.ddns.notifiers
  if (notices.length === 0 || configs.length === 0) return
  try {
    const {createNotifier, notifyAll} = await import('../notify/notifiers.js')
    const notifiers = configs.map((n) =>
      createNotifier({type: n.type, url: n.url!, token: n.token, topic: n.topic, name: n.name, priority: n.priority}),
    )
    const {hostname} = await import('node:os')
    for (const notice of notices) {
      const data = notice.data
      await notifyAll(
        notifiers,
        {
          event: notice.event === 'address_changed' ? 'update_applied' : 'update_failed',
          workload: `ddns ${notice.subject}`,
          kind: 'container',
          image: String(data.hostname),
          currentVersion: String(data.previousIp ?? '(none)'),
          newVersion: String(data.ip ?? '-'),
          error: notice.event === 'address_changed' ? undefined : `${notice.title}: ${notice.lines.join(' ')}`,
          host: hostname(),
        },
        context.logger,
      )
    }
  } catch (error) {
    context.logger.warn('ddns notifications failed', {error: errorMessage(error)})
  }
}
