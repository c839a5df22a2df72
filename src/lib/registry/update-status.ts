import {HomeopsError, TransientError, errorMessage} from '../errors.js'
import type {RegistryClient} from './client.js'
import {type ImageReference, isImageId, parseImageReference, sameRepository} from './reference.js'

export type UpdateStatus =
  'up_to_date' | 'update_available' | 'unknown_image' | 'unknown_local_digest' | 'registry_error'

export interface ImageStatus {
  status: UpdateStatus
  remoteDigest?: string
  error?: string
  /** A `registry_error` worth retrying later (unreachable, timeout, 429, 5xx). */
  transient?: boolean
}

/**
 * Digests of `RepoDigests` (`repo@sha256:…`) that belong to the same registry
 * and repository as `ref`. A local image is up to date when one of them equals
 * the registry's digest of the tag (docs/architecture.md "The shared core").
 */
export function localDigestsFor(ref: ImageReference, repoDigests: readonly string[]): string[] {
  const out: string[] = []
  for (const entry of repoDigests) {
    try {
      const parsed = parseImageReference(entry)
      if (parsed.digest && sameRepository(parsed, ref)) out.push(parsed.digest)
    } catch {
      // A RepoDigest we cannot parse cannot match either.
    }
  }
  return out
}

/**
 * Compares a workload's image with its registry without throwing: registry
 * failures become `registry_error` with the message. `image` is the reference
 * as the container or service gives it; a Swarm service's pinned
 * `repo:tag@sha256:…` uses the pinned digest as the local one.
 */
export async function checkImageStatus(
  client: RegistryClient,
  image: string,
  repoDigests: string[],
): Promise<ImageStatus> {
  if (!image || isImageId(image)) return {status: 'unknown_image', error: 'the workload runs an image ID, not a name'}
  let ref: ImageReference
  try {
    ref = parseImageReference(image)
  } catch (error) {
    return {status: 'unknown_image', error: errorMessage(error)}
  }
  if (ref.digest && !ref.tag) {
    return {status: 'unknown_image', error: 'the image is pinned by digest without a tag to follow'}
  }
  const local = ref.digest ? [ref.digest] : localDigestsFor(ref, repoDigests)
  if (local.length === 0) return {status: 'unknown_local_digest'}
  let remoteDigest: string
  try {
    remoteDigest = await client.manifestDigest({registry: ref.registry, repository: ref.repository, tag: ref.tag})
  } catch (error) {
    if (error instanceof HomeopsError)
      return {status: 'registry_error', error: error.message, transient: error instanceof TransientError}
    return {status: 'registry_error', error: errorMessage(error)}
  }
  return {status: local.includes(remoteDigest) ? 'up_to_date' : 'update_available', remoteDigest}
}
