import {randomUUID} from 'node:crypto'

import {OperationError, TransientError, UserError, errorMessage} from '../errors.js'
import type {Logger} from '../log/logger.js'
import {sleep} from '../time/sleep.js'
import {post} from './http.js'
import {
  type Digest,
  type Notice,
  type NoticeLevel,
  type StateEntity,
  type Threshold,
  digestBody,
  digestLevel,
  digestTitle,
  escapeHtml,
  passesThreshold,
  truncate,
} from './message.js'

export type NotifierType =
  | 'webhook'
  | 'ntfy'
  | 'gotify'
  | 'discord'
  | 'slack'
  | 'email'
  | 'telegram'
  | 'pushover'
  | 'matrix'
  | 'apprise'
  | 'mqtt'
  | 'command'

export interface NotifierConfig {
  type: NotifierType
  url?: string
  token?: string
  topic?: string
  name?: string
  priority?: number
  threshold?: Threshold
  from?: string
  to?: string[]
  chatId?: string
  user?: string
  room?: string
  discoveryPrefix?: string
  command?: string[]
  timeoutSeconds?: number
}

/** One delivery channel. Generic: images and ddns hand it `Digest`s of their own notices. */
export interface Notifier {
  /** For logs: the name or type, never the URL. */
  readonly label: string
  readonly threshold: Threshold
  send(digest: Digest): Promise<void>
  /**
   * Mirrors the state of every watched thing of one source (MQTT → Home Assistant `update` entities);
   * things gone since the last call are removed.
   */
  publishState?(source: string, entities: readonly StateEntity[], host: string): Promise<void>
}

const COLORS: Record<NoticeLevel, number> = {info: 0xf0b400, success: 0x2e9e44, warning: 0xf0b400, error: 0xd0312d}

const REQUIRED: Record<NotifierType, (keyof NotifierConfig)[]> = {
  webhook: ['url'],
  ntfy: ['url', 'topic'],
  gotify: ['url', 'token'],
  discord: ['url'],
  slack: ['url'],
  email: ['url', 'to'],
  telegram: ['token', 'chatId'],
  pushover: ['token', 'user'],
  matrix: ['url', 'token', 'room'],
  apprise: ['url'],
  mqtt: ['url'],
  command: ['command'],
}

/** What a notifier of this type lacks, for a clear error at start rather than at the first update. */
export function missingNotifierKeys(config: NotifierConfig): string[] {
  return REQUIRED[config.type].filter((key) => {
    const value = config[key]
    return value === undefined || value === '' || (Array.isArray(value) && value.length === 0)
  })
}

/**
 * The notifiers of one group's config list (`images.notifiers`, `ddns.notifiers`); a notifier lacking a key
 * it needs is a config error naming its place (`where[i]`).
 */
export function createNotifiers(configs: readonly NotifierConfig[], where: string): Notifier[] {
  return configs.map((n, i) => {
    const missing = missingNotifierKeys(n)
    if (missing.length > 0)
      throw new UserError(`${where}[${i}] (${n.name ?? n.type}) lacks ${missing.join(', ')}`, {
        hint: `a ${n.type} notifier needs ${missing.join(' and ')}; see the notifier table in docs/images.md`,
      })
    return createNotifier(n)
  })
}

export function createNotifier(config: NotifierConfig, options: {timeoutMs?: number} = {}): Notifier {
  const label = config.name ? `notifier ${config.name}` : `${config.type} notifier`
  const timeoutMs = options.timeoutMs ?? (config.timeoutSeconds ?? 10) * 1000
  const threshold = config.threshold ?? 'ALL'
  const sendJson = (
    url: string,
    payload: unknown,
    headers: Record<string, string> = {},
    method: 'POST' | 'PUT' = 'POST',
  ) => post(url, JSON.stringify(payload), {'content-type': 'application/json', ...headers}, label, timeoutMs, method)
  const bearer: Record<string, string> = config.token ? {authorization: `Bearer ${config.token}`} : {}
  const need = <T>(value: T | undefined, key: string): T => {
    if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0))
      throw new UserError(`${label}: ${key} is not set`, {hint: `add ${key}: to the ${config.type} notifier`})
    return value
  }
  const base = () => need(config.url, 'url').replace(/\/+$/, '')
  const make = (send: (digest: Digest) => Promise<void>): Notifier => ({label, threshold, send})

  switch (config.type) {
    // Generic webhook: one stable JSON document; a single notice's fields also at the top level.
    case 'webhook':
      return make(async (digest) => {
        const notices = digest.notices.map((n) => ({
          source: n.source,
          event: n.event,
          subject: n.subject,
          title: n.title,
          message: digestBody({...digest, notices: [n], host: undefined}).join('\n'),
          level: n.level,
          ...n.data,
        }))
        const one = notices.length === 1 ? notices[0] : {}
        await sendJson(
          need(config.url, 'url'),
          {
            ...one,
            source: 'homeops',
            event: notices.length === 1 ? notices[0]!.event : 'digest',
            title: digestTitle(digest),
            message: digestBody(digest).join('\n'),
            host: digest.host ?? null,
            count: notices.length,
            notices,
          },
          bearer,
        )
      })
    // ntfy JSON publishing (POST to the server root with the topic in the body): works with any title text.
    case 'ntfy':
      return make(async (digest) => {
        const topic = need(config.topic, 'topic')
        const links = digest.notices.flatMap((n) => n.links)
        const click = links.find((l) => !l.action)?.url
        // ntfy allows three action buttons.
        const actions = links
          .slice(0, 3)
          .map((l) => ({action: 'view' as const, label: l.label, url: l.url, ...(l.action ? {clear: true} : {})}))
        const level = digestLevel(digest)
        await sendJson(
          base(),
          {
            topic,
            title: digestTitle(digest),
            // Links travel as click/actions buttons.
            message: truncate(digestBody(digest, undefined, false).join('\n'), 4000),
            tags: [level === 'error' ? 'warning' : level === 'success' ? 'white_check_mark' : 'package'],
            priority: Math.min(5, Math.max(1, config.priority ?? (level === 'error' ? 4 : 3))),
            ...(click ? {click} : {}),
            ...(actions.length > 0 ? {actions} : {}),
          },
          bearer,
        )
      })
    // Gotify: POST /message with the application token, markdown body.
    case 'gotify':
      return make(async (digest) => {
        const links = digest.notices.flatMap((n) => n.links)
        const click = links.find((l) => l.action)?.url ?? links[0]?.url
        await sendJson(
          `${base()}/message`,
          {
            title: digestTitle(digest),
            message: digestBody(digest, (l, u) => `[${l}](${u})`).join('  \n'),
            priority: config.priority ?? (digestLevel(digest) === 'error' ? 8 : 5),
            extras: {
              'client::display': {contentType: 'text/markdown'},
              ...(click ? {'client::notification': {click: {url: click}}} : {}),
            },
          },
          config.token ? {'x-gotify-key': config.token} : {},
        )
      })
    // Discord webhook: one embed per notice (at most 10 per message), within Discord's field limits.
    case 'discord':
      return make(async (digest) => {
        const shown = digest.notices.slice(0, 10)
        const embeds = shown.map((n, i) => {
          const fields = Object.entries(n.data)
            .filter(([k, v]) => ['currentVersion', 'newVersion'].includes(k) && typeof v === 'string')
            .map(([k, v]) => ({
              name: k === 'currentVersion' ? 'Current' : 'New',
              value: truncate(String(v), 1024),
              inline: true,
            }))
          if (typeof n.data.kind === 'string')
            fields.push({
              name: n.data.kind === 'service' ? 'Service' : 'Container',
              value: truncate(n.subject, 1024),
              inline: true,
            })
          for (const link of n.links.filter((l) => l.action))
            fields.push({name: 'Apply', value: `[${link.label}](${link.url}) (one use)`, inline: false})
          if (typeof n.data.error === 'string')
            fields.push({name: 'Error', value: truncate(n.data.error, 1024), inline: false})
          const more = i === shown.length - 1 && digest.notices.length > shown.length
          const description = [typeof n.data.image === 'string' ? n.data.image : (n.lines[0] ?? '')]
          const summary = typeof n.data.summary === 'string' ? n.data.summary : undefined
          if (summary) description.push('', summary)
          if (more) description.push('', `…and ${digest.notices.length - shown.length} more`)
          const readMore = n.links.find((l) => !l.action)
          return {
            title: truncate(n.title, 256),
            description: truncate(description.join('\n'), 4096),
            ...(readMore ? {url: readMore.url} : {}),
            color: COLORS[n.level],
            fields: fields.slice(0, 25),
            footer: {text: digest.host ? `homeops on ${digest.host}` : 'homeops'},
            timestamp: new Date().toISOString(),
          }
        })
        await sendJson(`${need(config.url, 'url')}${config.url!.includes('?') ? '&' : '?'}wait=true`, {
          username: 'homeops',
          ...(digest.notices.length > 1 ? {content: truncate(digest.title, 2000)} : {}),
          embeds,
        })
      })
    // Slack incoming webhook: Block Kit with a plain-text fallback.
    case 'slack':
      return make(async (digest) => {
        const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
        const blocks: unknown[] = [
          {type: 'header', text: {type: 'plain_text', text: truncate(digestTitle(digest), 150)}},
        ]
        // Slack allows 50 blocks; three per notice.
        for (const n of digest.notices.slice(0, 15)) {
          const text = (digest.notices.length > 1 ? [`*${esc(n.title)}*`] : []).concat(n.lines.map(esc)).join('\n')
          blocks.push({type: 'section', text: {type: 'mrkdwn', text: truncate(text, 3000)}})
          if (n.links.length > 0)
            blocks.push({
              type: 'actions',
              elements: n.links.slice(0, 5).map((l) => ({
                type: 'button',
                text: {type: 'plain_text', text: l.label},
                url: l.url,
                ...(l.action ? {style: 'primary'} : {}),
              })),
            })
        }
        await sendJson(need(config.url, 'url'), {text: digestTitle(digest), blocks})
      })
    // Telegram Bot API sendMessage, HTML parse mode (4096 characters).
    case 'telegram':
      return make(async (digest) => {
        const token = need(config.token, 'token')
        const answer = await sendJson(
          `${config.url?.replace(/\/+$/, '') ?? 'https://api.telegram.org'}/bot${token}/sendMessage`,
          {
            chat_id: need(config.chatId, 'chatId'),
            text: truncate(`<b>${escapeHtml(digestTitle(digest))}</b>\n\n${htmlBody(digest)}`, 4096),
            parse_mode: 'HTML',
            disable_web_page_preview: true,
          },
        )
        expectJsonFlag(answer.text, 'ok', true, label)
      })
    // Pushover messages API: title 250, message 1024 characters, HTML; the first link as the supplementary URL.
    case 'pushover':
      return make(async (digest) => {
        const link = digest.notices.flatMap((n) => n.links)[0]
        const answer = await sendJson(
          `${config.url?.replace(/\/+$/, '') ?? 'https://api.pushover.net'}/1/messages.json`,
          {
            token: need(config.token, 'token'),
            user: need(config.user, 'user'),
            title: truncate(digestTitle(digest), 250),
            message: truncate(htmlBody(digest), 1024),
            html: 1,
            ...(link ? {url: link.url, url_title: truncate(link.label, 100)} : {}),
            priority: Math.min(2, Math.max(-2, config.priority ?? (digestLevel(digest) === 'error' ? 1 : 0))),
          },
        )
        expectJsonFlag(answer.text, 'status', 1, label)
      })
    // Matrix client-server API: PUT a m.notice event with an HTML rendering, idempotent by transaction id.
    case 'matrix':
      return make(async (digest) => {
        const room = encodeURIComponent(need(config.room, 'room'))
        need(config.token, 'token')
        await sendJson(
          `${base()}/_matrix/client/v3/rooms/${room}/send/m.room.message/homeops-${randomUUID()}`,
          {
            msgtype: 'm.notice',
            body: [digestTitle(digest), '', ...digestBody(digest)].join('\n'),
            format: 'org.matrix.custom.html',
            formatted_body: `<strong>${escapeHtml(digestTitle(digest))}</strong><br>${htmlBody(digest).replace(/\n/g, '<br>')}`,
          },
          bearer,
          'PUT',
        )
      })
    // Apprise API (`POST /notify/<key>`): Apprise fans out to its 100+ services.
    case 'apprise':
      return make(async (digest) => {
        const level = digestLevel(digest)
        await sendJson(
          need(config.url, 'url'),
          {
            title: digestTitle(digest),
            body: digestBody(digest, (l, u) => `[${l}](${u})`).join('\n'),
            type: level === 'error' ? 'failure' : level,
            format: 'markdown',
            ...(config.topic ? {tag: config.topic} : {}),
          },
          bearer,
        )
      })
    case 'email':
      return {label, threshold, send: (digest) => sendEmail(config, digest, label, timeoutMs)}
    case 'mqtt':
      return {
        label,
        threshold,
        send: (digest) =>
          mqttPublish(config, label, timeoutMs, (publish, prefix) =>
            publish(
              `${prefix}/${topicPart(digest.host ?? 'host')}/notification`,
              JSON.stringify(mqttDigest(digest)),
              false,
            ),
          ),
        publishState: (source, entities, host) =>
          mqttPublish(config, label, timeoutMs, (publish, prefix, retained) =>
            publishEntities({publish, retained}, prefix, config, source, entities, host),
          ),
      }
    case 'command':
      return make((digest) => runCommand(need(config.command, 'command'), digest, label, timeoutMs))
  }
}

function htmlBody(digest: Digest): string {
  return digestBody(
    {...digest, notices: digest.notices.map((n) => ({...n, lines: n.lines.map(escapeHtml)}))},
    (l, u) => `<a href="${escapeHtml(u)}">${escapeHtml(l)}</a>`,
  ).join('\n')
}

function expectJsonFlag(text: string, key: string, value: unknown, label: string): void {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new OperationError(`${label}: the service answered with something that is not JSON`)
  }
  if ((parsed as Record<string, unknown>)[key] !== value)
    throw new OperationError(`${label}: the service did not accept the message`)
}

// ---- e-mail (SMTP through nodemailer, loaded on first use) -------------------

async function sendEmail(config: NotifierConfig, digest: Digest, label: string, timeoutMs: number): Promise<void> {
  if (!config.url)
    throw new UserError(`${label}: url is not set`, {hint: 'url: smtp://user:password@mail.example.org:587'})
  if (!config.to || config.to.length === 0) throw new UserError(`${label}: to is not set`)
  let url: URL
  try {
    url = new URL(config.url)
  } catch {
    throw new UserError(`${label}: url is not a valid smtp:// or smtps:// URL`)
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:')
    throw new UserError(`${label}: url must start with smtp:// (STARTTLS when offered) or smtps:// (TLS)`)
  const nodemailer = (await import('nodemailer')).default
  const secure = url.protocol === 'smtps:'
  const transport = nodemailer.createTransport({
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    ...(url.username ? {auth: {user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password)}} : {}),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  })
  const title = digestTitle(digest)
  try {
    await transport.sendMail({
      from: config.from ?? `homeops <homeops@${digest.host ?? 'localhost'}>`,
      to: config.to.join(', '),
      subject: title,
      text: digestBody(digest).join('\n'),
      html: `<h3>${escapeHtml(title)}</h3><p>${htmlBody(digest).replace(/\n/g, '<br>')}</p>`,
    })
  } catch (error) {
    const code = (error as {responseCode?: number}).responseCode
    const message = `${label}: the mail server refused the message${code ? ` (SMTP ${code})` : ''}: ${errorMessage(error).slice(0, 200)}`
    // 4xx SMTP replies and connection trouble are temporary; 5xx are not.
    if (code === undefined || (code >= 400 && code < 500)) throw new TransientError(message)
    throw new OperationError(message, {hint: 'check url, from and to of the email notifier'})
  } finally {
    transport.close()
  }
}

// ---- MQTT with Home Assistant discovery (mqtt.js, loaded on first use) ---------

type Publish = (topic: string, payload: string, retain: boolean) => Promise<void>
/** The retained message of a topic, if the broker has one. */
type ReadRetained = (topic: string) => Promise<string | undefined>

async function mqttPublish(
  config: NotifierConfig,
  label: string,
  timeoutMs: number,
  work: (publish: Publish, prefix: string, retained: ReadRetained) => Promise<void>,
): Promise<void> {
  if (!config.url) throw new UserError(`${label}: url is not set`, {hint: 'url: mqtt://user:password@broker:1883'})
  const mqtt = await import('mqtt')
  let client: import('mqtt').MqttClient
  try {
    client = await mqtt.connectAsync(config.url, {
      connectTimeout: timeoutMs,
      reconnectPeriod: 0,
      clientId: `homeops-${randomUUID().slice(0, 8)}`,
      ...(config.token ? {password: config.token} : {}),
    })
  } catch (error) {
    throw new TransientError(`${label}: cannot connect to the MQTT broker: ${errorMessage(error).slice(0, 200)}`)
  }
  try {
    const deadline = AbortSignal.timeout(timeoutMs * 3)
    const retained: ReadRetained = async (topic) => {
      let found: string | undefined
      const onMessage = (t: string, payload: Buffer) => {
        if (t === topic && found === undefined) found = payload.toString('utf8', 0, Math.min(payload.length, 1_000_000))
      }
      client.on('message', onMessage)
      try {
        await client.subscribeAsync(topic, {qos: 1})
        // A retained message follows the SUBACK at once; none within this wait means there is none.
        for (let waited = 0; found === undefined && waited < 500; waited += 25) await sleep(25)
        await client.unsubscribeAsync(topic).catch(() => {})
      } finally {
        client.removeListener('message', onMessage)
      }
      return found
    }
    await work(
      async (topic, payload, retain) => {
        if (deadline.aborted) throw new TransientError(`${label}: the MQTT broker is too slow`)
        await client.publishAsync(topic, payload, {qos: 1, retain})
      },
      config.topic ?? 'homeops',
      retained,
    )
  } catch (error) {
    if (error instanceof TransientError || error instanceof OperationError) throw error
    throw new TransientError(`${label}: publishing failed: ${errorMessage(error).slice(0, 200)}`)
  } finally {
    await client.endAsync().catch(() => {})
  }
}

function topicPart(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 100) || '_'
}

function mqttDigest(digest: Digest) {
  return {
    title: digestTitle(digest),
    host: digest.host ?? null,
    notices: digest.notices.map((n) => ({
      source: n.source,
      event: n.event,
      subject: n.subject,
      title: n.title,
      level: n.level,
      ...n.data,
    })),
  }
}

/**
 * One Home Assistant MQTT `update` entity per workload: retained discovery config and state. The list of
 * what was published is kept retained too (`<prefix>/<host>/<source>/entities`), so a workload that is
 * gone gets its retained config emptied and Home Assistant removes its entity.
 */
async function publishEntities(
  mqtt: {publish: Publish; retained: ReadRetained},
  prefix: string,
  config: NotifierConfig,
  source: string,
  entities: readonly StateEntity[],
  host: string,
): Promise<void> {
  const node = `homeops_${topicPart(host)}`
  const discovery = config.discoveryPrefix ?? 'homeassistant'
  const indexTopic = `${prefix}/${topicPart(host)}/${topicPart(source)}/entities`
  const previous = readIndex(await mqtt.retained(indexTopic))
  const published: {config: string; state: string}[] = []
  for (const entity of entities) {
    const object = `${node}_${topicPart(entity.source)}_${topicPart(entity.id)}`
    const stateTopic = `${prefix}/${topicPart(host)}/${topicPart(entity.source)}/${topicPart(entity.id)}/state`
    const configTopic = `${discovery}/update/${node}/${object}/config`
    await mqtt.publish(
      configTopic,
      JSON.stringify({
        name: entity.name,
        unique_id: object,
        object_id: object,
        state_topic: stateTopic,
        device: {identifiers: [node], name: `homeops on ${host}`, manufacturer: 'homeops', model: entity.source},
        origin: {name: 'homeops'},
      }),
      true,
    )
    await mqtt.publish(
      stateTopic,
      JSON.stringify({
        installed_version: entity.installedVersion,
        latest_version: entity.latestVersion,
        title: entity.title ?? entity.name,
        ...(entity.releaseUrl ? {release_url: entity.releaseUrl} : {}),
        ...(entity.summary ? {release_summary: truncate(entity.summary, 255)} : {}),
      }),
      true,
    )
    published.push({config: configTopic, state: stateTopic})
  }
  const current = new Set(published.map((p) => p.config))
  // Only topics of this node: a retained index written by someone else cannot make us delete other topics.
  const ours = (p: {config: string; state: string}) =>
    p.config.startsWith(`${discovery}/update/${node}/`) && p.state.startsWith(`${prefix}/${topicPart(host)}/`)
  for (const gone of previous.filter((p) => ours(p) && !current.has(p.config))) {
    // An empty retained payload deletes the retained message; HA removes the entity.
    await mqtt.publish(gone.config, '', true)
    await mqtt.publish(gone.state, '', true)
  }
  await mqtt.publish(indexTopic, JSON.stringify(published), true)
}

/** The retained index from the broker: anything unexpected reads as empty (bounded to 10 000 entries). */
function readIndex(text: string | undefined): {config: string; state: string}[] {
  if (!text) return []
  try {
    const parsed = JSON.parse(text) as unknown
    if (!Array.isArray(parsed)) return []
    return parsed
      .slice(0, 10_000)
      .filter(
        (p: unknown): p is {config: string; state: string} =>
          typeof p === 'object' &&
          p !== null &&
          'config' in p &&
          typeof p.config === 'string' &&
          'state' in p &&
          typeof p.state === 'string',
      )
  } catch {
    return []
  }
}

// ---- command hook (execa, no shell) -------------------------------------------

async function runCommand(command: string[], digest: Digest, label: string, timeoutMs: number): Promise<void> {
  const {execa} = await import('execa')
  const [program, ...args] = command
  // A clean environment: the hook never sees homeops's own secrets (API keys, tokens from env).
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOMEOPS_TITLE: digestTitle(digest),
    HOMEOPS_MESSAGE: digestBody(digest).join('\n'),
    HOMEOPS_EVENT: digest.notices.length === 1 ? digest.notices[0]!.event : 'digest',
    HOMEOPS_COUNT: String(digest.notices.length),
    HOMEOPS_LEVEL: digestLevel(digest),
  }
  for (const key of ['HOME', 'LANG', 'TZ']) if (process.env[key]) env[key] = process.env[key]!
  const result = await execa(program!, args, {
    input: JSON.stringify(mqttDigest(digest)),
    env,
    extendEnv: false,
    timeout: timeoutMs,
    maxBuffer: 64 * 1024,
    reject: false,
    stripFinalNewline: true,
  })
  if (result.timedOut) throw new TransientError(`${label}: the command did not finish within ${timeoutMs / 1000} s`)
  if (result.failed) {
    const detail = String(result.stderr ?? '')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(-200)
    const why =
      result.exitCode !== undefined ? `exited with ${result.exitCode}` : (result.shortMessage ?? 'failed to start')
    throw new OperationError(`${label}: the command ${why}${detail ? ` (${detail})` : ''}`)
  }
}

// ---- delivery -------------------------------------------------------------------

export interface DeliveryReport {
  notifier: string
  ok: boolean
  /** Notices this notifier wanted after its threshold (0: nothing sent). */
  sent: number
  error?: string
}

export interface DeliveryOptions {
  logger: Logger
  /** One message per notifier with every notice (default), or one per notice. */
  batch?: boolean
  /** The digest title for `count` notices. */
  title: (count: number) => string
  host?: string
}

/**
 * Sends notices to every notifier: per notifier only those its threshold wants, as one digest (or one
 * message each). One failing notifier does not stop the others; a transient failure is retried once.
 * `outcomes[i]`: how many notifiers accepted notice i, and how many that wanted it failed.
 */
export async function deliver(
  notifiers: readonly Notifier[],
  notices: readonly Notice[],
  options: DeliveryOptions,
): Promise<{reports: DeliveryReport[]; outcomes: {delivered: number; failed: number}[]}> {
  const outcomes = notices.map(() => ({delivered: 0, failed: 0}))
  const reports = await Promise.all(
    notifiers.map(async (notifier): Promise<DeliveryReport> => {
      const wanted = notices.map((n, i) => [n, i] as const).filter(([n]) => passesThreshold(n, notifier.threshold))
      if (wanted.length === 0) return {notifier: notifier.label, ok: true, sent: 0}
      const groups = options.batch === false ? wanted.map((w) => [w]) : [wanted]
      let error: string | undefined
      for (const group of groups) {
        const digest: Digest = {title: options.title(group.length), notices: group.map(([n]) => n), host: options.host}
        const failure = await sendWithRetry(notifier, digest)
        if (failure) {
          error = failure
          for (const [, i] of group) outcomes[i]!.failed++
          options.logger.warn('notification failed', {
            notifier: notifier.label,
            subjects: subjects(digest),
            error: failure,
          })
          continue
        }
        for (const [, i] of group) outcomes[i]!.delivered++
        options.logger.info('notification sent', {notifier: notifier.label, subjects: subjects(digest)})
      }
      return {notifier: notifier.label, ok: error === undefined, sent: wanted.length, ...(error ? {error} : {})}
    }),
  )
  return {reports, outcomes}
}

function subjects(digest: Digest): string {
  return truncate(digest.notices.map((n) => n.subject).join(','), 200)
}

async function sendWithRetry(notifier: Notifier, digest: Digest): Promise<string | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      await notifier.send(digest)
      return undefined
    } catch (error) {
      if (error instanceof TransientError && attempt < 2) {
        await sleep(1000)
        continue
      }
      return errorMessage(error)
    }
  }
}

/** Mirrors state to the notifiers that keep it (MQTT); failures are logged, never thrown. */
export async function publishState(
  notifiers: readonly Notifier[],
  source: string,
  entities: readonly StateEntity[],
  host: string,
  logger: Logger,
): Promise<void> {
  await Promise.all(
    notifiers.map(async (notifier) => {
      if (!notifier.publishState) return
      try {
        await notifier.publishState(source, entities, host)
      } catch (error) {
        logger.warn('publishing state failed', {notifier: notifier.label, error: errorMessage(error)})
      }
    }),
  )
}
