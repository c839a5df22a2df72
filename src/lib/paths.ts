import {homedir} from 'node:os'
import {dirname, join} from 'node:path'

/**
 * File locations (docs/architecture.md "Configuration", "State"): system paths when running as root,
 * XDG paths otherwise.
 */
export function isRootUser(): boolean {
  return process.getuid?.() === 0
}

export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env, root = isRootUser()): string {
  if (root) return '/etc/homeops/config.yaml'
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'homeops', 'config.yaml')
}

export function defaultStatePath(env: NodeJS.ProcessEnv = process.env, root = isRootUser()): string {
  if (root) return '/var/lib/homeops/homeops.db'
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'homeops', 'homeops.db')
}

/** Everything homeops keeps beside the database (locks, repository clones, settings). */
export function stateDir(dbPath: string): string {
  return dirname(dbPath)
}
