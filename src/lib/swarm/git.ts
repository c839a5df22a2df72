import {existsSync, mkdirSync, rmSync} from 'node:fs'
import {dirname, join} from 'node:path'

import type {SimpleGit} from 'simple-git'

import {TransientError, UserError, errorMessage} from '../errors.js'
import {redact, registerSecret} from '../log/redact.js'
import type {RepositoryUrl} from './repository-url.js'
import {clearStaleGitLocks} from './stale-lock.js'

/**
 * One cached clone per repository, brought up to date with `git fetch` and a
 * hard reset to the remote branch (never a fresh clone per run). Every git
 * command goes through simple-git, so git's own configuration applies
 * (`insteadOf`, proxies, credential helpers). A token is sent only to the
 * repository's own host: it goes to git through `GIT_CONFIG_*` environment
 * variables as `http.<scheme>://<host>/.extraHeader`, so it is never in argv
 * (the process list), the remote URL, `.git/config`, the state database or a
 * log line.
 */
export interface GitAuth {
  username: string
  token: string
}

export interface RepositoryTokens {
  githubToken?: string
  githubTokenHosts: string[]
  repositories: {url?: string; username?: string; token?: string}[]
}

export interface FetchResult {
  commit: string
  branch: string
  /** True when the clone was (re)created on this run. */
  cloned: boolean
  /** The commit before the fetch (undefined on a fresh clone). */
  previous?: string
}

export function authFor(url: RepositoryUrl, tokens: RepositoryTokens): GitAuth | undefined {
  if (!url.host) return undefined
  const own = tokens.repositories.find((r) => r.url && url.sameAs(r.url) && r.token)
  if (own) return {username: own.username || 'x-access-token', token: own.token!}
  if (tokens.githubToken && tokens.githubTokenHosts.some((h) => h.toLowerCase() === url.host)) {
    return {username: 'x-access-token', token: tokens.githubToken}
  }
  return undefined
}

/** Default of `swarm.gitTimeoutSeconds`. */
export const GIT_TIMEOUT_SECONDS = 120

/**
 * Environment for one git command: no prompts, the token only for this URL's origin, and git's own
 * stall detection (`http.lowSpeedLimit/Time`: under 1 kB/s for that long aborts the transfer; a
 * remote that accepts and never answers counts as stalled).
 */
export function gitEnv(
  url: RepositoryUrl,
  auth: GitAuth | undefined,
  stallSeconds = GIT_TIMEOUT_SECONDS,
): Record<string, string> {
  const env: Record<string, string> = {
    GIT_TERMINAL_PROMPT: '0',
    GCM_INTERACTIVE: 'never',
  }
  const config: [string, string][] = []
  if (auth && url.origin)
    config.push([`http.${url.origin}/.extraHeader`, `Authorization: ${basicAuthorization(auth, url.origin)}`])
  config.push(['http.lowSpeedLimit', '1000'], ['http.lowSpeedTime', String(Math.max(1, Math.round(stallSeconds)))])
  env.GIT_CONFIG_COUNT = String(config.length)
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key
    env[`GIT_CONFIG_VALUE_${i}`] = value
  })
  return env
}

/**
 * `Basic base64(user:token)`, the token registered with that form so no log line or error can show
 * either; one slot per remote, so a token changed in the config replaces the old one.
 */
export function basicAuthorization(auth: GitAuth, origin: string): string {
  registerSecret(auth.token, {slot: `git ${origin}`, username: auth.username})
  return `Basic ${Buffer.from(`${auth.username}:${auth.token}`).toString('base64')}`
}

/**
 * Variables that make git run other programs (editors, pagers, askpass) or read
 * other config: not wanted under cron, and simple-git refuses to run with them.
 * GIT_SSH/GIT_SSH_COMMAND stay: they are how ssh repositories are set up.
 */
const DROPPED_ENV = new Set([
  'editor',
  'pager',
  'prefix',
  'git_askpass',
  'ssh_askpass',
  'git_editor',
  'git_sequence_editor',
  'git_pager',
  'git_external_diff',
  'git_proxy_command',
  'git_template_dir',
  'git_exec_path',
  'git_config',
  'git_config_global',
  'git_config_system',
])

export function baseEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    const key = k.toLowerCase()
    // Never let an inherited GIT_CONFIG_* list collide with ours.
    if (v === undefined || DROPPED_ENV.has(key) || key.startsWith('git_config_')) continue
    env[k] = v
  }
  return {...env, ...extra}
}

export interface GitClientOptions {
  url: RepositoryUrl
  auth?: GitAuth
  signal?: AbortSignal
  /** Longest a git command may stay silent (and a transfer stall) before it is ended. */
  timeoutMs: number
  /** Extra variables (a committer identity). */
  env?: Record<string, string>
  /** `-c key=value` for every command of this client. */
  config?: string[]
}

/**
 * The one way homeops starts git: simple-git (loaded on first use) in `dir`, with the scoped
 * token, no prompts, the block timeout and the abort signal.
 */
export async function gitClient(dir: string | undefined, options: GitClientOptions): Promise<SimpleGit> {
  const {simpleGit} = await import('simple-git')
  const env = baseEnv({...gitEnv(options.url, options.auth, options.timeoutMs / 1000), ...options.env})
  // GIT_CONFIG_COUNT carries only our extraHeader; an inherited GIT_SSH_COMMAND is the user's own choice.
  const unsafe = {
    allowUnsafeConfigEnvCount: true,
    allowUnsafeSshCommand: Boolean(process.env.GIT_SSH_COMMAND || process.env.GIT_SSH),
  }
  return simpleGit({
    baseDir: dir,
    abort: options.signal,
    unsafe,
    timeout: {block: options.timeoutMs},
    config: options.config ?? [],
  }).env(env)
}

/** simple-git's `timeout.block` ends the child; say so plainly. */
function timedOut(error: unknown): boolean {
  const e = error as {killed?: boolean; signal?: string; message?: string} | undefined
  return Boolean(e?.killed && e.signal) || /block timeout reached|Operation too slow/i.test(e?.message ?? '')
}

function unreachable(url: RepositoryUrl, error: unknown, timeoutMs?: number): TransientError {
  if (timeoutMs !== undefined && timedOut(error)) {
    return new TransientError(
      `cannot fetch ${url.display}: the remote did not answer within ${Math.round(timeoutMs / 1000)} s`,
      {
        hint: 'what is deployed stays as it is; the next run retries (swarm.gitTimeoutSeconds sets the limit)',
      },
    )
  }
  const text = redact(errorMessage(error)).trim().split('\n').filter(Boolean)
  const detail = text.filter((l) => /fatal|error|denied|not found|could not|unable/i.test(l)).join('; ') || text.at(-1)
  return new TransientError(`cannot fetch ${url.display}: ${detail ?? 'git failed'}`, {
    hint: 'what is deployed stays as it is; the next run retries',
  })
}

/** What the remote says now: its default branch and the tips of the refs asked for. */
interface RemoteRefs {
  defaultBranch?: string
  refs: Map<string, string>
}

function parseLsRemote(out: string): RemoteRefs {
  const refs = new Map<string, string>()
  for (const m of out.matchAll(/^([0-9a-f]{40}|[0-9a-f]{64})\t(\S+)$/gm)) refs.set(m[2]!, m[1]!)
  return {defaultBranch: /^ref: refs\/heads\/(\S+)\tHEAD$/m.exec(out)?.[1], refs}
}

/**
 * `git ls-remote` (protocol v0: over http(s) one ref advertisement, no upload-pack request): whether
 * the branch moved, without a fetch. Run through the clone's `origin`, so git's `insteadOf`, proxy
 * and credential settings apply as they do to the fetch.
 */
async function lsRemote(git: SimpleGit, remote: string, patterns: string[]): Promise<RemoteRefs> {
  return parseLsRemote(await git.listRemote(['--symref', remote, ...patterns]))
}

/**
 * Brings the cached clone at `dir` to the tip of `branch` (the remote's default branch when null).
 * When the clone already sits, clean, on the tip `git ls-remote` reports for that branch, no
 * `git fetch` runs.
 */
export async function syncClone(options: {
  url: RepositoryUrl
  dir: string
  branch: string | null
  auth?: GitAuth
  signal?: AbortSignal
  /** Longest a git command may stay silent (and a transfer stall) before it is ended. */
  timeoutMs?: number
  /** Told about what was repaired on the way (a stale lock removed). */
  onWarning?: (message: string, fields?: Record<string, string>) => void
}): Promise<FetchResult> {
  const {url} = options
  const timeoutMs = options.timeoutMs ?? GIT_TIMEOUT_SECONDS * 1000
  const clientOptions = {url, auth: options.auth, signal: options.signal, timeoutMs}
  const locks = clearStaleGitLocks(options.dir)
  if (locks.removed.length > 0) {
    options.onWarning?.('removed a stale git lock from the cached clone (no git process was running in it)', {
      files: locks.removed.join(','),
    })
  }
  if (locks.heldBy.length > 0) {
    throw new TransientError(
      `the cached clone ${options.dir} is locked by a running git process (pid ${locks.heldBy.join(', ')})`,
      {hint: 'the next run retries once it has finished'},
    )
  }

  let cloned = false
  if (!(await isCloneOf(options.dir, url, timeoutMs))) {
    rmSync(options.dir, {recursive: true, force: true})
    mkdirSync(dirname(options.dir), {recursive: true, mode: 0o700})
    // --progress: output while a large clone runs, so only a silent (stalled) one hits the block timeout.
    const args = ['--no-tags', '--single-branch', '--progress']
    if (options.branch) args.push('--branch', options.branch)
    try {
      await (await gitClient(undefined, clientOptions)).clone(url.value, options.dir, args)
    } catch (error) {
      rmSync(options.dir, {recursive: true, force: true})
      throw await cloneError(url, options.branch, error, clientOptions)
    }
    cloned = true
  }
  const git = await gitClient(options.dir, clientOptions)

  // Asked side by side: whether the working tree is clean (the fetch moves refs/remotes only;
  // untracked and ignored folders are one line each, so strays do not make a large answer), the
  // clone's refs, and the remote's default branch and tip (none after a clone).
  const status = git.raw(['status', '--porcelain', '--ignored', '--untracked-files=normal']).then((out) => out.trim())
  status.catch(() => {})
  const local = localRefs(git)
  local.catch(() => {})
  let remote: RemoteRefs | undefined
  if (!cloned) {
    try {
      const probe = await gitClient(options.dir, {...clientOptions, config: ['protocol.version=0']})
      remote = await lsRemote(probe, 'origin', ['HEAD', ...(options.branch ? [`refs/heads/${options.branch}`] : [])])
    } catch (error) {
      throw fetchError(url, error, timeoutMs)
    }
  }
  let refs = await local

  // Without --branch the remote's default branch is followed, as it is now (not as it was when the
  // clone was made), falling back to what clone recorded.
  let branch = options.branch ?? undefined
  let defaultMoved = false
  if (!branch) {
    const recorded = refs.originHead
    const current = cloned ? recorded : remote?.defaultBranch
    branch = current ?? recorded
    if (current && recorded && current !== recorded) {
      defaultMoved = true
      options.onWarning?.(`the remote's default branch is now ${current} (was ${recorded}): following it`)
    }
  }
  branch ??= (await git.revparse(['--abbrev-ref', 'HEAD'])).trim()
  const remoteRef = `refs/remotes/origin/${branch}`
  // The remote's tip of the branch: listed under its name, or as HEAD when it is the default.
  const remoteTip =
    remote?.refs.get(`refs/heads/${branch}`) ?? (remote?.defaultBranch === branch ? remote.refs.get('HEAD') : undefined)
  if (remote && !remoteTip && options.branch) throw await missingBranch(url, branch, clientOptions)
  const upToDate =
    refs.tips.get(remoteRef) !== undefined &&
    refs.head === refs.tips.get(remoteRef) &&
    refs.current === `refs/heads/${branch}` &&
    remoteTip === refs.tips.get(remoteRef)
  if (!cloned && !upToDate) {
    try {
      await git.raw(['fetch', '--prune', '--no-tags', '--progress', 'origin', `+refs/heads/${branch}:${remoteRef}`])
    } catch (error) {
      if (/couldn't find remote ref|not our ref/i.test(errorMessage(error))) {
        throw await missingBranch(url, branch, clientOptions)
      }
      throw unreachable(url, error, timeoutMs)
    }
    if (defaultMoved) await git.raw(['symbolic-ref', 'refs/remotes/origin/HEAD', remoteRef])
    refs = await localRefs(git)
  }
  const {head: previous, current} = refs
  const commit = refs.tips.get(remoteRef)
  if (!commit) throw await missingBranch(url, branch, clientOptions)
  const pristine = previous === commit && current === `refs/heads/${branch}` && (await status) === ''
  if (!pristine) {
    // Anything else in the clone (a moved branch, a stray file) is thrown away: the remote is the truth.
    // (Once `git status` is done: it may hold the index lock checkout needs.)
    await status.catch(() => {})
    await git.raw(['checkout', '--quiet', '--force', '-B', branch, remoteRef])
    await git.raw(['clean', '-ffdxq'])
  }
  return {commit, branch, cloned, previous: cloned ? undefined : previous}
}

/** A failed ls-remote, worded as a failed fetch (what is deployed stays; exit 3). */
function fetchError(url: RepositoryUrl, error: unknown, timeoutMs: number): Error {
  if (!timedOut(error) && /Authentication failed|could not read Username|403|401/i.test(errorMessage(error))) {
    return authenticationFailed(url)
  }
  return unreachable(url, error, timeoutMs)
}

function authenticationFailed(url: RepositoryUrl): TransientError {
  return new TransientError(`cannot fetch ${url.display}: authentication failed`, {
    hint: 'set swarm.repositories[].token for this URL (or GITHUB_TOKEN for a host in swarm.githubTokenHosts)',
  })
}

/** "branch X does not exist", with the branches the remote has and its default, so the fix is one command away. */
async function missingBranch(url: RepositoryUrl, branch: string, options: GitClientOptions): Promise<UserError> {
  const {tmpdir} = await import('node:os')
  const git = await gitClient(tmpdir(), {...options, signal: undefined})
  const out = await git.listRemote(['--symref', url.value]).catch(() => '')
  const defaultBranch = /^ref: refs\/heads\/(\S+)\s+HEAD$/m.exec(out)?.[1]
  const branches = [...out.matchAll(/^[0-9a-f]{40,64}\s+refs\/heads\/(\S+)$/gm)].map((m) => m[1]!)
  const listed =
    branches.length === 0
      ? ''
      : `; its branches: ${branches.slice(0, 10).join(', ')}${branches.length > 10 ? ` and ${branches.length - 10} more` : ''}${defaultBranch ? ` (default ${defaultBranch})` : ''}`
  const fix = defaultBranch ?? branches[0]
  return new UserError(
    `branch "${branch}" does not exist in ${url.display}${listed}${fix ? `; follow another with \`homeops swarm watch ${url.display} --branch ${fix}\`` : ''}`,
  )
}

function cloneError(
  url: RepositoryUrl,
  branch: string | null,
  error: unknown,
  options: GitClientOptions,
): Error | Promise<Error> {
  const text = errorMessage(error)
  if (branch && /Remote branch .* not found/i.test(text)) return missingBranch(url, branch, options)
  if (/Authentication failed|could not read Username|403|401/i.test(text)) return authenticationFailed(url)
  return unreachable(url, error, options.timeoutMs)
}

/** The folder is a clone whose origin is this URL (as git reads its config). */
async function isCloneOf(dir: string, url: RepositoryUrl, timeoutMs: number): Promise<boolean> {
  if (!existsSync(join(dir, '.git', 'HEAD'))) return false
  try {
    const git = await gitClient(dir, {url, timeoutMs})
    const remote = await git.raw(['config', '--local', '--get', 'remote.origin.url'])
    return remote.trim() === url.value
  } catch {
    return false
  }
}

interface LocalRefs {
  /** HEAD's commit. */
  head?: string
  /** HEAD's symbolic ref (`HEAD` when detached). */
  current?: string
  /** The branch `refs/remotes/origin/HEAD` points at (written by clone). */
  originHead?: string
  /** Remote-tracking ref → commit. */
  tips: Map<string, string>
}

/** The clone's HEAD and remote-tracking refs, as git resolves them (two commands, side by side). */
async function localRefs(git: SimpleGit): Promise<LocalRefs> {
  const [head, listed] = await Promise.all([
    git.raw(['rev-parse', 'HEAD', '--symbolic-full-name', 'HEAD']).catch(() => ''),
    git.raw(['for-each-ref', '--format=%(objectname) %(refname) %(symref)', 'refs/remotes/origin/']).catch(() => ''),
  ])
  const tips = new Map<string, string>()
  let originHead: string | undefined
  for (const line of listed.split('\n')) {
    const [commit, ref, symref] = line.trim().split(' ')
    if (!commit || !ref) continue
    if (ref === 'refs/remotes/origin/HEAD') originHead = /^refs\/remotes\/origin\/(.+)$/.exec(symref ?? '')?.[1]
    else tips.set(ref, commit)
  }
  const [commit, current] = head.trim().split('\n')
  return commit && current ? {head: commit, current, originHead, tips} : {originHead, tips}
}

/** HEAD's commit, the tip of `remoteRef` (under refs/remotes/origin/) and HEAD's symbolic ref. */
export async function readRefs(
  target: SimpleGit | string,
  remoteRef: string,
): Promise<{head?: string; tip?: string; current?: string}> {
  const git = typeof target === 'string' ? (await import('simple-git')).simpleGit(target) : target
  const refs = await localRefs(git)
  return refs.head ? {head: refs.head, tip: refs.tips.get(remoteRef), current: refs.current} : {}
}
