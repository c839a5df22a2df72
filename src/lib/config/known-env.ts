import {configSchema} from './root-schema.js'
import {envKeys} from './env.js'
import {closest} from './schema.js'

/**
 * The `HOMEOPS_*` variables homeops reads that are not config keys: command
 * flags' `env:` names, start-up switches, and what the test and deploy scripts
 * read. The one list: test/unit/core/known-env.test.ts fails when a source
 * reads a `HOMEOPS_` name that is neither here nor a config key.
 */
export const OTHER_ENV: Readonly<Record<string, string>> = {
  HOMEOPS_CONFIG: 'config file (--config)',
  HOMEOPS_LOG_LEVEL: 'minimum level logged (--log-level)',
  HOMEOPS_DEBUG: 'stack traces and debug logs (--debug)',
  HOMEOPS_DOCKER_HOST: '--docker-host',
  HOMEOPS_YES: '--yes',
  HOMEOPS_DDNS_FORCE: 'ddns update --force',
  HOMEOPS_DDNS_RECORD: 'ddns update --record',
  HOMEOPS_DDNS_LISTEN: 'ddns serve --listen',
  HOMEOPS_IMAGES_WORKLOAD: 'images check --workload',
  HOMEOPS_IMAGES_INTERVAL: 'images serve --interval',
  HOMEOPS_IMAGES_SCHEDULE: 'images serve --schedule',
  HOMEOPS_SWARM_FORCE: 'swarm reconcile --force',
  HOMEOPS_SWARM_DRY_RUN: 'swarm reconcile --dry-run',
  HOMEOPS_SWARM_REPO: 'swarm reconcile --repo',
  HOMEOPS_LEAN: 'bin/homeops.cjs and bin/run.js: 0 sends `ddns update` through oclif instead of its lean entry',
  HOMEOPS_NOTIFY_HELPER: 'systemd notify helper (python3 | none)',
  HOMEOPS_REQUIRE_NATIVE: 'fail when the native DNS answerer is missing (build, tests)',
  HOMEOPS_HEALTHCHECK_URL: 'deploy/healthcheck.mjs: the URL it probes',
  HOMEOPS_DIST: 'deploy/prebuilt-context.sh: another build of dist/',
  HOMEOPS_IMAGE: 'deploy/swarm-stack.yaml: the image to run',
  HOMEOPS_INSTALL_SYSTEMD_RUN_DIR: 'install.sh: stands in for /run/systemd/system (tests)',
}

/**
 * Variables homeops sets for the programs it runs (a notifier `command`, an `exec:` IP source); homeops itself
 * never reads them, the docs name them.
 */
export const CHILD_ENV = [
  'HOMEOPS_TITLE',
  'HOMEOPS_MESSAGE',
  'HOMEOPS_EVENT',
  'HOMEOPS_COUNT',
  'HOMEOPS_LEVEL',
  'HOMEOPS_DDNS_FAMILY',
] as const

/** Prefixes of variables the test environment, benchmarks and e2e tests read. */
export const OTHER_ENV_PREFIXES = [
  'HOMEOPS_TESTENV_',
  'HOMEOPS_TEST_',
  'HOMEOPS_ENV_',
  'HOMEOPS_BENCH_',
  'HOMEOPS_E2E_',
]

/** Whether homeops, a command it runs or one of its scripts reads `name` (a config key's variable or one above). */
export function isKnownHomeopsEnv(name: string): boolean {
  return (
    knownNames().known.has(name) ||
    (CHILD_ENV as readonly string[]).includes(name) ||
    OTHER_ENV_PREFIXES.some((prefix) => name.startsWith(prefix))
  )
}

export interface UnknownEnv {
  name: string
  /** The documented name it most likely meant. */
  suggestion?: string
}

let cache: {known: Set<string>; documented: string[]} | undefined

function knownNames(): {known: Set<string>; documented: string[]} {
  if (cache) return cache
  const known = new Set(Object.keys(OTHER_ENV))
  const documented = Object.keys(OTHER_ENV)
  for (const key of envKeys(configSchema)) {
    documented.push(key.names[0]!)
    for (const name of key.names) {
      known.add(name)
      if (key.field.meta.secret) known.add(`${name}_FILE`)
    }
  }
  cache = {known, documented}
  return cache
}

/** `HOMEOPS_*` variables set in `env` that no key, flag or script reads: a typo that would be ignored silently. */
export function unknownHomeopsEnv(env: NodeJS.ProcessEnv): UnknownEnv[] {
  const {known, documented} = knownNames()
  const unknown: UnknownEnv[] = []
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('HOMEOPS_') || known.has(name)) continue
    if (OTHER_ENV_PREFIXES.some((prefix) => name.startsWith(prefix))) continue
    unknown.push({name: name.slice(0, 100), suggestion: closest(name, documented)})
    if (unknown.length >= 20) break
  }
  return unknown
}

export function unknownEnvMessage({name, suggestion}: UnknownEnv): string {
  return `environment variable ${name} is not a homeops setting and is ignored${suggestion ? ` (did you mean ${suggestion}?)` : ''}`
}
