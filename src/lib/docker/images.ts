import {OperationError} from '../errors.js'
import type {Docker} from './client.js'
import {dockerMessage} from './recreate.js'

export interface UnusedImage {
  id: string
  tags: string[]
  size: number
  created: number
  /** No tag at all (`<none>:<none>`). */
  dangling: boolean
}

export interface ImageFilter {
  /** Docker's `label` filter: `key` or `key=value`; every entry must match. */
  labels?: string[]
}

/**
 * Images no container uses (running or stopped), what `docker image prune -a`
 * would remove. Intermediate layers are not listed.
 */
export async function listUnusedImages(docker: Docker, filter: ImageFilter = {}): Promise<UnusedImage[]> {
  const labelFilter = filter.labels?.length ? {label: filter.labels} : undefined
  const [images, containers] = await Promise.all([
    docker.listImages({all: false, ...(labelFilter ? {filters: labelFilter} : {})}),
    docker.listContainers({all: true}),
  ]).catch((error: unknown) => {
    throw new OperationError(`docker api error: ${dockerMessage(error)}`, {cause: error})
  })
  const used = new Set(containers.map((c) => c.ImageID))
  return images
    .filter((image) => !used.has(image.Id))
    .map((image) => {
      const tags = (image.RepoTags ?? []).filter((t) => t !== '<none>:<none>')
      return {id: image.Id, tags, size: image.Size, created: image.Created, dangling: tags.length === 0}
    })
    .sort((a, b) => b.size - a.size)
}

/**
 * Docker's answer to a prune, as `monitor prune --json` prints it. Each entry names either an untagged
 * reference or a deleted image, never both (@types/dockerode declares both required).
 */
export interface PruneResult {
  ImagesDeleted: {Deleted?: string; Untagged?: string}[]
  SpaceReclaimed: number
}

/** `docker image prune -a` (every unused image, not only dangling ones), narrowed by labels when given. */
export async function pruneUnusedImages(docker: Docker, filter: ImageFilter = {}): Promise<PruneResult> {
  const filters: Record<string, string[]> = {dangling: ['false']}
  if (filter.labels?.length) filters.label = filter.labels
  try {
    const result = await docker.pruneImages({filters})
    return {ImagesDeleted: result.ImagesDeleted ?? [], SpaceReclaimed: result.SpaceReclaimed ?? 0}
  } catch (error) {
    throw new OperationError(`docker api error: ${dockerMessage(error)}`, {cause: error})
  }
}
