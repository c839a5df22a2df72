/**
 * What the notifier layer carries, independent of the group that sends it (images, ddns) and of the
 * service that delivers it. A group turns its events into `Notice`s; each notifier renders a `Digest`
 * (one or more notices of one run) in its service's format.
 */
export type NoticeLevel = 'info' | 'success' | 'warning' | 'error'

export interface NoticeLink {
  label: string
  url: string
  /** Shown after the link in text renderings: `(one use, expires …)`. */
  note?: string
  /** An action (apply, confirm) rather than reading material: services with buttons mark it. */
  action?: boolean
}

export interface Notice {
  /** The group: `images`, `ddns`. */
  source: string
  /** `update_available`, `update_applied`, `update_failed`… */
  event: string
  /** What it is about: a workload, a DNS record. */
  subject: string
  title: string
  /** Plain-text body lines, without the links. */
  lines: string[]
  links: NoticeLink[]
  level: NoticeLevel
  /**
   * How big a change this is, for per-notifier thresholds: 0 other (a new digest), 1 patch, 2 minor,
   * 3 major. Undefined: always delivered (failures, events without a size).
   */
  rank?: number
  /** Machine-readable facts, for webhooks and MQTT (stable field names per source). */
  data: Record<string, string | number | boolean | null>
}

/** The notices of one run for one notifier: one message instead of one per notice. */
export interface Digest {
  /** Title when there are several notices (`3 image updates on nas`). */
  title: string
  notices: Notice[]
  host?: string
}

/**
 * The state of one watched thing, for notifiers that mirror state rather than send messages (MQTT with
 * Home Assistant discovery shows one `update` entity per workload).
 */
export interface StateEntity {
  source: string
  /** Stable id (workload name). */
  id: string
  name: string
  installedVersion: string | null
  latestVersion: string | null
  title?: string
  releaseUrl?: string
  summary?: string
}

export const THRESHOLDS = ['ALL', 'PATCH', 'MINOR', 'MAJOR'] as const
export type Threshold = (typeof THRESHOLDS)[number]

/** Whether a notifier with `threshold` wants `notice` (e.g. MAJOR: only major version changes). */
export function passesThreshold(notice: Notice, threshold: Threshold): boolean {
  if (notice.rank === undefined) return true
  return notice.rank >= {ALL: 0, PATCH: 1, MINOR: 2, MAJOR: 3}[threshold]
}

const LEVELS: NoticeLevel[] = ['success', 'info', 'warning', 'error']

/** The most severe level among the notices. */
export function digestLevel(digest: Digest): NoticeLevel {
  return digest.notices.reduce<NoticeLevel>(
    (worst, n) => (LEVELS.indexOf(n.level) > LEVELS.indexOf(worst) ? n.level : worst),
    'success',
  )
}

export function digestTitle(digest: Digest): string {
  return digest.notices.length === 1 ? digest.notices[0]!.title : digest.title
}

export type LinkRenderer = (label: string, url: string) => string

export const plainLink: LinkRenderer = (label, url) => `${label}: ${url}`

/** One notice's body: its lines, then its links (`render` decides how a link looks). */
export function noticeBody(notice: Notice, render: LinkRenderer = plainLink, withLinks = true): string[] {
  const lines = [...notice.lines]
  if (withLinks)
    for (const link of notice.links) lines.push(render(link.label, link.url) + (link.note ? ` ${link.note}` : ''))
  return lines
}

/** The digest's body: one notice as is; several as a bulleted section each. */
export function digestBody(digest: Digest, render: LinkRenderer = plainLink, withLinks = true): string[] {
  const host = digest.host ? [`Host: ${digest.host}`] : []
  if (digest.notices.length === 1) return [...noticeBody(digest.notices[0]!, render, withLinks), ...host]
  const lines: string[] = []
  for (const notice of digest.notices) {
    if (lines.length > 0) lines.push('')
    lines.push(`• ${notice.title}`, ...noticeBody(notice, render, withLinks).map((l) => (l ? `  ${l}` : l)))
  }
  return [...lines, ...(host.length > 0 ? ['', ...host] : [])]
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, Math.max(0, max - 1)) + '…'
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}
