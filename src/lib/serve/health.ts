import type {Mode} from '../config/root-schema.js'
import type {DockerProbe, DockerProbeResult} from '../docker/probe.js'
import type {ModeStatus, ModeSupervisor} from './supervisor.js'

export interface HealthReport {
  status: 'ok' | 'degraded'
  version: string
  uptimeSeconds: number
  modes: Record<string, Omit<ModeStatus, 'name'>>
  /** Present while a mode that needs Docker is enabled: whether the daemon answers a ping now. */
  docker?: DockerProbeResult
}

/** Modes that cannot work without the Docker daemon (dns only reads it when configured, and answers without it). */
const DOCKER_MODES: readonly Mode[] = ['monitor', 'images', 'swarm']

/** Every mode's status, in the order of the page. */
export function orderedStatus(supervisor: ModeSupervisor, order: readonly Mode[]): ModeStatus[] {
  return supervisor.status().sort((a, b) => order.indexOf(a.name as Mode) - order.indexOf(b.name as Mode))
}

export interface HealthOptions {
  supervisor: ModeSupervisor
  order: readonly Mode[]
  probe: DockerProbe
  version: string
  /** Process start, ms since the epoch. */
  startedAt: number
  now?: () => number
}

/** `GET /health`: ok when every mode is up and, when one needs it, the Docker daemon answers. */
export async function healthReport(options: HealthOptions): Promise<HealthReport> {
  const {supervisor} = options
  const modes: HealthReport['modes'] = {}
  for (const {name, ...rest} of orderedStatus(supervisor, options.order)) modes[name] = rest
  const needsDocker = supervisor.names().some((name) => DOCKER_MODES.includes(name as Mode))
  const docker = needsDocker ? await options.probe.check() : undefined
  return {
    status: supervisor.allUp() && docker?.reachable !== false ? 'ok' : 'degraded',
    version: options.version,
    uptimeSeconds: Math.round(((options.now ?? Date.now)() - options.startedAt) / 1000),
    modes,
    ...(docker ? {docker} : {}),
  }
}
