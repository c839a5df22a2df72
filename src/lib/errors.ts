/**
 * Typed errors: library code throws these, only the command base class turns
 * them into output and an exit code (DESIGN.md §2).
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  temporary: 3,
  fatalRemote: 4,
  locked: 5,
} as const
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

export interface ErrorDetails {
  /** One sentence the user can act on, shown under the message. */
  hint?: string
  cause?: unknown
}

export class HomeopsError extends Error {
  readonly exitCode: ExitCodeValue
  readonly hint?: string

  constructor(message: string, exitCode: ExitCodeValue, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : {cause: details.cause})
    this.name = new.target.name
    this.exitCode = exitCode
    this.hint = details.hint
  }
}

/** Something the user can fix: bad flags, bad config, a path that escapes its folder. Exit 2. */
export class UserError extends HomeopsError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, ExitCode.usage, details)
  }
}

/** Worth retrying later: network, registry, provider 911. Exit 3. */
export class TransientError extends HomeopsError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, ExitCode.temporary, details)
  }
}

/** A remote service refused us for good (badauth, nohost, abuse); a human must act. Exit 4. */
export class FatalRemoteError extends HomeopsError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, ExitCode.fatalRemote, details)
  }
}

/** Another run holds the lock. Exit 5. */
export class LockedError extends HomeopsError {
  readonly holderPid: number

  constructor(message: string, holderPid: number, details: ErrorDetails = {}) {
    super(message, ExitCode.locked, details)
    this.holderPid = holderPid
  }
}

/** A failure of the operation itself (a deploy failed, the daemon is unreachable). Exit 1. */
export class OperationError extends HomeopsError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, ExitCode.failure, details)
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}

/** Node system errors carry a string `code` (ENOENT, EACCES, ECONNREFUSED...). */
export function errnoCode(error: unknown): string | undefined {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string') return error.code
  return undefined
}
