import {spawnSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

/**
 * Starts (or reuses) the single-node environment plus what a project needs beyond it: `--nodes 3` or
 * `--engine 28` (scripts/testenv-nodes.sh). Throws when it cannot, so every test of the project fails
 * with the reason: these projects are opt-in, but once asked for they never skip.
 */
export function startExtra(args: string[]): void {
  const argv = ['scripts/testenv.sh', 'start', '--reuse', ...args]
  const result = spawnSync('bash', argv, {cwd: repoRoot, stdio: 'inherit', timeout: 1_500_000, killSignal: 'SIGTERM'})
  if (result.error) throw new Error(`the test environment could not start: ${argv.join(' ')}: ${result.error.message}`)
  if (result.status !== 0) {
    const how = result.status === null ? `was killed by ${result.signal}` : `exited ${result.status}`
    throw new Error(
      `the test environment could not start: ${argv.join(' ')} ${how} (its output above says which step failed)`,
    )
  }
}
