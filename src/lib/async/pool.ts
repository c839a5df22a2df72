/** Options of {@link forEachLimited}. */
export interface PoolOptions {
  /** Once aborted, no further item starts; the ones running finish. */
  signal?: AbortSignal
}

/**
 * The one bounded worker pool in homeops: runs `run(item, index)` for every item, at most `limit` at once, started
 * in list order. The first failure stops further items from starting (as a sequential loop would stop); the
 * promise settles once every started run has, rejecting with that first error.
 */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  run: (item: T, index: number) => Promise<void>,
  options: PoolOptions = {},
): Promise<void> {
  let next = 0
  let failure: {error: unknown} | undefined
  const worker = async (): Promise<void> => {
    while (next < items.length && !failure && !options.signal?.aborted) {
      const index = next++
      try {
        await run(items[index]!, index)
      } catch (error) {
        failure ??= {error}
      }
    }
  }
  const width = Math.max(1, Math.min(Math.floor(limit) || 1, items.length))
  await Promise.all(Array.from({length: width}, worker))
  if (failure) throw failure.error
}
