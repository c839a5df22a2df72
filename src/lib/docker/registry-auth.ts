import {readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'

import type {RegistryAuth} from './pull.js'

export interface RegistryCredential {
  host?: string
  username?: string
  password?: string
}

export interface ResolveAuthOptions {
  /** `registries:` of the config file. */
  credentials?: readonly RegistryCredential[]
  /** Default: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
  dockerConfigPath?: string
}

/** The registry host of an image reference (`docker.io` when it has none). */
export function registryHost(image: string): string {
  const first = image.split('/')[0]!
  if (!image.includes('/') || !(first.includes('.') || first.includes(':') || first === 'localhost')) return 'docker.io'
  return first
}

/**
 * Credentials the daemon needs to pull `image` (the Engine API never reads
 * the client's config.json itself): the config file's `registries:` first,
 * then the `auths` of Docker's config.json. Credential helpers are not run.
 */
export function resolveRegistryAuth(image: string, options: ResolveAuthOptions = {}): RegistryAuth | undefined {
  const host = registryHost(image)
  const aliases = host === 'docker.io' ? ['docker.io', 'index.docker.io', 'registry-1.docker.io'] : [host]
  for (const credential of options.credentials ?? []) {
    if (credential.host && aliases.includes(credential.host) && credential.username && credential.password) {
      return {username: credential.username, password: credential.password, serveraddress: host}
    }
  }
  const path = options.dockerConfigPath ?? join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json')
  let auths: Record<string, {auth?: string; username?: string; password?: string}> = {}
  try {
    auths = (JSON.parse(readFileSync(path, 'utf8')) as {auths?: typeof auths}).auths ?? {}
  } catch {
    return undefined
  }
  for (const [key, entry] of Object.entries(auths)) {
    const keyHost = key.replace(/^https?:\/\//, '').replace(/\/.*$/, '')
    const matches = aliases.includes(keyHost) || (host === 'docker.io' && key.includes('index.docker.io'))
    if (!matches) continue
    if (entry.username && entry.password)
      return {username: entry.username, password: entry.password, serveraddress: host}
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      if (colon > 0) return {username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress: host}
    }
  }
  return undefined
}
