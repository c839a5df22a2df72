import type {Context} from '../context.js'
import {errorMessage} from '../errors.js'
import {redact} from '../log/redact.js'
import {type TaskPlacement, serviceStates, stackServices, stackTasks} from './docker.js'
import {servicesByStack, stackDrift} from './deployed-specs.js'
import type {DriftEntry, ServiceSpec} from './drift.js'
import {type StackStatus, SwarmStore} from './store.js'

/**
 * `swarm status` and the web section: what homeops manages, from the state
 * database, with live running/desired counts from the Swarm when it answers.
 * URLs are stored without credentials, so nothing here can leak a token.
 */
export interface SwarmStatus {
  repositories: {
    url: string
    name: string
    branch: string | null
    /** No --branch was given: the remote's default branch is followed. */
    followsDefault: boolean
    lastCommit: string | null
    lastFetchedAt: string | null
    lastRunAt: string | null
    lastResult: string | null
    lastError: string | null
  }[]
  stacks: {
    name: string
    repository: string | null
    status: StackStatus
    hash: string | null
    deployedCommit: string | null
    deployedAt: string | null
    lastError: string | null
    updatedAt: string
    /** null when the Swarm could not be asked. */
    services: {running: number; desired: number; count: number} | null
    /** The tasks the stack wants running: on which node, in which state, and why one is not running. */
    tasks: TaskPlacement[] | null
    /**
     * What runs differently from what homeops deployed (empty: nothing); null when unknown (the Swarm
     * could not be asked, or the stack was deployed before homeops recorded its services).
     */
    drift: DriftEntry[] | null
  }[]
  images: {reference: string; pulledByHomeops: boolean; references: number; stacks: string[]}[]
  /** Why live counts are missing, when they are. */
  swarmError?: string
}

export async function swarmStatus(context: Context, options: {live?: boolean} = {}): Promise<SwarmStatus> {
  const store = new SwarmStore(await context.state())
  const repositories = store.repositories()
  const names = new Map(repositories.map((r) => [r.id, r.name]))
  let live: Awaited<ReturnType<typeof serviceStates>> | undefined
  let placements: Awaited<ReturnType<typeof stackTasks>> | undefined
  let specs: Map<string, ServiceSpec[]> | undefined
  let swarmError: string | undefined
  if (options.live ?? true) {
    try {
      const {docker: engine} = await context.docker()
      const [states, listed, tasks] = await Promise.all([
        serviceStates(engine),
        stackServices(engine),
        stackTasks(engine),
      ])
      live = states
      placements = tasks
      specs = servicesByStack(listed)
    } catch (error) {
      swarmError = redact(errorMessage(error))
    }
  }
  const hmacKey = store.hashKey(false)
  const driftOf = (name: string, status: StackStatus): DriftEntry[] | null => {
    if (!specs || status !== 'deployed') return null
    return stackDrift(store, name, specs.get(name) ?? [], hmacKey) ?? null
  }
  return {
    repositories: repositories.map((r) => ({
      url: r.url,
      name: r.name,
      branch: r.branch ?? r.fetchedBranch,
      followsDefault: r.branch === null,
      lastCommit: r.lastCommit,
      lastFetchedAt: r.lastFetchedAt,
      lastRunAt: r.lastRunAt,
      lastResult: r.lastResult,
      lastError: r.lastError,
    })),
    stacks: store.stacks().map((s) => {
      const services = live?.get(s.name) ?? []
      return {
        name: s.name,
        repository: s.repositoryId === null ? null : (names.get(s.repositoryId) ?? null),
        status: s.status,
        hash: s.hash,
        deployedCommit: s.deployedCommit,
        deployedAt: s.deployedAt,
        lastError: s.lastError,
        updatedAt: s.updatedAt,
        services: live
          ? {
              running: services.reduce((n, x) => n + x.running, 0),
              desired: services.reduce((n, x) => n + x.desired, 0),
              count: services.length,
            }
          : null,
        tasks: placements ? (placements.get(s.name) ?? []) : null,
        drift: driftOf(s.name, s.status),
      }
    }),
    images: store.images(),
    ...(swarmError ? {swarmError} : {}),
  }
}
