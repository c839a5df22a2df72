import {join} from 'node:path'

import type {Context} from '../context.js'
import {UserError} from '../errors.js'
import {stateDir} from '../paths.js'
import {type Progress, logProgress} from '../ui/progress.js'
import type {CliOptions, stackServices} from './docker.js'
import {type FetchResult, authFor, syncClone} from './git.js'
import {RepositoryUrl} from './repository-url.js'
import {type RepositoryRow, SwarmStore} from './store.js'

/** The Docker client the functions of docker.ts take, passed through as they define it. */
export type SwarmDocker = Parameters<typeof stackServices>[0]

/** What every swarm operation works with: the state, the daemon, the docker CLI and where progress goes. */
export interface SwarmEnv {
  context: Context
  store: SwarmStore
  /** The one Docker client (dockerode); the docker CLI (`cli`) only for `stack deploy` / `stack rm`. */
  engine: SwarmDocker
  cli: CliOptions
  progress: Progress
}

/** `progress`: where the steps go (the command picks it); log lines by default. */
export async function openSwarm(context: Context, progress?: Progress): Promise<SwarmEnv> {
  const [db, {docker, address}] = await Promise.all([context.state(), context.docker()])
  return {
    context,
    store: new SwarmStore(db),
    engine: docker,
    cli: {cli: context.config.swarm.dockerCli, address, signal: context.signal},
    progress: progress ?? logProgress(context.logger),
  }
}

export function cacheDir(context: Context): string {
  return context.config.swarm.cacheDir ?? join(stateDir(context.statePath), 'swarm', 'repos')
}

/** A watched repository by its URL as watched (or as given to `watch`), or by its name. */
export function findRepository(store: SwarmStore, urlOrName: string): RepositoryRow | undefined {
  const byUrl = store.repositoryByUrl(urlOrName)
  if (byUrl) return byUrl
  let url: RepositoryUrl | undefined
  try {
    url = RepositoryUrl.parse(urlOrName)
  } catch {
    url = undefined
  }
  return (url && store.repositoryByUrl(url.value)) ?? store.repositoryByName(urlOrName)
}

/** The watched repository named `urlOrName`, or a usage error that says where to look. */
export function requireRepository(store: SwarmStore, urlOrName: string): RepositoryRow {
  const row = findRepository(store, urlOrName)
  if (!row)
    throw new UserError(`${urlOrName} is not watched`, {hint: 'see `homeops swarm status` for watched repositories'})
  return row
}

export async function fetchRepository(
  env: SwarmEnv,
  row: Pick<RepositoryRow, 'url' | 'cloneDir' | 'branch'>,
): Promise<FetchResult> {
  const url = RepositoryUrl.parse(row.url)
  const s = env.context.config.swarm
  return syncClone({
    url,
    dir: row.cloneDir,
    branch: row.branch,
    auth: authFor(url, {
      githubToken: s.githubToken,
      githubTokenHosts: s.githubTokenHosts,
      repositories: s.repositories,
    }),
    signal: env.context.signal,
    timeoutMs: s.gitTimeoutSeconds * 1000,
    onWarning: (message, fields) => env.context.logger.warn(`${url.name}: ${message}`, fields),
  })
}
