import type Dockerode from 'dockerode'

import {UserError, errorMessage} from '../errors.js'
import type {Docker} from '../docker/client.js'
import type {Logger} from '../log/logger.js'
import {IMAGE_MODES, IMAGE_STRATEGIES} from './config.js'
import {type Strategy, compileTagPattern} from './versions.js'

export type ImageMode = (typeof IMAGE_MODES)[number]

/** A running container or a Swarm service, with what the checker needs to know about its image. */
export interface Workload {
  /** Container name or service name. */
  name: string
  id: string
  kind: 'service' | 'container'
  /** The image as the container or service gives it (a service's is pinned: `repo:tag@sha256:…`). */
  image: string
  /** `RepoDigests` of the local image (containers); empty for services (the pin is the local digest). */
  repoDigests: string[]
  /** Container labels, or a service's own labels (`deploy.labels`). */
  labels: Record<string, string>
  /** `org.opencontainers.image.source` when known. */
  source?: string
}

export interface WorkloadSettings {
  mode: ImageMode
  strategy: Strategy
  releaseUrl?: string
  include?: RegExp
  exclude?: RegExp
}

export interface SettingsOverrides {
  mode?: ImageMode
  strategy?: Strategy
}

const PREFIXES = ['homeops.images.', 'image-watcher/', 'image-watcher.']

/** A label by its key under `homeops.images.`, else the original tool's `image-watcher/` alias. */
export function imageLabel(labels: Record<string, string>, key: string): {name: string; value: string} | undefined {
  for (const prefix of PREFIXES) {
    const value = labels[prefix + key]
    if (value !== undefined) return {name: prefix + key, value}
  }
  return undefined
}

function enumLabel<V extends string>(
  labels: Record<string, string>,
  key: string,
  values: readonly V[],
  fallback: V,
): V {
  const label = imageLabel(labels, key)
  if (!label || label.value.trim() === '') return fallback
  const match = values.find((v) => v.toLowerCase() === label.value.trim().toLowerCase())
  if (!match)
    throw new UserError(`label ${label.name}="${label.value}" is not one of ${values.join(', ')}`, {
      hint: `set ${label.name} to one of ${values.join(', ')}`,
    })
  return match
}

/**
 * The effective settings of a workload: its labels, with `IMAGE_WATCHER_MODE` /
 * `IMAGE_WATCHER_STRATEGY` (config `images.mode`/`strategy`) overriding them.
 * One exception, for safety: a workload labelled DISABLED stays disabled.
 * A bad label value or regex throws a UserError naming the label.
 */
export function resolveSettings(labels: Record<string, string>, overrides: SettingsOverrides = {}): WorkloadSettings {
  const labelMode = enumLabel(labels, 'mode', IMAGE_MODES, 'NOTIFICATION')
  const mode = labelMode === 'DISABLED' ? 'DISABLED' : (overrides.mode ?? labelMode)
  const strategy = overrides.strategy ?? enumLabel(labels, 'strategy', IMAGE_STRATEGIES, 'ALL')
  const include = imageLabel(labels, 'include')
  const exclude = imageLabel(labels, 'exclude')
  const releaseUrl = imageLabel(labels, 'release-url')?.value.trim()
  return {
    mode,
    strategy,
    releaseUrl: releaseUrl || undefined,
    include: include ? compileTagPattern(include.value, `label ${include.name}`) : undefined,
    exclude: exclude ? compileTagPattern(exclude.value, `label ${exclude.name}`) : undefined,
  }
}

const SOURCE_LABEL = 'org.opencontainers.image.source'

/**
 * Running containers (not Swarm tasks: their service is the workload) and,
 * on a Swarm manager, services. One image inspect per distinct image.
 */
export async function discoverWorkloads(docker: Docker, logger: Logger): Promise<Workload[]> {
  const images = new Map<string, Promise<Dockerode.ImageInspectInfo | undefined>>()
  const inspectImage = (id: string) => {
    let found = images.get(id)
    if (!found) {
      found = docker
        .getImage(id)
        .inspect()
        .catch(() => undefined)
      images.set(id, found)
    }
    return found
  }
  const workloads: Workload[] = []

  const containers = await docker.listContainers({all: false})
  await Promise.all(
    containers
      .filter((c) => !c.Labels?.['com.docker.swarm.service.id'])
      .map(async (c) => {
        const info = await docker
          .getContainer(c.Id)
          .inspect()
          .catch(() => undefined)
        if (!info) return // gone meanwhile
        const image = await inspectImage(info.Image)
        workloads.push({
          name: info.Name.replace(/^\//, ''),
          id: info.Id,
          kind: 'container',
          image: info.Config.Image,
          repoDigests: image?.RepoDigests ?? [],
          labels: info.Config.Labels ?? {},
          source: image?.Config?.Labels?.[SOURCE_LABEL] ?? info.Config.Labels?.[SOURCE_LABEL],
        })
      }),
  )

  let services: Dockerode.Service[] = []
  try {
    services = await docker.listServices()
  } catch (error) {
    const status = (error as {statusCode?: number}).statusCode
    // 503: not a swarm manager (or no swarm): containers only.
    if (status !== 503 && status !== 406) logger.warn('cannot list Swarm services', {error: errorMessage(error)})
  }
  for (const s of services as unknown as ServiceInfo[]) {
    const spec = s.Spec
    const image = spec?.TaskTemplate?.ContainerSpec?.Image
    if (!spec?.Name || !image) continue
    const labels = spec.Labels ?? {}
    const local = await inspectImage(image.replace(/@sha256:[0-9a-f]{64}$/, ''))
    workloads.push({
      name: spec.Name,
      id: s.ID,
      kind: 'service',
      image,
      repoDigests: [],
      labels,
      source:
        labels[SOURCE_LABEL] ??
        spec.TaskTemplate?.ContainerSpec?.Labels?.[SOURCE_LABEL] ??
        local?.Config?.Labels?.[SOURCE_LABEL],
    })
  }
  return workloads.sort((a, b) => a.name.localeCompare(b.name))
}

export interface ServiceInfo {
  ID: string
  Version?: {Index: number}
  Spec?: {
    Name?: string
    Labels?: Record<string, string>
    TaskTemplate?: {ContainerSpec?: {Image?: string; Labels?: Record<string, string>}; ForceUpdate?: number}
    UpdateConfig?: Record<string, unknown>
    [key: string]: unknown
  }
  UpdateStatus?: {State?: string; Message?: string; StartedAt?: string; CompletedAt?: string}
}
