import type {DoctorChecks} from '../area.js'
import {type Check, type StateHandle, commandCheck} from '../doctor/check.js'
import {errorMessage} from '../errors.js'

/** What swarm GitOps runs: `docker stack deploy` and git. */
export async function swarmToolChecks(): Promise<Check[]> {
  return [
    await commandCheck(
      'docker-cli',
      'docker CLI',
      'docker',
      ['--version'],
      'install docker.io (needed for `docker stack deploy`)',
    ),
    await commandCheck('git', 'git', 'git', ['--version'], 'install git (needed for swarm GitOps)'),
  ]
}

/** swarm reconciles the repositories `swarm watch` registered: none means the mode has nothing to do. */
export function swarmRepositoriesCheck(state: StateHandle | undefined): Check {
  const title = 'repositories'
  let count: number
  try {
    if (!state) throw new Error('the state database cannot be read')
    count = (state.prepare('SELECT count(*) AS n FROM swarm_repositories').get() as {n: number}).n
  } catch (error) {
    return {id: 'swarm-repos', title, ok: false, detail: `unknown: ${errorMessage(error)}`}
  }
  if (count === 0) {
    return {
      id: 'swarm-repos',
      title,
      ok: false,
      advisory: true,
      detail: 'no repository watched: swarm reconcile has nothing to deploy',
      hint: 'homeops swarm watch <git URL> [--branch B]',
    }
  }
  return {id: 'swarm-repos', title, ok: true, detail: `${count} watched`}
}

/** For `homeops doctor` (`swarmArea.doctor.module`). */
export const doctorChecks: DoctorChecks<unknown> = {
  host: () => swarmToolChecks(),
  async settings({state}) {
    return [swarmRepositoriesCheck(state)]
  },
}
