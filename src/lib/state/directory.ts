import {accessSync, constants, mkdirSync, statSync} from 'node:fs'
import {dirname} from 'node:path'

import {UserError, errnoCode, errorMessage} from '../errors.js'

/**
 * The state directory (database, locks, clones), created (0700) level by level below the nearest
 * existing ancestor. Node's recursive mkdir spins at 100 % CPU under `/proc`,
 * where mkdir answers ENOENT for a parent that exists.
 */
export function ensureStateDirectory(dir: string): void {
  const missing: string[] = []
  let existing = dir
  for (;;) {
    try {
      if (!statSync(existing).isDirectory()) {
        throw new UserError(`the state database directory ${dir} cannot be created (${existing} is not a directory)`, {
          hint: 'run as root, or set HOMEOPS_DB_PATH to a file in a writable directory',
        })
      }
      break
    } catch (error) {
      if (error instanceof UserError) throw error
      const code = errnoCode(error)
      if (code === 'ENOTDIR') {
        throw new UserError(`the state database directory ${dir} cannot be created (a part of it is a file)`, {
          hint: 'run as root, or set HOMEOPS_DB_PATH to a file in a writable directory',
        })
      }
      if (code !== 'ENOENT') throw notWritable(dir, error)
      const parent = dirname(existing)
      if (parent === existing) throw notWritable(dir, error)
      missing.push(existing)
      existing = parent
    }
  }
  for (const level of missing.reverse()) {
    try {
      mkdirSync(level, {mode: 0o700})
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw notWritable(dir, error)
    }
  }
  try {
    if (!statSync(dir).isDirectory()) throw new UserError(`the state database directory ${dir} is not a directory`)
    accessSync(dir, constants.W_OK)
  } catch (error) {
    if (error instanceof UserError) throw error
    throw notWritable(dir, error)
  }
}

function notWritable(dir: string, error: unknown): UserError {
  const reason =
    errnoCode(error) === 'EACCES' || errnoCode(error) === 'EROFS'
      ? 'is not writable'
      : `cannot be created (${errorMessage(error)})`
  return new UserError(`the state database directory ${dir} ${reason}`, {
    hint: 'run as root, or set HOMEOPS_DB_PATH to a file in a writable directory',
  })
}
