import {spawn} from 'node:child_process'
import {homedir} from 'node:os'
import {join} from 'node:path'

import {FILE_LIMITS, readBoundedText} from '../fs/read-file.js'
import {registerSecret} from '../log/redact.js'
import type {Logger} from '../log/logger.js'
import type {CloudAuthInput} from './config.js'
import {DOCKER_HUB, normalizeRegistryHost} from './reference.js'

/** A username/password (or token) for one registry, and where it came from (for messages, never the value). */
export interface RegistryCredential {
  username: string
  password: string
  /** `config`, `~/.docker/config.json`, `docker-credential-pass`, … */
  source: string
  /** Issued by a cloud token service: asked again shortly before this (ms since epoch). */
  expiresAt?: number
}

/** A `registries:` entry: `type` (default basic) decides how its credential is obtained (see cloud-auth.ts). */
export type CredentialInput = Omit<CloudAuthInput, 'type'> & {type?: CloudAuthInput['type']}

/** Renew an issued credential this long before it expires. */
const RENEW_BEFORE_MS = 5 * 60_000

/** `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function defaultDockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG ? join(env.DOCKER_CONFIG, 'config.json') : join(homedir(), '.docker', 'config.json')
}

interface DockerConfigFile {
  auths?: Record<string, {auth?: string; username?: string; password?: string; identitytoken?: string}>
  credsStore?: string
  credHelpers?: Record<string, string>
}

/**
 * Finds credentials per registry host: the config's `registries:` first, then
 * `~/.docker/config.json` (`auths` with base64 `auth` or username/password,
 * `credHelpers`, `credsStore`). Results are cached for the client's lifetime;
 * every secret found is registered for log redaction.
 */
export class CredentialStore {
  private readonly explicit: CredentialInput[]
  private readonly dockerConfigPath: string
  private readonly logger?: Logger
  private dockerConfig?: DockerConfigFile | null
  private readonly cache = new Map<string, Promise<RegistryCredential | undefined>>()
  private readonly expiries = new Map<string, number>()

  constructor(options: {credentials?: CredentialInput[]; dockerConfigPath?: string; logger?: Logger}) {
    this.explicit = options.credentials ?? []
    this.dockerConfigPath = options.dockerConfigPath ?? defaultDockerConfigPath()
    this.logger = options.logger
    for (const c of this.explicit)
      for (const secret of [c.password, c.token, c.clientSecret, c.secretAccessKey]) registerSecret(secret)
  }

  get(host: string): Promise<RegistryCredential | undefined> {
    const key = normalizeRegistryHost(host)
    let found = this.cache.get(key)
    if (!found) {
      found = this.lookup(key)
      this.cache.set(key, found)
      // A failed exchange is not kept: the next request asks the token service again.
      found.catch(() => {
        if (this.cache.get(key) === found) this.cache.delete(key)
      })
      // An issued credential is renewed shortly before it expires (one shared request).
      void found.then(
        (cred) => {
          if (cred?.expiresAt !== undefined) this.expiries.set(key, cred.expiresAt)
        },
        () => {},
      )
    } else if ((this.expiries.get(key) ?? Infinity) - RENEW_BEFORE_MS < Date.now()) {
      this.expiries.delete(key)
      this.cache.delete(key)
      return this.get(host)
    }
    return found
  }

  private async lookup(host: string): Promise<RegistryCredential | undefined> {
    const explicit = this.explicit.find((c) => normalizeRegistryHost(c.host) === host)
    if (explicit && explicit.type && explicit.type !== 'basic') {
      const {issueCredential} = await import('./cloud-auth.js')
      const issued = await issueCredential({...explicit, type: explicit.type})
      if (issued) this.logger?.debug('registry credential issued', {registry: host, source: issued.source})
      return issued
    }
    if (explicit && (explicit.username || explicit.password)) {
      return {username: explicit.username ?? '', password: explicit.password ?? '', source: 'config registries'}
    }
    const file = this.readDockerConfig()
    if (!file) return undefined
    const where = this.dockerConfigPath
    const helper = Object.entries(file.credHelpers ?? {}).find(([k]) => normalizeRegistryHost(k) === host)?.[1]
    if (helper) return this.fromHelper(helper, host)
    for (const [key, entry] of Object.entries(file.auths ?? {})) {
      if (normalizeRegistryHost(key) !== host || !entry) continue
      if (entry.auth) {
        const decoded = Buffer.from(entry.auth, 'base64').toString('utf8')
        const colon = decoded.indexOf(':')
        if (colon > 0) {
          const cred = {username: decoded.slice(0, colon), password: decoded.slice(colon + 1), source: where}
          registerSecret(cred.password)
          registerSecret(entry.auth)
          return cred
        }
        this.logger?.warn('ignoring a malformed auth entry in the Docker config', {file: where, registry: host})
      }
      if (entry.username && entry.password) {
        registerSecret(entry.password)
        return {username: entry.username, password: entry.password, source: where}
      }
    }
    if (file.credsStore) return this.fromHelper(file.credsStore, host)
    return undefined
  }

  private readDockerConfig(): DockerConfigFile | undefined {
    if (this.dockerConfig !== undefined) return this.dockerConfig ?? undefined
    try {
      const parsed = JSON.parse(readBoundedText(this.dockerConfigPath, {maxBytes: FILE_LIMITS.small})) as unknown
      this.dockerConfig = parsed && typeof parsed === 'object' ? parsed : null
    } catch (error) {
      const code = (error as {code?: string}).code
      if (code !== 'ENOENT')
        this.logger?.warn('cannot read the Docker config for registry credentials', {
          file: this.dockerConfigPath,
          error: code ?? 'invalid JSON',
        })
      this.dockerConfig = null
    }
    return this.dockerConfig ?? undefined
  }

  /** `docker-credential-<helper> get` with the server URL on stdin, as the Docker CLI does. */
  private fromHelper(helper: string, host: string): Promise<RegistryCredential | undefined> {
    const server = host === DOCKER_HUB ? 'https://index.docker.io/v1/' : host
    const program = `docker-credential-${helper}`
    return new Promise((resolve) => {
      let out = ''
      let settled = false
      const done = (value: RegistryCredential | undefined) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve(value)
      }
      const child = spawn(program, ['get'], {stdio: ['pipe', 'pipe', 'ignore']})
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        this.logger?.warn('credential helper timed out', {helper: program, registry: host})
        done(undefined)
      }, 5000)
      child.on('error', () => {
        this.logger?.debug('credential helper not available', {helper: program, registry: host})
        done(undefined)
      })
      child.stdout.on('data', (chunk: Buffer) => {
        if (out.length < 64 * 1024) out += chunk.toString('utf8')
      })
      child.on('close', (code) => {
        if (code !== 0) return done(undefined)
        try {
          const parsed = JSON.parse(out) as {Username?: string; Secret?: string}
          if (!parsed.Secret) return done(undefined)
          registerSecret(parsed.Secret)
          done({username: parsed.Username ?? '', password: parsed.Secret, source: program})
        } catch {
          done(undefined)
        }
      })
      child.stdin.end(server)
    })
  }
}
