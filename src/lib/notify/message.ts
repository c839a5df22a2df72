/**
 * What homeops tells people about an image update, independent of the
 * service that carries it. Each notifier renders it in its service's format.
 */
export type NoticeEvent = 'update_available' | 'update_applied' | 'update_failed'

export interface UpdateNotice {
  event: NoticeEvent
  workload: string
  kind: 'service' | 'container'
  /** Image without tag: `ghcr.io/org/app`. */
  image: string
  currentVersion: string
  newVersion: string
  releaseNotesUrl?: string
  /** Short summary of the release notes (OpenAI-compatible endpoint), when configured. */
  summary?: string
  /** One-time link to apply this version through `images serve`. */
  applyUrl?: string
  applyExpiresAt?: string
  /** Why an update failed. */
  error?: string
  /** The host homeops runs on, so several hosts can share a channel. */
  host?: string
}

export function noticeTitle(notice: UpdateNotice): string {
  const change = `${notice.currentVersion} → ${notice.newVersion}`
  switch (notice.event) {
    case 'update_applied':
      return `Updated ${notice.workload}: ${change}`
    case 'update_failed':
      return `Update of ${notice.workload} failed: ${change}`
    default:
      return `Update available for ${notice.workload}: ${change}`
  }
}

/** Plain-text body lines (no title). */
export function noticeLines(notice: UpdateNotice, link: (label: string, url: string) => string = plainLink): string[] {
  const lines = [`${notice.kind === 'service' ? 'Swarm service' : 'Container'} ${notice.workload} runs ${notice.image}`]
  if (notice.event === 'update_available') lines.push(`New version: ${notice.currentVersion} → ${notice.newVersion}`)
  if (notice.event === 'update_applied') lines.push(`Now running ${notice.newVersion} (was ${notice.currentVersion})`)
  if (notice.event === 'update_failed')
    lines.push(`Staying on ${notice.currentVersion}: ${notice.error ?? 'the update did not converge'}`)
  if (notice.releaseNotesUrl) lines.push(link('Release notes', notice.releaseNotesUrl))
  if (notice.summary) lines.push('', notice.summary.trim())
  if (notice.applyUrl) {
    const expires = notice.applyExpiresAt
      ? ` (one use, expires ${notice.applyExpiresAt.slice(0, 16).replace('T', ' ')} UTC)`
      : ''
    lines.push('', link('Apply this update', notice.applyUrl) + expires)
  }
  if (notice.host) lines.push(`Host: ${notice.host}`)
  return lines
}

function plainLink(label: string, url: string): string {
  return `${label}: ${url}`
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, Math.max(0, max - 1)) + '…'
}
