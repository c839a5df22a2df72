import {spawnSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

/**
 * Vitest global setup of the integration and e2e projects: starts the test environment, or reuses the one
 * running. When it cannot start, this throws and every test of the project fails with the reason: the tests
 * never skip. The environment is left running (scripts/test.sh stops it).
 */
export default function setup(): void {
  const result = spawnSync('bash', ['scripts/testenv.sh', 'start', '--reuse'], {
    cwd: repoRoot,
    stdio: 'inherit',
    timeout: 170_000,
    killSignal: 'SIGTERM',
  })
  if (result.error) {
    throw new Error(`the test environment could not start: scripts/testenv.sh start --reuse: ${result.error.message}`)
  }
  if (result.status !== 0) {
    const how = result.status === null ? `was killed by ${result.signal}` : `exited ${result.status}`
    throw new Error(
      `the test environment could not start: scripts/testenv.sh start --reuse ${how} (its output above says which step failed)`,
    )
  }
}
