import {type LongTimeoutOptions, longTimeout} from './sleep.js'

/**
 * Settles as `work` does, unless `ms` pass first: then as `onTimeout` says
 * (return a fallback value, or throw to reject). The timer is cancelled either
 * way, so a finished race keeps nothing alive. `work` is not cancelled: pass
 * it a signal of its own when it must stop.
 */
export function withDeadline<T>(
  work: Promise<T>,
  ms: number,
  onTimeout: () => T,
  options: LongTimeoutOptions = {},
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = longTimeout(
      () => {
        try {
          resolve(onTimeout())
        } catch (error) {
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- as onTimeout threw it
          reject(error)
        }
      },
      ms,
      options,
    )
    work.then(
      (value) => {
        timer.cancel()
        resolve(value)
      },
      (error: unknown) => {
        timer.cancel()
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- settles exactly as work did
        reject(error)
      },
    )
  })
}
