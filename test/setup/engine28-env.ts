import {startExtra} from './extra-env.js'

/** Global setup of the `engine28` project: Debian unstable's Docker 28.x next to the 20.10 environment. */
export default function setup(): void {
  startExtra(['--engine', '28'])
}
