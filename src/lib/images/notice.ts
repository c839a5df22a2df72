import type {Notice, NoticeLink, StateEntity} from '../notify/message.js'
import {changeLevel} from './versions.js'

/** An image update event, before the notifier layer renders it. */
export type NoticeEvent = 'update_available' | 'update_applied' | 'update_failed'

export interface UpdateNotice {
  event: NoticeEvent
  workload: string
  kind: 'service' | 'container'
  /** Image without tag: `ghcr.io/org/app`. */
  image: string
  currentVersion: string
  newVersion: string
  /** Tag moved to (for the change level; `newVersion` may carry a digest). */
  newTag?: string
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

/** Plain-text body lines, without links. */
export function noticeLines(notice: UpdateNotice): string[] {
  const lines = [`${notice.kind === 'service' ? 'Swarm service' : 'Container'} ${notice.workload} runs ${notice.image}`]
  if (notice.event === 'update_available') lines.push(`New version: ${notice.currentVersion} → ${notice.newVersion}`)
  if (notice.event === 'update_applied') lines.push(`Now running ${notice.newVersion} (was ${notice.currentVersion})`)
  if (notice.event === 'update_failed')
    lines.push(`Staying on ${notice.currentVersion}: ${notice.error ?? 'the update did not converge'}`)
  if (notice.summary) lines.push('', notice.summary.trim())
  return lines
}

const RANK = {other: 0, patch: 1, minor: 2, major: 3} as const

/** The notifier layer's form of an image update: rank from the version change (a new digest ranks 0). */
export function toNotice(update: UpdateNotice): Notice {
  const links: NoticeLink[] = []
  if (update.releaseNotesUrl) links.push({label: 'Release notes', url: update.releaseNotesUrl})
  if (update.applyUrl)
    links.push({
      label: 'Apply update',
      url: update.applyUrl,
      action: true,
      note: update.applyExpiresAt
        ? `(one use, expires ${update.applyExpiresAt.slice(0, 16).replace('T', ' ')} UTC)`
        : undefined,
    })
  return {
    source: 'images',
    event: update.event,
    subject: update.workload,
    title: noticeTitle(update),
    lines: noticeLines(update),
    links,
    level: update.event === 'update_failed' ? 'error' : update.event === 'update_applied' ? 'success' : 'info',
    rank:
      update.event === 'update_failed'
        ? undefined
        : RANK[changeLevel(update.currentVersion, update.newTag ?? update.newVersion)],
    data: {
      workload: update.workload,
      kind: update.kind,
      image: update.image,
      currentVersion: update.currentVersion,
      newVersion: update.newVersion,
      releaseNotesUrl: update.releaseNotesUrl ?? null,
      summary: update.summary ?? null,
      applyUrl: update.applyUrl ?? null,
      applyExpiresAt: update.applyExpiresAt ?? null,
      error: update.error ?? null,
      host: update.host ?? null,
    },
  }
}

/** `3 image updates on nas`: the title of a run's digest. */
export function digestTitleFor(count: number, host?: string): string {
  return `${count} image update${count === 1 ? '' : 's'}${host ? ` on ${host}` : ''}`
}

/** One Home Assistant `update` entity per workload (what the MQTT notifier mirrors). */
export function workloadEntity(result: {
  workload: string
  image: string
  currentTag: string | null
  currentDigest: string | null
  update: {type: 'version'; tag: string} | {type: 'digest'; tag: string; digest: string} | null
  releaseUrl: string | null
}): StateEntity {
  const short = (digest: string | null) => (digest ? `@${digest.slice(7, 19)}` : '')
  const installed =
    result.update?.type === 'digest' ? `${result.currentTag}${short(result.currentDigest)}` : result.currentTag
  const latest = !result.update
    ? installed
    : result.update.type === 'version'
      ? result.update.tag
      : `${result.update.tag}${short(result.update.digest)}`
  return {
    source: 'images',
    id: result.workload,
    name: result.workload,
    installedVersion: installed,
    latestVersion: latest,
    title: result.image,
    releaseUrl: result.releaseUrl ?? undefined,
  }
}
