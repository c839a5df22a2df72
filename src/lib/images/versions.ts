import semver from 'semver'

import {UserError} from '../errors.js'
import {IMAGE_STRATEGIES} from './config.js'

/**
 * Version tags and the update strategy (DESIGN.md §5.4). Pure functions.
 *
 * A tag is "versioned" when it reads `[v]MAJOR[.MINOR[.PATCH[.BUILD]]][-pre][-variant]`.
 * Candidates for an update keep the current tag's format: same `v` prefix,
 * same precision (`1.2` only moves to `1.3`, never to `1.3.0`), same variant
 * suffix (`-alpine` stays `-alpine`); pre-releases only when the current tag is
 * one. Non-version tags (`latest`, `stable`) are followed by digest instead.
 */
export type Strategy = (typeof IMAGE_STRATEGIES)[number]

export interface TagVersion {
  tag: string
  prefix: '' | 'v' | 'V'
  /** 1 to 4 numbers; `parts.length` is the tag's precision. */
  parts: number[]
  /** `rc.1`, `beta2`… (without the dash). */
  prerelease?: string
  /** `alpine`, `bookworm-slim`… (without the dash). */
  variant?: string
}

const VERSION = /^([vV]?)(\d{1,9})(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?(?:-([0-9A-Za-z][0-9A-Za-z._-]*))?$/
const PRERELEASE =
  /^(?:alpha|beta|rc|pre|preview|dev|snapshot|nightly|canary|next|a|b|m|milestone|insiders)(?:[.]?\d+)*$/i

export function parseVersionTag(tag: string): TagVersion | undefined {
  const match = VERSION.exec(tag)
  if (!match) return undefined
  const parts = [match[2], match[3], match[4], match[5]].filter((p): p is string => p !== undefined).map(Number)
  // `1.2.3.4` is fine; `1..2` cannot match; a bare huge number like a date stays a 1-part version.
  const version: TagVersion = {tag, prefix: match[1] as TagVersion['prefix'], parts}
  const rest = match[6]
  if (rest !== undefined) {
    const segments = rest.split('-')
    if (PRERELEASE.test(segments[0]!)) {
      version.prerelease = segments[0]!
      if (segments.length > 1) version.variant = segments.slice(1).join('-')
    } else {
      version.variant = rest
    }
    if (version.variant === '') return undefined
  }
  return version
}

/** The same shape: prefix, precision and variant. */
export function sameFormat(a: TagVersion, b: TagVersion): boolean {
  return a.prefix === b.prefix && a.parts.length === b.parts.length && (a.variant ?? '') === (b.variant ?? '')
}

/** Negative when a < b. Releases rank above their pre-releases; pre-releases compare as semver does. */
export function compareVersions(a: TagVersion, b: TagVersion): number {
  const n = Math.max(a.parts.length, b.parts.length)
  for (let i = 0; i < n; i++) {
    const d = (a.parts[i] ?? 0) - (b.parts[i] ?? 0)
    if (d !== 0) return d
  }
  if (a.prerelease === b.prerelease) return 0
  if (a.prerelease === undefined) return 1
  if (b.prerelease === undefined) return -1
  return comparePrerelease(a.prerelease, b.prerelease)
}

function comparePrerelease(a: string, b: string): number {
  // `rc1` vs `rc.2`: split letters from digits so both read as semver identifiers (rc.1 < rc.2).
  const norm = (p: string) =>
    p
      .replace(/([A-Za-z])(\d)/g, '$1.$2')
      .replace(/(\d)([A-Za-z])/g, '$1.$2')
      .replace(/\.\.+/g, '.')
      .replace(/\.0+(\d)/g, '.$1')
  const va = semver.valid(`0.0.0-${norm(a)}`)
  const vb = semver.valid(`0.0.0-${norm(b)}`)
  if (va && vb) return semver.compare(va, vb)
  return a < b ? -1 : a > b ? 1 : 0
}

/** Whether `strategy` allows moving from `current` to the newer `candidate`. */
export function allowedByStrategy(current: TagVersion, candidate: TagVersion, strategy: Strategy): boolean {
  switch (strategy) {
    case 'PATCH':
      return candidate.parts[0] === current.parts[0] && (candidate.parts[1] ?? 0) === (current.parts[1] ?? 0)
    case 'MINOR':
      return candidate.parts[0] === current.parts[0]
    default:
      return true
  }
}

export interface TagFilter {
  include?: RegExp
  exclude?: RegExp
}

/** Compiles an include/exclude label; a bad pattern is a UserError naming the label. */
export function compileTagPattern(pattern: string | undefined, label: string): RegExp | undefined {
  if (pattern === undefined || pattern.trim() === '') return undefined
  if (pattern.length > 500) throw new UserError(`${label} is longer than 500 characters`)
  try {
    return new RegExp(pattern)
  } catch (error) {
    throw new UserError(
      `${label} is not a valid regular expression: ${(error as Error).message.replace(/^Invalid regular expression: /, '')}`,
      {
        hint: 'use a JavaScript regular expression, e.g. ^\\d+\\.\\d+\\.\\d+$',
      },
    )
  }
}

export function passesFilter(tag: string, filter: TagFilter): boolean {
  if (filter.include && !filter.include.test(tag)) return false
  if (filter.exclude && filter.exclude.test(tag)) return false
  return true
}

export interface VersionCandidates {
  /** The current tag as a version; undefined when it is not one (follow by digest). */
  current?: TagVersion
  /** Newest tag the strategy allows, when newer than the current one. */
  newestAllowed?: string
  /** Newest tag of the same format regardless of the strategy, when newer. */
  newestOverall?: string
  /** Every newer tag of the same format that the strategy allows, oldest first. */
  allowed: string[]
}

export function findCandidates(
  currentTag: string,
  tags: readonly string[],
  strategy: Strategy,
  filter: TagFilter = {},
): VersionCandidates {
  const current = parseVersionTag(currentTag)
  if (!current) return {allowed: []}
  const newer: TagVersion[] = []
  for (const tag of tags) {
    if (tag === currentTag) continue
    const version = parseVersionTag(tag)
    if (!version || !sameFormat(version, current)) continue
    if (version.prerelease !== undefined && current.prerelease === undefined) continue
    if (!passesFilter(tag, filter)) continue
    if (compareVersions(version, current) <= 0) continue
    newer.push(version)
  }
  newer.sort(compareVersions)
  const allowed = newer.filter((v) => allowedByStrategy(current, v, strategy))
  return {
    current,
    newestAllowed: allowed.at(-1)?.tag,
    newestOverall: newer.at(-1)?.tag,
    allowed: allowed.map((v) => v.tag),
  }
}

/** `1.2.3` → "patch", for messages: which level an update changes. */
export function changeLevel(from: string, to: string): 'major' | 'minor' | 'patch' | 'other' {
  const a = parseVersionTag(from)
  const b = parseVersionTag(to)
  if (!a || !b) return 'other'
  if (a.parts[0] !== b.parts[0]) return 'major'
  if ((a.parts[1] ?? 0) !== (b.parts[1] ?? 0)) return 'minor'
  return 'patch'
}
