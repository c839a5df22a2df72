import {hostname} from 'node:os'

import {LockedError, OperationError, UserError, errorMessage} from '../errors.js'
import type {Context} from '../context.js'
import type {Notifier} from '../notify/notifiers.js'
import type {UpdateNotice} from './notice.js'
import type {RegistryClient} from '../registry/client.js'
import {createRegistryClient} from '../registry/factory.js'
import {parseImageReference} from '../registry/reference.js'
import {type ApplyOutcome, SERVICE_LABELS, imageName, updateContainer, updateService} from './apply.js'
import {type CheckReport, type CheckResult, checkOne, checkWorkloads} from './checker.js'
import {
  type UpdateBy,
  autoUpdateFailedBefore,
  markNotified,
  notificationKey,
  recordCheck,
  recordUpdate,
  wasNotified,
} from './history.js'
import {createApplyToken, linkKey} from './links.js'
import {findReleaseNotes, summarizeReleaseNotes} from './release-notes.js'
import {type Workload, discoverWorkloads, imageLabel} from './workloads.js'
import type {ServiceInfo} from './workloads.js'

/** The registry client configured from `registries:` and `images.*`: the one factory, re-exported for commands. */
export {createRegistryClient} from '../registry/factory.js'

export async function createNotifiers(context: Context): Promise<Notifier[]> {
  const {createNotifiers: fromConfig} = await import('../notify/notifiers.js')
  return fromConfig(context.config.images.notifiers, 'images.notifiers')
}

/** Running containers and services, limited to `images.scope` when set. */
export async function visibleWorkloads(context: Context): Promise<Workload[]> {
  const {docker} = await context.docker()
  const workloads = await discoverWorkloads(docker, context.logger)
  const scope = context.config.images.scope
  return scope ? workloads.filter((w) => imageLabel(w.labels, 'scope')?.value === scope) : workloads
}

export interface CheckRunOptions {
  /** Only this workload (container or service name). */
  workload?: string
  client?: RegistryClient
  /** Store results in the state database (default true). */
  record?: boolean
  /** One warning log line per failed workload (default true; `images check` prints them in its table instead). */
  logErrors?: boolean
}

/** Discovers workloads, checks them, stores the results. */
export async function runCheck(context: Context, options: CheckRunOptions = {}): Promise<CheckReport> {
  let workloads = await visibleWorkloads(context)
  // A workload named explicitly is checked even when watchByDefault would leave it out.
  if (!options.workload && !context.config.images.watchByDefault)
    workloads = workloads.filter((w) => imageLabel(w.labels, 'mode'))
  if (options.workload) {
    workloads = workloads.filter((w) => w.name === options.workload || w.id.startsWith(options.workload!))
    if (workloads.length === 0)
      throw new UserError(`no running container or Swarm service named "${options.workload}"`, {
        hint: 'run `homeops images check` to list the workloads',
      })
  }
  const client = options.client ?? createRegistryClient(context)
  try {
    const report = await checkWorkloads(workloads, {
      client,
      overrides: {mode: context.config.images.mode, strategy: context.config.images.strategy},
      logger: context.logger,
      maxTags: context.config.images.maxTags,
      signal: context.signal,
    })
    const {gitopsOwners} = await import('./gitops.js')
    const owners = await gitopsOwners(context)
    for (const r of report.results) r.gitops = r.kind === 'service' ? (owners.get(r.workload)?.owner ?? null) : null
    if (options.record !== false) recordCheck(await context.state(), report, context.config.images.historyDays)
    if (options.logErrors !== false)
      for (const r of report.results) {
        if (r.error) context.logger.warn('image check failed', {workload: r.workload, error: r.error})
      }
    return report
  } finally {
    if (!options.client) await client.close()
  }
}

export interface WatchReport {
  check: CheckReport
  notified: {workload: string; version: string; delivered: number; failed: number}[]
  updates: ApplyOutcome[]
}

export interface WatchOptions {
  client?: RegistryClient
  notifiers?: Notifier[]
  /** Base URL of `images serve` for apply links (default `images.publicUrl`). */
  publicUrl?: string
}

/**
 * One scheduled pass: check everything, then per workload with an update:
 * NOTIFICATION → notify once per new version; AUTO_UPDATE → apply (under the
 * `images` lock) and notify the outcome. DISABLED workloads are never touched.
 */
export async function runWatch(context: Context, options: WatchOptions = {}): Promise<WatchReport> {
  const client = options.client ?? createRegistryClient(context)
  try {
    const check = await runCheck(context, {client})
    const db = await context.state()
    const notifiers = options.notifiers ?? (await createNotifiers(context))
    const report: WatchReport = {check, notified: [], updates: []}
    const publicUrl = options.publicUrl ?? context.config.images.publicUrl
    // Collected over the run and sent at the end: one digest per notifier (images.batchNotifications).
    const pending: {notice: UpdateNotice; result: CheckResult; key?: string}[] = []
    for (const result of check.results) {
      if (context.signal.aborted) break
      if (result.status !== 'update_available' || !result.update) continue
      if (result.mode === 'AUTO_UPDATE') {
        if (autoUpdateFailedBefore(db, result.workload, result.update.tag)) {
          context.logger.info('not retrying an automatic update that failed before', {
            workload: result.workload,
            version: result.update.tag,
            hint: 'run homeops images update to try again',
          })
          continue
        }
        let outcome: ApplyOutcome
        const record = (await activityOf(context)).begin(
          'update',
          `${result.workload} to ${result.update.tag}`,
          ORIGIN.auto,
        )
        try {
          outcome = await applyResult(context, client, result, 'auto')
          record.finish(
            outcome.result === 'applied',
            outcome.error ?? `${result.workload} now runs ${result.update.tag}`,
          )
        } catch (error) {
          context.logger.error('auto-update failed', {workload: result.workload, error: errorMessage(error)})
          record.fail(error)
          if (error instanceof LockedError) continue
          outcome = failedOutcome(result, 'auto', errorMessage(error))
          recordUpdate(db, {...outcome, at: new Date().toISOString()})
        }
        report.updates.push(outcome)
        if (notifiers.length > 0)
          pending.push({
            notice: await buildNotice(
              context,
              result,
              outcome.result === 'applied' ? 'update_applied' : 'update_failed',
              {error: outcome.error ?? undefined},
            ),
            result,
          })
        continue
      }
      if (result.mode !== 'NOTIFICATION') continue
      const key = notificationKey(result)!
      if (wasNotified(db, result.workload, key)) continue
      if (notifiers.length === 0) {
        // Not marked as notified: a notifier added later still hears about it.
        context.logger.info('update available (no notifier configured)', {workload: result.workload, version: key})
        continue
      }
      let applyUrl: string | undefined
      let applyExpiresAt: string | undefined
      if (publicUrl) {
        const ttl = context.config.images.linkTtlHours * 3_600_000
        const target =
          result.update.type === 'version' ? result.update.tag : `${result.update.tag}@${result.update.digest}`
        const link = createApplyToken(linkKey(db), result.workload, target, ttl)
        applyUrl = `${publicUrl.replace(/\/+$/, '')}/images/apply?token=${link.token}`
        applyExpiresAt = link.expiresAt.toISOString()
      }
      pending.push({
        notice: await buildNotice(context, result, 'update_available', {applyUrl, applyExpiresAt}),
        result,
        key,
      })
    }
    if (notifiers.length > 0) await sendNotices(context, notifiers, pending, check, report)
    return report
  } finally {
    if (!options.client) await client.close()
  }
}

function failedOutcome(result: CheckResult, by: UpdateBy, error: string): ApplyOutcome {
  return {
    workload: result.workload,
    kind: result.kind,
    image: result.image,
    previousVersion: result.currentTag,
    newVersion: result.update?.tag ?? result.currentTag ?? '',
    previousDigest: result.currentDigest,
    newDigest: result.update?.type === 'digest' ? result.update.digest : null,
    result: 'failed',
    error,
    by,
  }
}

/** Delivers the run's notices, remembers what some notifier accepted, mirrors state (MQTT). */
async function sendNotices(
  context: Context,
  notifiers: Notifier[],
  pending: {notice: UpdateNotice; result: CheckResult; key?: string}[],
  check: CheckReport,
  report: WatchReport,
): Promise<void> {
  const [{deliver, publishState}, {toNotice, digestTitleFor, workloadEntity}] = await Promise.all([
    import('../notify/notifiers.js'),
    import('./notice.js'),
  ])
  const host = hostname()
  const db = await context.state()
  if (pending.length > 0) {
    const {outcomes} = await deliver(
      notifiers,
      pending.map((p) => toNotice(p.notice)),
      {
        logger: context.logger,
        batch: context.config.images.batchNotifications,
        title: (count) => digestTitleFor(count, host),
        host,
      },
    )
    for (const [i, p] of pending.entries()) {
      if (!p.key) continue
      const {delivered, failed} = outcomes[i]!
      // No notifier's threshold wanted it: nothing was sent, nothing to report.
      if (delivered + failed === 0) continue
      report.notified.push({workload: p.result.workload, version: p.key, delivered, failed})
      // Notified once a notifier accepted it: a broken one must not cause repeats on the others, and a
      // version no notifier accepted (none wanted it, all failed) is offered again next run.
      if (delivered > 0) {
        markNotified(db, p.result.workload, p.key)
        if (p.result.kind === 'service') await labelNotified(context, p.result.workload, p.key)
      }
    }
  }
  const entities = check.results
    .filter((r) => r.currentTag && ['up_to_date', 'update_available', 'local_image'].includes(r.status))
    .map(workloadEntity)
  await publishState(notifiers, 'images', entities, host, context.logger)
}

async function buildNotice(
  context: Context,
  result: CheckResult,
  event: UpdateNotice['event'],
  extra: Partial<UpdateNotice>,
): Promise<UpdateNotice> {
  const images = context.config.images
  const update = result.update!
  const newVersion = update.type === 'version' ? update.tag : `${update.tag} (${update.digest.slice(7, 19)})`
  const notes = await findReleaseNotes(update.tag, {
    template: result.releaseUrl ?? undefined,
    source: result.source ?? undefined,
    githubApiUrl: images.githubApiUrl,
    githubToken: images.githubToken,
    logger: context.logger,
  })
  const summary =
    event === 'update_available' && notes.body
      ? await summarizeReleaseNotes(
          notes.body,
          {image: result.image, from: result.currentTag ?? '', to: update.tag},
          {
            url: images.openai.url,
            key: images.openai.key,
            model: images.openai.model,
            logger: context.logger,
          },
        )
      : undefined
  return {
    event,
    workload: result.workload,
    kind: result.kind,
    image: result.image,
    currentVersion: result.currentTag ?? '?',
    newVersion,
    releaseNotesUrl: notes.url,
    summary,
    newTag: update.tag,
    host: hostname(),
    ...extra,
  }
}

async function labelNotified(context: Context, service: string, version: string): Promise<void> {
  try {
    const {docker} = await context.docker()
    const handle = docker.getService(service)
    const info = (await handle.inspect()) as ServiceInfo
    const spec = {...info.Spec!, Labels: {...info.Spec!.Labels, [SERVICE_LABELS.notified]: version}}
    // Service-level labels only: no task is restarted.
    await handle.update({...spec, version: info.Version!.Index})
  } catch (error) {
    context.logger.warn('cannot label the service with the notified version', {service, error: errorMessage(error)})
  }
}

/** Applies the update a check found, under the `images` lock, and records it. */
async function applyResult(
  context: Context,
  client: RegistryClient,
  result: CheckResult,
  by: UpdateBy,
): Promise<ApplyOutcome> {
  const update = result.update!
  return applyTarget(
    context,
    client,
    result,
    {tag: update.tag, digest: update.type === 'digest' ? update.digest : undefined},
    by,
  )
}

async function applyTarget(
  context: Context,
  client: RegistryClient,
  workload: Pick<
    CheckResult,
    'workload' | 'kind' | 'id' | 'mode' | 'image' | 'reference' | 'currentTag' | 'currentDigest'
  >,
  target: {tag: string; digest?: string},
  by: UpdateBy,
  onStep?: (step: string) => void,
): Promise<ApplyOutcome> {
  if (workload.mode === 'DISABLED')
    throw new UserError(`${workload.workload} has homeops.images.mode=DISABLED: not updating it`, {
      hint: 'change the label to NOTIFICATION or AUTO_UPDATE to allow updates',
    })
  if (workload.kind === 'service') {
    // Git is the truth of a service homeops deploys from a repository: refused, or committed there.
    const {gitopsOwners, gitopsUpdate} = await import('./gitops.js')
    const managed = (await gitopsOwners(context)).get(workload.workload)
    if (managed) {
      const outcome = await gitopsUpdate(context, workload, managed, target, by)
      recordUpdate(await context.state(), {...outcome, at: new Date().toISOString()})
      return outcome
    }
  }
  const lock = await context.lock('images')
  try {
    const [{docker}, db, {stateJournal}, {stateDir}] = await Promise.all([
      context.docker(),
      context.state(),
      import('../docker/update-journal.js'),
      import('../paths.js'),
    ])
    const deps = {
      docker,
      client,
      logger: context.logger,
      signal: context.signal,
      timeoutMs: context.config.images.healthTimeoutSeconds * 1000,
      lockDir: stateDir(context.statePath),
      journal: stateJournal(db),
      onStep,
    }
    const outcome =
      workload.kind === 'service'
        ? await updateService(deps, workload.id, target, by)
        : ((await composeUpdate(context, workload.id, target, by)) ??
          (await updateContainer(deps, workload.id, target, by)))
    recordUpdate(await context.state(), {...outcome, at: new Date().toISOString()})
    return outcome
  } finally {
    lock.release()
  }
}

/** With images.composeUpdates, a container of a compose project is updated through its compose file. */
async function composeUpdate(
  context: Context,
  containerId: string,
  target: {tag: string; digest?: string},
  by: UpdateBy,
): Promise<ApplyOutcome | undefined> {
  if (!context.config.images.composeUpdates) return undefined
  const {docker, address} = await context.docker()
  const {composeProjectOf, updateComposeService} = await import('./compose.js')
  const info = await docker.getContainer(containerId).inspect()
  if (!composeProjectOf(info.Config.Labels ?? {})) return undefined
  return updateComposeService(
    {
      docker,
      logger: context.logger,
      signal: context.signal,
      timeoutMs: context.config.images.healthTimeoutSeconds * 1000,
      dockerHost: address,
    },
    containerId,
    target,
    by,
  )
}

export interface ApplyRequest {
  workload: string
  /** Target tag; default: what the check finds under the workload's strategy. */
  to?: string
  by: UpdateBy
  client?: RegistryClient
  /** Who asked, in words, for the shared activity history (default from `by`: command line, apply link). */
  origin?: string
}

const ORIGIN: Record<UpdateBy, string> = {auto: 'automatic (images check)', manual: 'command line', link: 'apply link'}

/** The shared history of actions (every page and command shows it). */
async function activityOf(context: Context) {
  const {ActivityLog} = await import('../activity/log.js')
  return new ActivityLog(await context.state())
}

/** How an apply ended, in the words of the history. */
function applyMessage(report: ApplyReport, to: string | undefined): string {
  const target = report.outcome?.newVersion ?? to ?? report.check.currentTag ?? '?'
  if (report.action === 'updated') return `${report.workload} now runs ${target}`
  if (report.action === 'up_to_date') return `${report.workload} already runs ${report.check.currentTag ?? target}`
  return `${report.action.replace(/_/g, ' ')}: ${report.outcome?.error ?? ''}`
}

export interface ApplyReport {
  workload: string
  kind: 'service' | 'container'
  action: 'updated' | 'up_to_date' | 'failed' | 'rolled_back' | 'refused'
  outcome: ApplyOutcome | null
  check: CheckResult
}

/** `images update WORKLOAD [--to TAG]` and the apply links. */
export async function applyWorkloadUpdate(context: Context, request: ApplyRequest): Promise<ApplyReport> {
  const record = (await activityOf(context)).begin(
    'update',
    request.to ? `${request.workload} to ${request.to}` : request.workload,
    request.origin ?? ORIGIN[request.by],
  )
  try {
    const report = await applyOnce(context, request, (step) => record.step(step))
    record.finish(report.action === 'updated' || report.action === 'up_to_date', applyMessage(report, request.to))
    return report
  } catch (error) {
    record.fail(error)
    throw error
  }
}

async function applyOnce(context: Context, request: ApplyRequest, step: (name: string) => void): Promise<ApplyReport> {
  const client = request.client ?? createRegistryClient(context)
  try {
    step('checking the registry')
    const workload = await findWorkloadSettled(context, request.workload)
    const check = await checkOne(workload, {
      client,
      overrides: {mode: context.config.images.mode, strategy: context.config.images.strategy},
      logger: context.logger,
      maxTags: context.config.images.maxTags,
    })
    if (check.mode === null) throw new UserError(`${workload.name}: ${check.error}`)
    if (check.mode === 'DISABLED')
      throw new UserError(`${workload.name} has homeops.images.mode=DISABLED: not updating it`, {
        hint: 'change the label to NOTIFICATION or AUTO_UPDATE to allow updates',
      })
    let target: {tag: string; digest?: string}
    if (request.to) {
      const [tag, digest] = request.to.split('@') as [string, string | undefined]
      const ref = parseImageReference(workload.image)
      // Refuses a tag the registry does not have before anything changes.
      const remote = await client.manifestDigest({registry: ref.registry, repository: ref.repository, tag})
      if (digest && digest !== remote)
        throw new UserError(
          `${imageName(workload.image)}:${tag} now points at ${remote.slice(0, 19)}…, not ${digest.slice(0, 19)}…`,
          {
            hint: 'the tag moved since the link was sent; run `homeops images check` and apply again',
          },
        )
      target = {tag, digest: remote}
      if (check.currentTag === tag && check.currentDigest === remote)
        return {workload: workload.name, kind: workload.kind, action: 'up_to_date', outcome: null, check}
    } else {
      if (check.status === 'error') throw new OperationError(`cannot check ${workload.name}: ${check.error}`)
      if (!check.update)
        return {workload: workload.name, kind: workload.kind, action: 'up_to_date', outcome: null, check}
      target = {tag: check.update.tag, digest: check.update.type === 'digest' ? check.update.digest : undefined}
    }
    step(`updating to ${target.tag}`)
    const outcome = await applyTarget(context, client, {...check, id: workload.id}, target, request.by, step)
    const action = outcome.result === 'applied' ? 'updated' : outcome.result
    return {workload: workload.name, kind: workload.kind, action, outcome, check}
  } finally {
    if (!request.client) await client.close()
  }
}

/**
 * A container another process is updating right now is only aside for the moment: that is exit 5 (its lock),
 * not "no such container"; one whose update was interrupted is repaired, then looked up again.
 */
async function findWorkloadSettled(context: Context, name: string): Promise<Workload> {
  try {
    return findWorkload(await visibleWorkloads(context), name)
  } catch (error) {
    if (!(error instanceof UserError)) throw error
    const [{docker}, db, {stateJournal}, {settleUpdateOf}, {stateDir}] = await Promise.all([
      context.docker(),
      context.state(),
      import('../docker/update-journal.js'),
      import('../docker/update-recovery.js'),
      import('../paths.js'),
    ])
    const journal = stateJournal(db)
    // No entry: perhaps an update finished between the listing and now; the second look tells.
    if (journal.list().some((e) => e.name === name))
      await settleUpdateOf(docker, journal, {lockDir: stateDir(context.statePath), logger: context.logger, name})
    return findWorkload(await visibleWorkloads(context), name)
  }
}

function findWorkload(workloads: Workload[], name: string): Workload {
  const exact = workloads.filter((w) => w.name === name)
  if (exact.length === 1) return exact[0]!
  if (exact.length > 1)
    throw new UserError(`"${name}" is both a container and a Swarm service`, {
      hint: 'use the container or service ID instead',
    })
  const byId = workloads.filter((w) => w.id.startsWith(name) && name.length >= 6)
  if (byId.length === 1) return byId[0]!
  throw new UserError(`no running container or Swarm service named "${name}"`, {
    hint: 'run `homeops images check` to list the workloads',
  })
}
