import {readFileSync} from 'node:fs'
import {join} from 'node:path'

/** The parts of the test environment's env.json the registry and images tests use. */
export interface RegistryTestEnv {
  dir: string
  dockerHost: string
  dockerConfigDir: string
  registry: {host: string; url: string}
  authRegistry: {host: string; url: string; username: string; password: string}
  images: {
    app: string
    tags: string[]
    other: string
    otherTags: string[]
    authTags: string[]
    digests: Record<string, string>
  }
}

/** Reads `${HOMEOPS_TESTENV_DIR:-/tmp/homeops-testenv}/env.json`; fails (never skips) when the environment is missing. */
export function registryTestEnv(): RegistryTestEnv {
  const dir = process.env.HOMEOPS_TESTENV_DIR ?? '/tmp/homeops-testenv'
  const file = join(dir, 'env.json')
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as RegistryTestEnv
  } catch (error) {
    throw new Error(
      `the test environment is not running (${file}: ${(error as Error).message}); start it with scripts/testenv.sh start --reuse`,
    )
  }
}
