/**
 * Typed errors: library code throws these, only the command base class turns
 * them into output and an exit code (docs/architecture.md "Conventions every command follows").
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

/**
 * The exit-code policy, most demanding first: what each code asks of the person reading it.
 * 4 (a provider refused; the record stays blocked until someone acts) > 2 (fix the config or the
 * command line) > 1 (something failed: look at it) > 3 (temporary: the next run retries by itself)
 * > 5 (another run holds the lock: it is doing the work) > 0. A code that needs a person is never
 * hidden behind one that does not: a run with a failed stack and an unreachable remote exits 1, not 3,
 * so a cron wrapper that retries on 3 still reports the failure.
 */
const PRECEDENCE: readonly ExitCodeValue[] = [
  ExitCode.fatalRemote,
  ExitCode.usage,
  ExitCode.failure,
  ExitCode.temporary,
  ExitCode.locked,
  ExitCode.ok,
]

/**
 * The exit code of a run with several outcomes (records, stacks, workloads): the most demanding one of
 * `codes` by the policy above; 0 when there are none. A code outside the table counts as a failure (1).
 */
export function worst(codes: Iterable<number>): ExitCodeValue {
  let rank = PRECEDENCE.length - 1
  for (const code of codes) {
    const at = PRECEDENCE.indexOf(code as ExitCodeValue)
    rank = Math.min(rank, at < 0 ? PRECEDENCE.indexOf(ExitCode.failure) : at)
  }
  return PRECEDENCE[rank]!
}

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
