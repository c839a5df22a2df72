import {readFileSync} from 'node:fs'
import {hostname as osHostname} from 'node:os'

/**
 * Which container (if any) this process runs in, so `monitor update` can
 * refuse to recreate itself (it would kill the process half-way through).
 * Docker leaves the container id in three places: the cgroup path
 * (`/docker/<id>`, `docker-<id>.scope`), the bind mounts of
 * `/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`
 * (`…/containers/<id>/…` in mountinfo), and the default hostname (the first
 * 12 hex digits of the id).
 */
export interface SelfIdentity {
  /** Full 64-hex container ids found in /proc. */
  ids: string[]
  hostname: string
}

export interface DetectSelfOptions {
  readFile?: (path: string) => string
  hostname?: string
}

const FULL_ID = /[0-9a-f]{64}/g

export function detectSelf(options: DetectSelfOptions = {}): SelfIdentity {
  const read =
    options.readFile ??
    ((path: string) => {
      try {
        return readFileSync(path, 'utf8')
      } catch {
        return ''
      }
    })
  const ids = new Set<string>()
  for (const line of read('/proc/self/cgroup').split('\n')) {
    if (!/docker|containerd|libpod|kubepods|moby/.test(line)) continue
    for (const match of line.matchAll(FULL_ID)) ids.add(match[0])
  }
  for (const line of read('/proc/self/mountinfo').split('\n')) {
    const match = /\/containers\/([0-9a-f]{64})\/(?:hostname|hosts|resolv\.conf)\b/.exec(line)
    if (match) ids.add(match[1]!)
  }
  return {ids: [...ids], hostname: options.hostname ?? osHostname()}
}

let cached: SelfIdentity | undefined

/** `detectSelf()` once per process. */
export function selfIdentity(): SelfIdentity {
  cached ??= detectSelf()
  return cached
}

/** True when the container with this full id is the one this process runs in. */
export function isSelfContainer(containerId: string, self: SelfIdentity = selfIdentity()): boolean {
  if (self.ids.includes(containerId)) return true
  const host = self.hostname.toLowerCase()
  return /^[0-9a-f]{12,64}$/.test(host) && containerId.startsWith(host)
}
