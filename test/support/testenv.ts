import {readFileSync} from 'node:fs'
import {join} from 'node:path'

/** A registry of the test environment, on loopback, plain HTTP. */
export interface TestRegistry {
  /** `127.0.0.1:PORT`, the prefix of image references */
  host: string
  /** `http://127.0.0.1:PORT` */
  url: string
}

/** Registry B: htpasswd (bcrypt) basic auth; Docker's login for it is stored in `dockerConfigDir`. */
export interface TestAuthRegistry extends TestRegistry {
  username: string
  password: string
}

/** The test images, built by `docker import` of a static busybox; `/VERSION` holds the tag (`latest`: 2.0.0). */
export interface TestImages {
  /** `hotest/app`: every tag is in the daemon, and in registry A as `${registry.host}/hotest/app:TAG` */
  app: string
  /** the tags of `app`: 1.0.0 1.0.1 1.1.0 2.0.0 latest 1.0.0-alpine 1.1.0-alpine */
  tags: string[]
  /** `hotest/other` */
  other: string
  /** the tags of `other` (1.0.0) */
  otherTags: string[]
  /** the tags of `app` also pushed to registry B (1.0.0 2.0.0) */
  authTags: string[]
  /** manifest digest of each `app` tag, the same in both registries */
  digests: Record<string, string>
}

/** The shape of `$HOMEOPS_TESTENV_DIR/env.json`, written by `scripts/testenv.sh start`. */
export interface TestEnv {
  dir: string
  /** `unix://…/docker.sock`: the private dockerd, in swarm mode (advertise 127.0.0.1) */
  dockerHost: string
  /** the socket path of `dockerHost` */
  dockerSocket: string
  dockerPid: number
  /** registry A, no auth */
  registry: TestRegistry
  /** registry B, with auth */
  authRegistry: TestAuthRegistry
  /** a DOCKER_CONFIG directory logged in to registry B (never the user's ~/.docker) */
  dockerConfigDir: string
  images: TestImages
  startedAt: string
}

export const testEnvDir = (): string => process.env.HOMEOPS_TESTENV_DIR ?? '/tmp/homeops-testenv'

let cached: {file: string; env: TestEnv} | undefined

/**
 * Reads `${HOMEOPS_TESTENV_DIR:-/tmp/homeops-testenv}/env.json`. Throws (so the test fails, never skips)
 * with how to start the environment when it is missing.
 */
export function testEnv(): TestEnv {
  const file = join(testEnvDir(), 'env.json')
  if (cached?.file === file) return cached.env
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new Error(
      `the homeops test environment is not running: cannot read ${file} (${(error as Error).message}). ` +
        'Start it with `scripts/testenv.sh start` (as root; on a fresh machine run `scripts/testenv.sh install` first), ' +
        'or run the tests through vitest, whose integration and e2e projects start it.',
    )
  }
  const env = JSON.parse(text) as TestEnv
  if (!env.dockerHost || !env.registry?.host || !env.authRegistry?.password || !env.images?.app) {
    throw new Error(`${file} is incomplete; restart the environment with \`scripts/testenv.sh start\``)
  }
  cached = {file, env}
  return env
}

/** `process.env` plus DOCKER_HOST and DOCKER_CONFIG of the test environment, for child processes (`docker …`). */
export function dockerEnv(): NodeJS.ProcessEnv {
  const env = testEnv()
  return {...process.env, DOCKER_HOST: env.dockerHost, DOCKER_CONFIG: env.dockerConfigDir}
}
