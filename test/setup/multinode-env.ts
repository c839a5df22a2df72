import {startExtra} from './extra-env.js'

/** Global setup of the `multinode` project: a three-node Swarm (one manager, two workers). */
export default function setup(): void {
  startExtra(['--nodes', '3'])
}
