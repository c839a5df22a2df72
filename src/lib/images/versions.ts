import semver from 'semver'

import {UserError} from '../errors.js'
import {IMAGE_STRATEGIES} from './config.js'

/**
 * Version tags and the update strategy (docs/architecture.md "images"). Pure functions.
 *
 * A tag is "versioned" when it reads `[v]MAJOR[.MINOR[.PATCH[.BUILD]]][-pre][-variant]`.
 * Candidates for an update keep the current tag's format: same `v` prefix,
 * same precision (`1.2` only moves to `1.3`, never to `1.3.0`), same variant
 * suffix (`-alpine` stays `-alpine`); pre-releases only when the current tag is
 * one. Non-version tags (`latest`, `stable`) are followed by digest instead.
 *
 * A suffix segment that carries a number is a build or revision ordered within
 * its variant: `-ls46` > `-ls45` (linuxserver.io), `-r2` > `-r1` (distro
 * revision), `-1` > `-0` (Debian revision), `-alpine3.19` > `-alpine3.18`. A
 * platform such as `alpine3.18`, `php8.2` or `jdk17` keeps its first number
 * (`alpine3` never becomes `alpine4`, `jdk17` never `jdk21`); letters never
 * change (`-alpine` never becomes `-debian`).
 */
export type Strategy = (typeof IMAGE_STRATEGIES)[number]

export interface TagVersion {
  tag: string
  prefix: '' | 'v' | 'V'
  /** 1 to 4 numbers; `parts.length` is the tag's precision. */
  parts: number[]
  /** `rc.1`, `beta2`… (without the dash). */
  prerelease?: string
  /** `alpine`, `bookworm-slim`, `ls45`… (without the dash). */
  variant?: string
  /** The variant with its ordered numbers replaced by `#`: `ls#`, `alpine3.#`, `bookworm-slim`. */
  variantKey?: string
  /** The ordered numbers of the variant (`ls45` → [45], `alpine3.18` → [18]), compared after the version. */
  build?: number[]
}

/** Suffixes that number builds of one upstream version (linuxserver.io `ls`, Alpine/distro `r`, …). */
const BUILD_MARKER = /^(ls|r|rev|build|bld|p|pl|patch)?(\d{1,9})$/i
/** A platform with its version: `alpine3.18`, `ubuntu22.04`, `php8.2`, `jdk17`. */
const PLATFORM = /^([A-Za-z][A-Za-z_]*?)(\d{1,9})((?:\.\d{1,9}){0,3})$/

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
    if (version.variant !== undefined && !readVariant(version, version.variant)) return undefined
  }
  return version
}

/** Splits a variant into its fixed key and the numbers that order builds within it. */
function readVariant(version: TagVersion, variant: string): boolean {
  const key: string[] = []
  const build: number[] = []
  for (const segment of variant.split('-')) {
    if (segment === '') return false
    const marker = BUILD_MARKER.exec(segment)
    if (marker) {
      key.push(`${marker[1] ?? ''}#`)
      build.push(Number(marker[2]))
      continue
    }
    const platform = PLATFORM.exec(segment)
    if (platform && platform[3]) {
      // `alpine3.18`: the platform's major stays, the rest orders (3.18 → 3.19, never 4.0).
      const rest = platform[3].slice(1).split('.').map(Number)
      key.push(`${platform[1]}${platform[2]}${'.#'.repeat(rest.length)}`)
      build.push(...rest)
      continue
    }
    key.push(segment)
  }
  version.variantKey = key.join('-')
  if (build.length > 0) version.build = build
  return true
}

/** The same shape: prefix, precision and variant. */
export function sameFormat(a: TagVersion, b: TagVersion): boolean {
  return a.prefix === b.prefix && a.parts.length === b.parts.length && (a.variantKey ?? '') === (b.variantKey ?? '')
}

/**
 * Negative when a < b. Releases rank above their pre-releases; pre-releases compare as semver does;
 * builds of the same version (`-ls45` < `-ls46`) last.
 */
export function compareVersions(a: TagVersion, b: TagVersion): number {
  const byParts = compareNumbers(a.parts, b.parts)
  if (byParts !== 0) return byParts
  if (a.prerelease !== b.prerelease) {
    if (a.prerelease === undefined) return 1
    if (b.prerelease === undefined) return -1
    const byPre = comparePrerelease(a.prerelease, b.prerelease)
    if (byPre !== 0) return byPre
  }
  return compareNumbers(a.build ?? [], b.build ?? [])
}

function compareNumbers(a: readonly number[], b: readonly number[]): number {
  const n = Math.max(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
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
  /** Why there is no candidate (for `images check`), when `allowed` is empty. */
  reason?: string
}

export function findCandidates(
  currentTag: string,
  tags: readonly string[],
  strategy: Strategy,
  filter: TagFilter = {},
): VersionCandidates {
  const current = parseVersionTag(currentTag)
  if (!current) return {allowed: [], reason: `"${currentTag}" is not a version tag: followed by digest`}
  const newer: TagVersion[] = []
  let otherFormat: TagVersion | undefined
  let filtered = 0
  let prereleases = 0
  for (const tag of tags) {
    if (tag === currentTag) continue
    const version = parseVersionTag(tag)
    if (!version) continue
    if (!sameFormat(version, current)) {
      if (compareVersions(version, current) > 0 && (!otherFormat || compareVersions(version, otherFormat) > 0))
        otherFormat = version
      continue
    }
    if (compareVersions(version, current) <= 0) continue
    if (version.prerelease !== undefined && current.prerelease === undefined) {
      prereleases++
      continue
    }
    if (!passesFilter(tag, filter)) {
      filtered++
      continue
    }
    newer.push(version)
  }
  newer.sort(compareVersions)
  const allowed = newer.filter((v) => allowedByStrategy(current, v, strategy))
  const result: VersionCandidates = {
    current,
    newestAllowed: allowed.at(-1)?.tag,
    newestOverall: newer.at(-1)?.tag,
    allowed: allowed.map((v) => v.tag),
  }
  if (allowed.length === 0) {
    const why: string[] = []
    if (newer.length > 0)
      why.push(`${newer.length} newer (up to ${newer.at(-1)!.tag}) not allowed by strategy ${strategy}`)
    if (filtered > 0) why.push(`${filtered} newer left out by the include/exclude labels`)
    if (prereleases > 0) why.push(`${prereleases} newer pre-release${prereleases > 1 ? 's' : ''} ignored`)
    if (otherFormat) why.push(`newer only in another format or variant (e.g. ${otherFormat.tag})`)
    result.reason =
      why.length > 0 ? why.join('; ') : `no newer tag in the format ${formatPattern(current)} among ${tags.length} tags`
  }
  return result
}

/** `4.0.10-ls45` → `N.N.N-ls<N>`: the shape candidates must have. */
export function formatPattern(version: TagVersion): string {
  const numbers = version.parts.map(() => 'N').join('.')
  const variant = version.variantKey ? `-${version.variantKey.replace(/#/g, '<N>')}` : ''
  return `${version.prefix}${numbers}${version.prerelease ? '-<pre>' : ''}${variant}`
}

/** `1.2.3` → "patch", for messages: which level an update changes. */
export function changeLevel(from: string, to: string): 'major' | 'minor' | 'patch' | 'other' {
  const a = parseVersionTag(from)
  const b = parseVersionTag(to)
  if (!a || !b) return 'other'
  if (a.parts[0] !== b.parts[0]) return 'major'
  if ((a.parts[1] ?? 0) !== (b.parts[1] ?? 0)) return 'minor'
  // A new build of the same version (`-ls46`) is the smallest change there is.
  return 'patch'
}
