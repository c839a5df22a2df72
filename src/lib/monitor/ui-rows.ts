import type {Docker} from '../docker/client.js'
import type {WatchedContainer} from '../docker/stats.js'
import {redactText} from '../log/redact.js'
import {
  type ContainerKind,
  type HealthView,
  type InspectFacts,
  containerGroup,
  containerKind,
  describeHealth,
  updatable,
} from './health-view.js'
import {HISTORY_INTERVAL_MS, type MetricHistory} from './metric-history.js'
import type {ContainerRow} from './service.js'

const INSPECT_CONCURRENCY = 4
const HEALTH_OUTPUT_CHARS = 200

/**
 * `docker inspect` facts (restart count, exit code, health output) per container,
 * read again only when Docker's status text of it changes.
 */
export class ContainerDetails {
  private readonly cache = new Map<string, {status: string; facts: InspectFacts}>()

  constructor(private readonly docker: Docker) {}

  async facts(containers: readonly WatchedContainer[]): Promise<Map<string, InspectFacts>> {
    const ids = new Set(containers.map((c) => c.id))
    for (const id of this.cache.keys()) if (!ids.has(id)) this.cache.delete(id)
    const stale = containers.filter((c) => this.cache.get(c.id)?.status !== c.status)
    for (let i = 0; i < stale.length; i += INSPECT_CONCURRENCY) {
      await Promise.all(
        stale.slice(i, i + INSPECT_CONCURRENCY).map(async (c) => {
          try {
            this.cache.set(c.id, {status: c.status, facts: toFacts(await this.docker.getContainer(c.id).inspect())})
          } catch {
            // Gone meanwhile or Docker busy: the row falls back to the status text.
          }
        }),
      )
    }
    return new Map([...this.cache].map(([id, entry]) => [id, entry.facts]))
  }
}

interface InspectLike {
  RestartCount?: number
  State?: {
    ExitCode?: number
    OOMKilled?: boolean
    Error?: string
    StartedAt?: string
    FinishedAt?: string
    Health?: {Status?: string; Log?: {ExitCode?: number; Output?: string}[]}
  }
}

function toFacts(info: InspectLike): InspectFacts {
  const state = info.State ?? {}
  const log = state.Health?.Log ?? []
  const failing = [...log].reverse().find((l) => l.ExitCode !== 0)
  const zero = (t: string | undefined) => (t && !t.startsWith('0001-') ? t : null)
  return {
    restartCount: info.RestartCount ?? 0,
    exitCode: typeof state.ExitCode === 'number' ? state.ExitCode : null,
    oomKilled: Boolean(state.OOMKilled),
    health: state.Health?.Status ?? null,
    healthOutput: failing?.Output
      ? redactText(failing.Output.trim().replace(/\s+/g, ' ')).slice(0, HEALTH_OUTPUT_CHARS) || null
      : null,
    startedAt: zero(state.StartedAt),
    finishedAt: zero(state.FinishedAt),
    error: state.Error ? redactText(state.Error).slice(0, HEALTH_OUTPUT_CHARS) : null,
  }
}

/** One row of `GET /ui/containers`: what the page shows, keyed by `id`. */
export interface UiContainerRow extends HealthView {
  id: string
  name: string
  state: string
  status: string
  image: string
  group: string
  kind: ContainerKind
  restart_count: number
  started_at: string | null
  finished_at: string | null
  updatable: boolean
  not_updatable_reason?: string
  update: ContainerRow['update']
  update_reason?: string
  update_checked_at?: string
  cpu: number | null
  mem_usage: number | null
  mem_limit: number | null
  net_rx: number | null
  net_tx: number | null
  history: {cpu: (number | null)[]; mem: (number | null)[]}
}

const UPDATE_REASONS: Record<string, string> = {
  unknown_image: 'the image has no name to look up in a registry (an image ID)',
  unknown_local_digest: 'a local image: built or loaded here, not pulled, so there is no registry digest to compare',
}

export function uiRow(
  c: WatchedContainer,
  row: ContainerRow | undefined,
  facts: InspectFacts | undefined,
  history: MetricHistory,
): UiContainerRow {
  const can = updatable(c)
  const update = row?.update ?? null
  const reason = row?.update_error ?? (update ? UPDATE_REASONS[update] : undefined)
  return {
    id: c.id,
    name: c.name,
    state: c.state,
    status: c.status,
    image: c.image,
    group: containerGroup(c),
    kind: containerKind(c),
    restart_count: facts?.restartCount ?? 0,
    started_at: facts?.startedAt ?? null,
    finished_at: facts?.finishedAt ?? null,
    ...describeHealth(c, facts),
    updatable: can.ok,
    ...(can.reason ? {not_updatable_reason: can.reason} : {}),
    update,
    ...(reason ? {update_reason: reason} : {}),
    ...(row?.update_checked_at ? {update_checked_at: row.update_checked_at} : {}),
    cpu: row?.cpu ?? null,
    mem_usage: row?.mem_usage ?? null,
    mem_limit: row?.mem_limit ?? null,
    net_rx: row?.net_rx ?? null,
    net_tx: row?.net_tx ?? null,
    history: history.of(c.id),
  }
}

export const HISTORY_STEP_SECONDS = HISTORY_INTERVAL_MS / 1000
