import {TransientError, UserError, errorMessage} from '../errors.js'
import type {Logger} from '../log/logger.js'
import {sleep} from '../time/sleep.js'
import {post} from './http.js'
import {type UpdateNotice, noticeLines, noticeTitle, truncate} from './message.js'

export type NotifierType = 'webhook' | 'ntfy' | 'gotify' | 'discord' | 'slack'

export interface NotifierConfig {
  type: NotifierType
  url: string
  token?: string
  topic?: string
  name?: string
  priority?: number
}

export interface Notifier {
  /** For logs: the name or type, never the URL. */
  readonly label: string
  send(notice: UpdateNotice): Promise<void>
}

const COLORS = {update_available: 0xf0b400, update_applied: 0x2e9e44, update_failed: 0xd0312d} as const

export function createNotifier(config: NotifierConfig, options: {timeoutMs?: number} = {}): Notifier {
  const label = config.name ? `notifier ${config.name}` : `${config.type} notifier`
  const timeoutMs = options.timeoutMs ?? 10_000
  const send = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
    post(url, JSON.stringify(payload), {'content-type': 'application/json', ...headers}, label, timeoutMs)
  const bearer: Record<string, string> = config.token ? {authorization: `Bearer ${config.token}`} : {}

  switch (config.type) {
    // Generic webhook: one stable JSON document.
    case 'webhook':
      return {
        label,
        async send(notice) {
          await send(
            config.url,
            {
              source: 'homeops',
              event: notice.event,
              title: noticeTitle(notice),
              message: noticeLines(notice).join('\n'),
              workload: notice.workload,
              kind: notice.kind,
              image: notice.image,
              currentVersion: notice.currentVersion,
              newVersion: notice.newVersion,
              releaseNotesUrl: notice.releaseNotesUrl ?? null,
              summary: notice.summary ?? null,
              applyUrl: notice.applyUrl ?? null,
              applyExpiresAt: notice.applyExpiresAt ?? null,
              error: notice.error ?? null,
              host: notice.host ?? null,
            },
            bearer,
          )
        },
      }
    // ntfy JSON publishing (POST to the server root with the topic in the body): works with any title text.
    case 'ntfy':
      return {
        label,
        async send(notice) {
          if (!config.topic)
            throw new UserError(`${label}: topic is not set`, {hint: 'add topic: to the ntfy notifier'})
          const actions: {action: 'view'; label: string; url: string; clear?: boolean}[] = []
          if (notice.releaseNotesUrl)
            actions.push({action: 'view', label: 'Release notes', url: notice.releaseNotesUrl})
          if (notice.applyUrl) actions.push({action: 'view', label: 'Apply update', url: notice.applyUrl, clear: true})
          await send(
            config.url.replace(/\/+$/, ''),
            {
              topic: config.topic,
              title: noticeTitle(notice),
              // Links travel as click/actions buttons.
              message: noticeLines({...notice, releaseNotesUrl: undefined, applyUrl: undefined}).join('\n'),
              tags: [
                notice.event === 'update_failed'
                  ? 'warning'
                  : notice.event === 'update_applied'
                    ? 'white_check_mark'
                    : 'package',
              ],
              priority: Math.min(5, Math.max(1, config.priority ?? (notice.event === 'update_failed' ? 4 : 3))),
              ...(notice.releaseNotesUrl ? {click: notice.releaseNotesUrl} : {}),
              ...(actions.length > 0 ? {actions} : {}),
            },
            bearer,
          )
        },
      }
    // Gotify: POST /message with the application token, markdown body.
    case 'gotify':
      return {
        label,
        async send(notice) {
          await send(
            `${config.url.replace(/\/+$/, '')}/message`,
            {
              title: noticeTitle(notice),
              message: noticeLines(notice, (l, u) => `[${l}](${u})`).join('  \n'),
              priority: config.priority ?? (notice.event === 'update_failed' ? 8 : 5),
              extras: {
                'client::display': {contentType: 'text/markdown'},
                ...(notice.applyUrl || notice.releaseNotesUrl
                  ? {'client::notification': {click: {url: notice.applyUrl ?? notice.releaseNotesUrl}}}
                  : {}),
              },
            },
            config.token ? {'x-gotify-key': config.token} : {},
          )
        },
      }
    // Discord webhook: one embed, within Discord's field limits.
    case 'discord':
      return {
        label,
        async send(notice) {
          const fields = [
            {name: 'Current', value: truncate(notice.currentVersion, 1024), inline: true},
            {name: 'New', value: truncate(notice.newVersion, 1024), inline: true},
            {
              name: notice.kind === 'service' ? 'Service' : 'Container',
              value: truncate(notice.workload, 1024),
              inline: true,
            },
          ]
          if (notice.applyUrl)
            fields.push({name: 'Apply', value: `[Apply this update](${notice.applyUrl}) (one use)`, inline: false})
          if (notice.error) fields.push({name: 'Error', value: truncate(notice.error, 1024), inline: false})
          await send(`${config.url}${config.url.includes('?') ? '&' : '?'}wait=true`, {
            username: 'homeops',
            embeds: [
              {
                title: truncate(noticeTitle(notice), 256),
                description: truncate(`${notice.image}${notice.summary ? `\n\n${notice.summary}` : ''}`, 4096),
                ...(notice.releaseNotesUrl ? {url: notice.releaseNotesUrl} : {}),
                color: COLORS[notice.event],
                fields,
                footer: {text: notice.host ? `homeops on ${notice.host}` : 'homeops'},
                timestamp: new Date().toISOString(),
              },
            ],
          })
        },
      }
    // Slack incoming webhook: Block Kit with a plain-text fallback.
    case 'slack':
      return {
        label,
        async send(notice) {
          const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
          const buttons = []
          if (notice.releaseNotesUrl)
            buttons.push({
              type: 'button',
              text: {type: 'plain_text', text: 'Release notes'},
              url: notice.releaseNotesUrl,
            })
          if (notice.applyUrl)
            buttons.push({
              type: 'button',
              text: {type: 'plain_text', text: 'Apply update'},
              url: notice.applyUrl,
              style: 'primary',
            })
          const body = noticeLines({...notice, releaseNotesUrl: undefined, applyUrl: undefined})
            .map(esc)
            .join('\n')
          await send(config.url, {
            text: noticeTitle(notice),
            blocks: [
              {type: 'header', text: {type: 'plain_text', text: truncate(noticeTitle(notice), 150)}},
              {type: 'section', text: {type: 'mrkdwn', text: truncate(body, 3000)}},
              ...(buttons.length > 0 ? [{type: 'actions', elements: buttons}] : []),
            ],
          })
        },
      }
  }
}

export interface DeliveryReport {
  notifier: string
  ok: boolean
  error?: string
}

/**
 * Sends to every notifier; one failing does not stop the others. A transient
 * failure is retried once after a short pause.
 */
export async function notifyAll(
  notifiers: readonly Notifier[],
  notice: UpdateNotice,
  logger: Logger,
): Promise<DeliveryReport[]> {
  return Promise.all(
    notifiers.map(async (notifier) => {
      for (let attempt = 1; ; attempt++) {
        try {
          await notifier.send(notice)
          logger.info('notification sent', {
            notifier: notifier.label,
            workload: notice.workload,
            version: notice.newVersion,
          })
          return {notifier: notifier.label, ok: true}
        } catch (error) {
          if (error instanceof TransientError && attempt < 2) {
            await sleep(1000)
            continue
          }
          logger.warn('notification failed', {
            notifier: notifier.label,
            workload: notice.workload,
            error: errorMessage(error),
          })
          return {notifier: notifier.label, ok: false, error: errorMessage(error)}
        }
      }
    }),
  )
}
