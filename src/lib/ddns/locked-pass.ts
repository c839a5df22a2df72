import type {Context} from '../context.js'
import {LockedError} from '../errors.js'
import type {DdnsRunReport, PassOptions} from './updater.js'

/**
 * One ddns pass under the `ddns` lock, as `ddns update` takes it: a
 * timer-driven `ddns update` running at that moment makes the loop skip a beat
 * (undefined, logged), never both send.
 */
export async function lockedPass(context: Context, options: PassOptions): Promise<DdnsRunReport | undefined> {
  const [{acquireLock}, {stateDir}, path, {runPass}] = await Promise.all([
    import('../state/lock.js'),
    import('../paths.js'),
    import('node:path'),
    import('./updater.js'),
  ])
  let lock
  try {
    lock = acquireLock(path.join(stateDir(context.statePath), 'ddns.lock'), 'homeops ddns run')
  } catch (error) {
    if (error instanceof LockedError) {
      context.logger.warn('ddns pass skipped: another ddns run holds the lock', {pid: error.holderPid})
      return undefined
    }
    throw error
  }
  try {
    return await runPass(context, options)
  } finally {
    lock.release()
  }
}
