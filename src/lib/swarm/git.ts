import {existsSync, mkdirSync, readFileSync, rmSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'

import {TransientError, UserError, errorMessage} from '../errors.js'
import {redact, registerSecret} from '../log/redact.js'
import {remoteAdvertisement} from './remote-head.js'
import {clearStaleGitLocks} from './stale-lock.js'

/**
 * One cached clone per repository, brought up to date with `git fetch` and a
 * hard reset to the remote branch (never a fresh clone per run). A token is
 * sent only to the repository's own host: it goes to git through
 * `GIT_CONFIG_*` environment variables as `http.<scheme>://<host>/.extraHeader`,
 * so it is never in argv (the process list), the remote URL, `.git/config`,
 * the state database or a log line.
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

/** Refuses URLs that carry credentials: they would end up in the database and in `git remote -v`. */
export function checkRepositoryUrl(url: string): void {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      throw new UserError(`"${url}" is not a valid repository URL`)
    }
    if (parsed.username || parsed.password) {
      const clean = `${parsed.protocol}//${parsed.host}${parsed.pathname}`
      throw new UserError(`the repository URL carries credentials; watch ${clean} instead`, {
        hint: 'put the token in swarm.repositories[].token (or GITHUB_TOKEN for GitHub): it is sent only to that host and never stored',
      })
    }
    if (!['http:', 'https:', 'file:', 'ssh:', 'git:'].includes(parsed.protocol)) {
      throw new UserError(`unsupported repository URL scheme ${parsed.protocol} in ${url}`)
    }
  }
}

/** `https://host:port` of an http(s) URL, else undefined (file paths, ssh). */
export function httpOrigin(url: string): {origin: string; host: string} | undefined {
  if (!/^https?:\/\//i.test(url)) return undefined
  const parsed = new URL(url)
  return {origin: `${parsed.protocol}//${parsed.host}`, host: parsed.host.toLowerCase()}
}

export function authFor(url: string, tokens: RepositoryTokens): GitAuth | undefined {
  const origin = httpOrigin(url)
  if (!origin) return undefined
  const own = tokens.repositories.find((r) => r.url && sameUrl(r.url, url) && r.token)
  if (own) return {username: own.username || 'x-access-token', token: own.token!}
  if (tokens.githubToken && tokens.githubTokenHosts.some((h) => h.toLowerCase() === origin.host)) {
    return {username: 'x-access-token', token: tokens.githubToken}
  }
  return undefined
}

function sameUrl(a: string, b: string): boolean {
  const strip = (u: string) => u.replace(/\/+$/, '').replace(/\.git$/, '')
  return strip(a) === strip(b)
}

/** Default of `swarm.gitTimeoutSeconds`. */
export const GIT_TIMEOUT_SECONDS = 120

/**
 * Environment for one git command: no prompts, the token only for this URL's origin, and git's own
 * stall detection (`http.lowSpeedLimit/Time`: under 1 kB/s for that long aborts the transfer; a
 * remote that accepts and never answers counts as stalled).
 */
export function gitEnv(
  url: string,
  auth: GitAuth | undefined,
  stallSeconds = GIT_TIMEOUT_SECONDS,
): Record<string, string> {
  const env: Record<string, string> = {
    GIT_TERMINAL_PROMPT: '0',
    GCM_INTERACTIVE: 'never',
  }
  const config: [string, string][] = []
  const origin = httpOrigin(url)
  if (auth && origin) config.push([`http.${origin.origin}/.extraHeader`, `Authorization: ${basicAuthorization(auth)}`])
  config.push(['http.lowSpeedLimit', '1000'], ['http.lowSpeedTime', String(Math.max(1, Math.round(stallSeconds)))])
  env.GIT_CONFIG_COUNT = String(config.length)
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key
    env[`GIT_CONFIG_VALUE_${i}`] = value
  })
  return env
}

/** `Basic base64(user:token)`, registered (with the token) so no log line or error can show it. */
export function basicAuthorization(auth: GitAuth): string {
  registerSecret(auth.token)
  const basic = Buffer.from(`${auth.username}:${auth.token}`).toString('base64')
  registerSecret(basic)
  return `Basic ${basic}`
}

/** A name for the clone folder and `status`: the last path segment without `.git`. */
export function repositoryName(url: string): string {
  const last = basename(url.replace(/[/\\]+$/, '').replace(/\.git$/, '')) || 'repository'
  return last.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '') || 'repository'
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

/** simple-git's `timeout.block` and execFile's `timeout` both end the child; say so plainly. */
function timedOut(error: unknown): boolean {
  const e = error as {killed?: boolean; signal?: string; message?: string} | undefined
  return Boolean(e?.killed && e.signal) || /block timeout reached|Operation too slow/i.test(e?.message ?? '')
}

function unreachable(url: string, error: unknown, timeoutMs?: number): TransientError {
  if (timeoutMs !== undefined && timedOut(error)) {
    return new TransientError(
      `cannot fetch ${url}: the remote did not answer within ${Math.round(timeoutMs / 1000)} s`,
      {
        hint: 'what is deployed stays as it is; the next run retries (swarm.gitTimeoutSeconds sets the limit)',
      },
    )
  }
  const text = redact(errorMessage(error)).trim().split('\n').filter(Boolean)
  const detail = text.filter((l) => /fatal|error|denied|not found|could not|unable/i.test(l)).join('; ') || text.at(-1)
  return new TransientError(`cannot fetch ${url}: ${detail ?? 'git failed'}`, {
    hint: 'what is deployed stays as it is; the next run retries',
  })
}

/**
 * Brings the cached clone at `dir` to the tip of `branch` (the remote's default branch when null).
 * When the clone already sits, clean, on the tip an http(s) remote advertises for that branch, no
 * `git fetch` runs (see remote-head.ts); and simple-git (~60 ms to load) is only loaded for the git
 * commands that change the clone, so a no-op run starts one `git status` and nothing else.
 */
export async function syncClone(options: {
  url: string
  dir: string
  branch: string | null
  auth?: GitAuth
  signal?: AbortSignal
  /** Longest a git command may stay silent (and a transfer stall) before it is ended. */
  timeoutMs?: number
  /** Told about what was repaired on the way (a stale lock removed). */
  onWarning?: (message: string, fields?: Record<string, string>) => void
}): Promise<FetchResult> {
  const timeoutMs = options.timeoutMs ?? GIT_TIMEOUT_SECONDS * 1000
  const env = baseEnv(gitEnv(options.url, options.auth, timeoutMs / 1000))
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
  // GIT_CONFIG_COUNT carries only our extraHeader; an inherited GIT_SSH_COMMAND is the user's own choice.
  const unsafe = {
    allowUnsafeConfigEnvCount: true,
    allowUnsafeSshCommand: Boolean(process.env.GIT_SSH_COMMAND || process.env.GIT_SSH),
  }
  const simple = async (baseDir?: string) => {
    const {simpleGit} = await import('simple-git')
    return simpleGit({baseDir, abort: options.signal, unsafe, timeout: {block: timeoutMs}}).env(env)
  }
  const inRepo = () => simple(options.dir)

  let cloned = false
  const usable = await isCloneOf(options.dir, options.url, env, unsafe)
  if (!usable) {
    rmSync(options.dir, {recursive: true, force: true})
    mkdirSync(dirname(options.dir), {recursive: true, mode: 0o700})
    // --progress: output while a large clone runs, so only a silent (stalled) one hits the block timeout.
    const args = ['--no-tags', '--single-branch', '--progress']
    if (options.branch) args.push('--branch', options.branch)
    try {
      await (await simple()).clone(options.url, options.dir, args)
    } catch (error) {
      rmSync(options.dir, {recursive: true, force: true})
      throw await cloneError(options.url, options.branch, error, env, timeoutMs)
    }
    cloned = true
  }

  // Whether the working tree is clean does not depend on the fetch (it moves refs/remotes only):
  // asked now, alongside the remote, and read below when it matters.
  const status = gitOutput(
    options.dir,
    ['status', '--porcelain', '--ignored', '--untracked-files=all'],
    env,
    options.signal,
    timeoutMs,
  )
  status.catch(() => {})
  // An http(s) remote's refs and default branch, from one request (undefined: git decides).
  const advert = cloned
    ? undefined
    : await remoteAdvertisement({
        url: options.url,
        authorization: options.auth ? basicAuthorization(options.auth) : undefined,
        signal: options.signal,
        timeoutMs: Math.min(timeoutMs, 15_000),
      })

  // Without --branch the remote's default branch is followed, as it is now (not as it was when the
  // clone was made): asked of the remote on every run, falling back to what clone recorded.
  let branch = options.branch ?? undefined
  let defaultMoved = false
  if (!branch) {
    const recorded = originHead(options.dir)
    const current = cloned
      ? recorded
      : httpOrigin(options.url)
        ? advert?.defaultBranch
        : await lsRemoteDefault(options.dir, env, options.signal, timeoutMs)
    branch = current ?? recorded
    if (current && recorded && current !== recorded) {
      defaultMoved = true
      options.onWarning?.(`the remote's default branch is now ${current} (was ${recorded}): following it`)
    }
  }
  if (!branch) {
    const git = await inRepo()
    const head = await git.raw(['symbolic-ref', '--quiet', '--short', 'refs/remotes/origin/HEAD']).catch(() => '')
    branch = head.trim().replace(/^origin\//, '') || (await git.revparse(['--abbrev-ref', 'HEAD'])).trim()
  }
  const remoteRef = `refs/remotes/origin/${branch}`
  // HEAD, the fetched tip and the current branch, read from .git (no process); git itself when unsure.
  let refs = readRefs(options.dir, remoteRef)
  const upToDate =
    refs.tip !== undefined &&
    refs.head === refs.tip &&
    refs.current === `refs/heads/${branch}` &&
    advert?.refs.get(`refs/heads/${branch}`) === refs.tip
  if (!cloned && !upToDate) {
    const git = await inRepo()
    try {
      await git.raw(['fetch', '--prune', '--no-tags', '--progress', 'origin', `+refs/heads/${branch}:${remoteRef}`])
    } catch (error) {
      if (/couldn't find remote ref|not our ref/i.test(errorMessage(error))) {
        throw await missingBranch(options.url, branch, env, timeoutMs)
      }
      throw unreachable(options.url, error, timeoutMs)
    }
    if (defaultMoved) await git.raw(['symbolic-ref', 'refs/remotes/origin/HEAD', remoteRef])
    refs = readRefs(options.dir, remoteRef)
  }
  let {head: previous, tip: commit, current} = refs
  if (!previous || !commit) {
    const git = await inRepo()
    ;[previous, commit, current] = (
      await git.raw(['rev-parse', 'HEAD', remoteRef, '--symbolic-full-name', 'HEAD']).catch(() => '')
    )
      .trim()
      .split('\n')
  }
  if (!commit) throw await missingBranch(options.url, branch, env, timeoutMs)
  const pristine = previous === commit && current === `refs/heads/${branch}` && (await status) === ''
  if (!pristine) {
    // Anything else in the clone (a moved branch, a stray file) is thrown away: the remote is the truth.
    // (Once `git status` is done: it may hold the index lock checkout needs.)
    await status.catch(() => {})
    const git = await inRepo()
    await git.raw(['checkout', '--quiet', '--force', '-B', branch, remoteRef])
    await git.raw(['clean', '-ffdxq'])
  }
  return {commit, branch, cloned, previous: cloned ? undefined : previous}
}

/**
 * Output of a read-only git command in the clone, through child_process rather than simple-git so
 * the no-op path does not load it; same environment (no prompts, the scoped token only).
 */
async function gitOutput(
  dir: string,
  args: string[],
  env: Record<string, string>,
  signal: AbortSignal | undefined,
  timeoutMs: number,
): Promise<string> {
  const [{execFile}, {promisify}] = await Promise.all([import('node:child_process'), import('node:util')])
  const {stdout} = await promisify(execFile)('git', args, {
    cwd: dir,
    env,
    signal,
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  })
  return stdout.trim()
}

/** `git ls-remote --symref origin HEAD` in the clone: the branch the remote's HEAD points at now. */
async function lsRemoteDefault(
  dir: string,
  env: Record<string, string>,
  signal: AbortSignal | undefined,
  timeoutMs: number,
): Promise<string | undefined> {
  const out = await gitOutput(dir, ['ls-remote', '--symref', 'origin', 'HEAD'], env, signal, timeoutMs).catch(() => '')
  return /^ref: refs\/heads\/(\S+)\s+HEAD$/m.exec(out)?.[1]
}

/** "branch X does not exist", with the branches the remote has and its default, so the fix is one command away. */
async function missingBranch(
  url: string,
  branch: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<UserError> {
  const {tmpdir} = await import('node:os')
  const out = await gitOutput(tmpdir(), ['ls-remote', '--symref', url], env, undefined, timeoutMs).catch(() => '')
  const defaultBranch = /^ref: refs\/heads\/(\S+)\s+HEAD$/m.exec(out)?.[1]
  const branches = [...out.matchAll(/^[0-9a-f]{40,64}\s+refs\/heads\/(\S+)$/gm)].map((m) => m[1]!)
  const listed =
    branches.length === 0
      ? ''
      : `; its branches: ${branches.slice(0, 10).join(', ')}${branches.length > 10 ? ` and ${branches.length - 10} more` : ''}${defaultBranch ? ` (default ${defaultBranch})` : ''}`
  const fix = defaultBranch ?? branches[0]
  return new UserError(
    `branch "${branch}" does not exist in ${url}${listed}${fix ? `; follow another with \`homeops swarm watch ${url} --branch ${fix}\`` : ''}`,
  )
}

function cloneError(
  url: string,
  branch: string | null,
  error: unknown,
  env: Record<string, string>,
  timeoutMs: number,
): Error | Promise<Error> {
  const text = errorMessage(error)
  if (branch && /Remote branch .* not found/i.test(text)) return missingBranch(url, branch, env, timeoutMs)
  if (/Authentication failed|could not read Username|403|401/i.test(text)) {
    return new TransientError(`cannot fetch ${url}: authentication failed`, {
      hint: 'set swarm.repositories[].token for this URL (or GITHUB_TOKEN for a host in swarm.githubTokenHosts)',
    })
  }
  return unreachable(url, error, timeoutMs)
}

/** The folder is a clone whose origin is this URL (read from `.git/config`, no process). */
async function isCloneOf(
  dir: string,
  url: string,
  _env: Record<string, string>,
  _unsafe: Record<string, boolean>,
): Promise<boolean> {
  let config: string
  try {
    if (!existsSync(join(dir, '.git', 'HEAD'))) return false
    config = readFileSync(join(dir, '.git', 'config'), 'utf8')
  } catch {
    return false
  }
  const section = /^\s*\[remote "origin"\]\s*$([\s\S]*?)(?=^\s*\[|(?![\s\S]))/m.exec(config)?.[1] ?? ''
  const remote = /^\s*url\s*=\s*(.*?)\s*$/m.exec(section)?.[1]
  return remote === url
}

/** The branch `refs/remotes/origin/HEAD` points at (written by clone; symbolic refs are never packed). */
export function originHead(dir: string): string | undefined {
  try {
    const text = readFileSync(join(dir, '.git', 'refs', 'remotes', 'origin', 'HEAD'), 'utf8').trim()
    return /^ref: refs\/remotes\/origin\/(.+)$/.exec(text)?.[1]
  } catch {
    return undefined
  }
}

/** HEAD's commit, the tip of `remoteRef` and HEAD's symbolic ref, from loose refs or packed-refs. */
export function readRefs(dir: string, remoteRef: string): {head?: string; tip?: string; current?: string} {
  const gitDir = join(dir, '.git')
  let packed: string | undefined
  const resolve = (ref: string, depth = 0): string | undefined => {
    if (depth > 5) return undefined
    let text: string | undefined
    try {
      text = readFileSync(join(gitDir, ref), 'utf8').trim()
    } catch {
      packed ??= existsSync(join(gitDir, 'packed-refs')) ? readFileSync(join(gitDir, 'packed-refs'), 'utf8') : ''
      text = packed
        .split('\n')
        .find((line) => line.endsWith(` ${ref}`))
        ?.split(' ')[0]
    }
    if (!text) return undefined
    if (text.startsWith('ref: ')) return resolve(text.slice(5).trim(), depth + 1)
    return /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(text) ? text : undefined
  }
  try {
    const headText = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim()
    return {
      head: resolve('HEAD'),
      tip: resolve(remoteRef),
      current: headText.startsWith('ref: ') ? headText.slice(5).trim() : 'HEAD',
    }
  } catch {
    return {}
  }
}
