import type {WatchedContainer} from '../docker/stats.js'

/** What `docker inspect` adds to the list entry: read once per status change (see ContainerDetails). */
export interface InspectFacts {
  restartCount: number
  exitCode: number | null
  oomKilled: boolean
  health: string | null
  /** Output of the last failing health check, shortened. */
  healthOutput: string | null
  startedAt: string | null
  finishedAt: string | null
  error: string | null
}

export type Level = 'ok' | 'warn' | 'bad' | 'info'

/** One row's health in plain words, for the web page: a badge, why, and what to do. */
export interface HealthView {
  level: Level
  badge: string
  reason: string
  hint?: string
}

export type ContainerKind = 'container' | 'swarm-task' | 'old-copy'

const SIGNALS: Record<number, string> = {
  130: 'interrupted (SIGINT)',
  137: 'killed (SIGKILL: docker kill, a stop timeout or out of memory)',
  139: 'crashed (segmentation fault)',
  143: 'stopped (SIGTERM)',
}

/** `Exited (137) 5 minutes ago` → 137; `Restarting (1) 3 seconds ago` → 1. */
export function exitCodeFromStatus(status: string): number | null {
  const match = /^(?:Exited|Restarting) \((-?\d+)\)/.exec(status)
  return match ? Number(match[1]) : null
}

/** Docker's health from the status text: `Up 5 minutes (healthy)`, `(health: starting)`. */
export function healthFromStatus(status: string): string | null {
  if (/\(healthy\)/.test(status)) return 'healthy'
  if (/\(unhealthy\)/.test(status)) return 'unhealthy'
  if (/\(health: starting\)/.test(status)) return 'starting'
  return null
}

export function containerKind(c: Pick<WatchedContainer, 'name' | 'labels'>): ContainerKind {
  if (/-homeops-old-\d+$/.test(c.name)) return 'old-copy'
  if (c.labels['com.docker.swarm.task.id'] || c.labels['com.docker.swarm.service.name']) return 'swarm-task'
  return 'container'
}

/** The stack or compose project a container belongs to ('' for none). */
export function containerGroup(c: Pick<WatchedContainer, 'labels'>): string {
  return c.labels['com.docker.stack.namespace'] ?? c.labels['com.docker.compose.project'] ?? ''
}

/** Whether the page offers Update, and why not. */
export function updatable(c: Pick<WatchedContainer, 'name' | 'labels' | 'state'>): {ok: boolean; reason?: string} {
  const kind = containerKind(c)
  if (kind === 'old-copy') return {ok: false, reason: 'the previous container kept aside during an update'}
  if (kind === 'swarm-task') return {ok: false, reason: 'a Swarm task: update its service (images or swarm)'}
  if (c.state !== 'running' && c.state !== 'restarting') {
    return {ok: false, reason: `${c.state}: start it first (an update recreates a running container)`}
  }
  return {ok: true}
}

function exitWords(code: number): string {
  return SIGNALS[code] ?? (code === 0 ? 'finished (exit code 0)' : `failed (exit code ${code})`)
}

/** The badge, reason and hint of one container. */
export function describeHealth(c: WatchedContainer, facts: InspectFacts | undefined): HealthView {
  const restarts = facts?.restartCount ?? 0
  const restartText = restarts ? `, restarted ${restarts} time${restarts === 1 ? '' : 's'}` : ''
  const logs = `See its logs: docker logs --tail 50 ${c.name}`
  const code = facts?.exitCode ?? exitCodeFromStatus(c.status)
  switch (c.state) {
    case 'running': {
      const health = facts?.health ?? healthFromStatus(c.status)
      if (health === 'unhealthy') {
        return {
          level: 'bad',
          badge: 'unhealthy',
          reason: `Its health check fails${facts?.healthOutput ? `: ${facts.healthOutput}` : ''}${restartText}`,
          hint: logs,
        }
      }
      if (health === 'starting') {
        return {level: 'info', badge: 'starting', reason: `Health check not passed yet${restartText}`}
      }
      if (restarts >= 3) {
        return {level: 'warn', badge: 'restarts', reason: `Running, but restarted ${restarts} times`, hint: logs}
      }
      return {
        level: 'ok',
        badge: health === 'healthy' ? 'healthy' : 'running',
        reason: `${c.status}${restartText}`,
      }
    }
    case 'restarting':
      return {
        level: 'bad',
        badge: 'restart loop',
        reason: `Keeps exiting${code === null ? '' : `: ${exitWords(code)}`}${restartText}`,
        hint: logs,
      }
    case 'exited': {
      if (code === 0 || code === 143) {
        return {level: 'info', badge: code === 0 ? 'exited (0)' : 'stopped', reason: `${c.status}: ${exitWords(code)}`}
      }
      const oom = facts?.oomKilled ? ' (out of memory)' : ''
      return {
        level: 'bad',
        badge: code === null ? 'exited' : `exited (${code})`,
        reason: `${code === null ? c.status : exitWords(code)}${oom}${facts?.error ? `: ${facts.error}` : ''}`,
        hint: facts?.oomKilled ? 'Raise its memory limit, then start it again' : logs,
      }
    }
    case 'paused':
      return {level: 'warn', badge: 'paused', reason: 'Its processes are frozen', hint: `docker unpause ${c.name}`}
    case 'created':
      return {level: 'info', badge: 'created', reason: 'Created but never started', hint: `docker start ${c.name}`}
    case 'dead':
      return {level: 'bad', badge: 'dead', reason: 'Docker could not remove or stop it', hint: `docker rm -f ${c.name}`}
    default:
      return {level: 'info', badge: c.state || 'unknown', reason: c.status}
  }
}
