import type {UpdateStatus} from '../registry/update-status.js'

export interface UpdateEntry {
  status: UpdateStatus
  remoteDigest?: string
  error?: string
  /** When the registry was asked (ms since epoch). */
  checkedAt: number
}

export type CheckFn = (
  image: string,
  repoDigests: string[],
) => Promise<{status: UpdateStatus; remoteDigest?: string; error?: string}>

export interface UpdateCacheOptions {
  check: CheckFn
  /** How long a result is reused (monitor.registryCacheMinutes). */
  ttlMs: number
  /** `force` refreshes an entry only when it is older than this (default one minute). */
  forceIntervalMs?: number
  now?: () => number
}

/**
 * Registry results per (image reference, local image): served from memory;
 * a stale entry is served while it refreshes in the background; `force`
 * asks the registry again, but never more than once a minute per image,
 * whatever the poll rate (Home Assistant sends `force=1` on every poll).
 */
export class UpdateCache {
  private readonly entries = new Map<string, UpdateEntry>()
  private readonly inflight = new Map<string, Promise<UpdateEntry>>()
  private readonly now: () => number
  /** Registry requests made (for tests and /diag). */
  checks = 0

  constructor(private readonly options: UpdateCacheOptions) {
    this.now = options.now ?? Date.now
  }

  peek(image: string, imageId: string): UpdateEntry | undefined {
    return this.entries.get(key(image, imageId))
  }

  get size(): number {
    return this.entries.size
  }

  async get(
    image: string,
    imageId: string,
    repoDigests: () => Promise<string[]>,
    options: {force?: boolean} = {},
  ): Promise<UpdateEntry> {
    const k = key(image, imageId)
    const entry = this.entries.get(k)
    const age = entry ? this.now() - entry.checkedAt : Infinity
    if (entry && options.force && age >= (this.options.forceIntervalMs ?? 60_000))
      return this.refresh(k, image, repoDigests)
    if (entry && age >= this.options.ttlMs) {
      void this.refresh(k, image, repoDigests).catch(() => {})
      return entry
    }
    if (entry) return entry
    return this.refresh(k, image, repoDigests)
  }

  /** Forget results for an image (after an update changed what runs). */
  invalidate(image: string): void {
    for (const k of [...this.entries.keys()]) if (k.startsWith(image + '\0')) this.entries.delete(k)
  }

  private refresh(k: string, image: string, repoDigests: () => Promise<string[]>): Promise<UpdateEntry> {
    let running = this.inflight.get(k)
    if (running) return running
    running = (async () => {
      try {
        this.checks++
        const result = await this.options.check(image, await repoDigests())
        const entry: UpdateEntry = {...result, checkedAt: this.now()}
        this.entries.set(k, entry)
        return entry
      } finally {
        this.inflight.delete(k)
      }
    })()
    this.inflight.set(k, running)
    return running
  }
}

function key(image: string, imageId: string): string {
  return `${image}\0${imageId}`
}
