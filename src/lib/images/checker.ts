import {randomUUID} from 'node:crypto'

import {forEachLimited} from '../async/pool.js'
import {type ExitCodeValue, TransientError, errorMessage, worst} from '../errors.js'
import type {Logger} from '../log/logger.js'
import type {RegistryClient} from '../registry/client.js'
import {familiarName, isImageId, parseImageReference} from '../registry/reference.js'
import {type UpdateStatus, checkImageStatus, localDigestsFor} from '../registry/update-status.js'
import {findCandidates, parseVersionTag, type Strategy} from './versions.js'
import {type ImageMode, type SettingsOverrides, type Workload, resolveSettings} from './workloads.js'

/**
 * `local_image`: the container runs an image that never came from its registry (built or loaded locally,
 * no `RepoDigests`): nothing to compare, and not a failure.
 */
export type CheckStatus = 'up_to_date' | 'update_available' | 'local_image' | 'disabled' | 'unknown' | 'error'

/** Where git keeps a Swarm service homeops deploys from a watched repository (gitops.ts). */
export interface GitopsOwner {
  /** Repository name as `swarm status` shows it. */
  repository: string
  url: string
  stack: string
  /** The compose service (`web`), under `services:` of `file`. */
  service: string
  /** Relative to the repository root; null when not recorded yet. */
  file: string | null
}

export interface CheckResult {
  workload: string
  kind: 'service' | 'container'
  id: string
  /** Image without tag (`ghcr.io/org/app`). */
  image: string
  /** As the workload gives it. */
  reference: string
  currentTag: string | null
  currentDigest: string | null
  remoteDigest: string | null
  /** Newest version the strategy allows, when newer than the current tag. */
  newestAllowed: string | null
  /** Newest version of the same format regardless of the strategy. */
  newestOverall: string | null
  mode: ImageMode | null
  strategy: Strategy | null
  status: CheckStatus
  /** What an update would move to: a newer tag, or the same tag's new digest. */
  update: {type: 'version'; tag: string} | {type: 'digest'; tag: string; digest: string} | null
  /** The tag's digest comparison (the `digestStatus` values of docs/images.md). */
  digestStatus: UpdateStatus | null
  /** Part of the check failed (also beside `update_available`, when the other part succeeded). */
  error: string | null
  /** Why no newer version is offered (for `images check`), when the tag is a version without a candidate. */
  note: string | null
  /** The error is worth retrying later (registry unreachable, rate limited). */
  transient: boolean
  /** Settings carried along for notifications. */
  source: string | null
  releaseUrl: string | null
  /** A Swarm service homeops deploys from git: where its image is written (null: not managed by git). */
  gitops?: GitopsOwner | null
}

export interface CheckReport {
  runId: string
  checkedAt: string
  durationMs: number
  results: CheckResult[]
  /** `errors`: workloads whose check failed in whole or in part. */
  summary: {workloads: number; updates: number; errors: number; disabled: number; local: number}
  registryRequests: {requests: number; byKind: Record<string, number>}
}

export interface CheckOptions {
  client: RegistryClient
  overrides?: SettingsOverrides
  logger: Logger
  maxTags?: number
  /** Workloads checked at the same time (default 256; the client's adaptive per-registry limit is what bounds traffic). */
  concurrency?: number
  signal?: AbortSignal
}

/** Checks each workload against its registry; one failing workload never stops the others. */
export async function checkWorkloads(workloads: readonly Workload[], options: CheckOptions): Promise<CheckReport> {
  const started = Date.now()
  const results = new Array<CheckResult>(workloads.length)
  await forEachLimited(
    workloads,
    options.concurrency ?? 256,
    async (workload, index) => {
      results[index] = await checkOne(workload, options)
    },
    {signal: options.signal},
  )
  const done = results.filter(Boolean)
  return {
    runId: randomUUID(),
    checkedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    results: done,
    summary: {
      workloads: done.length,
      updates: done.filter((r) => r.status === 'update_available').length,
      errors: done.filter((r) => r.error !== null).length,
      disabled: done.filter((r) => r.status === 'disabled').length,
      local: done.filter((r) => r.status === 'local_image').length,
    },
    registryRequests: {requests: options.client.stats.requests, byKind: {...options.client.stats.byKind}},
  }
}

export async function checkOne(workload: Workload, options: CheckOptions): Promise<CheckResult> {
  const result: CheckResult = {
    workload: workload.name,
    kind: workload.kind,
    id: workload.id,
    image: workload.image,
    reference: workload.image,
    currentTag: null,
    currentDigest: null,
    remoteDigest: null,
    newestAllowed: null,
    newestOverall: null,
    mode: null,
    strategy: null,
    status: 'unknown',
    update: null,
    digestStatus: null,
    error: null,
    note: null,
    transient: false,
    source: workload.source ?? null,
    releaseUrl: null,
  }
  const log = options.logger.child({workload: workload.name})
  let ref
  if (!isImageId(workload.image)) {
    try {
      ref = parseImageReference(workload.image)
      result.image = familiarName(ref)
      result.currentTag = ref.tag ?? (ref.digest ? null : 'latest')
      result.currentDigest = (ref.digest ? [ref.digest] : localDigestsFor(ref, workload.repoDigests))[0] ?? null
    } catch (error) {
      return {...result, status: 'error', error: errorMessage(error)}
    }
  }
  let settings
  try {
    settings = resolveSettings(workload.labels, options.overrides)
  } catch (error) {
    return {...result, status: 'error', error: errorMessage(error)}
  }
  result.mode = settings.mode
  result.strategy = settings.strategy
  result.releaseUrl = settings.releaseUrl ?? null
  if (!ref) return {...result, note: 'runs an image ID, not a name: nothing to compare'}
  if (settings.mode === 'DISABLED') return {...result, status: 'disabled'}
  if (!result.currentTag) return {...result, note: 'pinned by digest without a tag: nothing to follow'}
  if (workload.kind === 'container' && !ref.digest && workload.repoDigests.length === 0)
    return {
      ...result,
      status: 'local_image',
      digestStatus: 'unknown_local_digest',
      note: 'built or loaded locally (no registry digest): not compared with a registry',
    }

  const errors: string[] = []
  const version = parseVersionTag(result.currentTag)
  const [tagsOutcome, digestOutcome] = await Promise.all([
    version
      ? options.client
          .listTags({registry: ref.registry, repository: ref.repository}, {maxTags: options.maxTags})
          .then((tags) => ({tags}))
          .catch((error: unknown) => ({error: errorMessage(error), transient: error instanceof TransientError}))
      : Promise.resolve(undefined),
    checkImageStatus(options.client, workload.image, workload.repoDigests),
  ])
  if (tagsOutcome && 'error' in tagsOutcome) {
    errors.push(tagsOutcome.error)
    if (tagsOutcome.transient) result.transient = true
  }
  if (tagsOutcome && 'tags' in tagsOutcome) {
    const found = findCandidates(result.currentTag, tagsOutcome.tags, settings.strategy, {
      include: settings.include,
      exclude: settings.exclude,
    })
    result.newestAllowed = found.newestAllowed ?? null
    result.newestOverall = found.newestOverall ?? null
    result.note = found.reason ?? null
  }
  result.digestStatus = digestOutcome.status
  result.remoteDigest = digestOutcome.remoteDigest ?? null
  if (digestOutcome.status === 'registry_error') {
    errors.push(digestOutcome.error ?? 'registry error')
    if (digestOutcome.transient) result.transient = true
  }

  if (result.newestAllowed) {
    result.update = {type: 'version', tag: result.newestAllowed}
  } else if (digestOutcome.status === 'update_available' && digestOutcome.remoteDigest) {
    result.update = {type: 'digest', tag: result.currentTag, digest: digestOutcome.remoteDigest}
  }
  if (result.update) result.status = 'update_available'
  else if (errors.length > 0) result.status = 'error'
  else if (digestOutcome.status === 'up_to_date' || (version && tagsOutcome)) result.status = 'up_to_date'
  else result.status = 'unknown'
  if (errors.length > 0) result.error = [...new Set(errors)].join('; ')
  if (digestOutcome.status === 'unknown_local_digest' && !version && !result.error)
    result.note = 'the local image has no digest from this repository: nothing to compare'
  log.debug('checked', {status: result.status, current: result.currentTag, allowed: result.newestAllowed})
  return result
}

/**
 * The exit code of a check (README "Exit codes"): 0 when every workload was checked in full; 3 when every
 * failure is temporary; 1 otherwise. A failed digest check beside a version found by the tag list is a
 * failure too: the result is incomplete.
 */
export function checkExitCode(report: Pick<CheckReport, 'results'>): ExitCodeValue {
  return worst(report.results.filter((r) => r.error !== null).map((r) => (r.transient ? 3 : 1)))
}
