import {closeSync, constants, fstatSync, openSync, readSync, type Stats} from 'node:fs'

import {errnoCode, errorMessage} from '../errors.js'

/** Size limits of the files homeops reads from outside. */
export const FILE_LIMITS = {
  /** `*_FILE`, `…File:` keys, `$CREDENTIALS_DIRECTORY/*`, swarm secret files. */
  secret: 64 * 1024,
  /** `--config` / `$HOMEOPS_CONFIG`. */
  config: 4 * 1024 * 1024,
  /** Small JSON/PEM files (Docker config.json, TLS certificates, monitor settings). */
  small: 1024 * 1024,
} as const

/** Why a file could not be read, worded to follow its path: `/run/x: is a named pipe (FIFO)…`. */
export class FileReadError extends Error {
  constructor(
    readonly path: string,
    /** `ENOENT`, `EACCES`, `EISDIR`, `ENOTREG` (a FIFO, device or socket), `EFBIG` (over the limit), or node's code. */
    readonly code: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`)
    this.name = 'FileReadError'
  }
}

export interface ReadFileOptions {
  maxBytes: number
}

/**
 * Reads a whole file that came from outside (a path in the config or the
 * environment) with every bound in place: opened with O_NONBLOCK so a FIFO
 * never blocks the open, refused unless it is a regular file (FIFOs,
 * `/dev/zero`, sockets, directories), refused when larger than `maxBytes`,
 * and read at most `maxBytes + 1` bytes even when the size lies (`/proc`).
 */
export function readBoundedFile(path: string, options: ReadFileOptions): Buffer {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
  } catch (error) {
    throw fromErrno(path, error)
  }
  try {
    const stats = fstatSync(fd)
    if (!stats.isFile()) {
      const code = stats.isDirectory() ? 'EISDIR' : 'ENOTREG'
      throw new FileReadError(path, code, `is ${kindOf(stats)}, expected a regular file`)
    }
    if (stats.size > options.maxBytes) throw tooLarge(path, options.maxBytes, stats.size)
    const chunks: Buffer[] = []
    let total = 0
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, options.maxBytes + 1 - total))
      const n = readSync(fd, chunk, 0, chunk.length, null)
      if (n === 0) break
      chunks.push(chunk.subarray(0, n))
      total += n
      if (total > options.maxBytes) throw tooLarge(path, options.maxBytes)
    }
    return Buffer.concat(chunks, total)
  } catch (error) {
    if (error instanceof FileReadError) throw error
    throw fromErrno(path, error)
  } finally {
    closeSync(fd)
  }
}

/** `readBoundedFile` as UTF-8 text. */
export function readBoundedText(path: string, options: ReadFileOptions): string {
  return readBoundedFile(path, options).toString('utf8')
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${+(bytes / (1024 * 1024)).toFixed(1)} MiB`
  if (bytes >= 1024) return `${+(bytes / 1024).toFixed(1)} KiB`
  return `${bytes} bytes`
}

function tooLarge(path: string, maxBytes: number, size?: number): FileReadError {
  const actual = size === undefined ? 'more' : formatBytes(size)
  return new FileReadError(path, 'EFBIG', `is larger than the ${formatBytes(maxBytes)} limit (${actual})`)
}

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory'
  if (stats.isFIFO()) return 'a named pipe (FIFO)'
  if (stats.isCharacterDevice()) return 'a character device'
  if (stats.isBlockDevice()) return 'a block device'
  if (stats.isSocket()) return 'a socket'
  return 'not a regular file'
}

function fromErrno(path: string, error: unknown): FileReadError {
  const code = errnoCode(error) ?? 'EIO'
  const reason =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'is a directory, expected a regular file'
          : code === 'ENOTDIR'
            ? 'a part of the path is not a directory'
            : code === 'ELOOP'
              ? 'too many levels of symbolic links'
              : errorMessage(error)
  return new FileReadError(path, code, reason)
}
