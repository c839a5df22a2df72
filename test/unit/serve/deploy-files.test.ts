import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'
import {parse} from 'yaml'

/**
 * The container definitions users copy: every service runs as a non-root
 * user with a read-only root filesystem, every capability dropped and a
 * bounded /tmp. (test/integration/serve/docker-image.test.ts runs the image
 * with these options; `docker stack deploy` was checked to keep ReadOnly,
 * CapabilityDrop, Sysctls and the tmpfs mount in the service spec.)
 */
const root = fileURLToPath(new URL('../../..', import.meta.url))

interface Service {
  user?: string
  read_only?: boolean
  cap_drop?: string[]
  cap_add?: string[]
  security_opt?: string[]
  tmpfs?: string[]
  group_add?: string[]
  sysctls?: Record<string, unknown>
  volumes?: (string | {type: string; target: string; tmpfs?: {size?: number}})[]
  privileged?: boolean
}

function services(file: string): [string, Service][] {
  const doc = parse(readFileSync(`${root}/${file}`, 'utf8'), {merge: true}) as {services: Record<string, Service>}
  return Object.entries(doc.services)
}

function nonRoot(user: string | undefined): boolean {
  const uid = (user ?? '').split(':')[0]
  return uid !== '' && uid !== '0' && uid !== 'root'
}

describe('compose.yaml', () => {
  for (const [name, service] of services('compose.yaml')) {
    it(`runs ${name} least-privileged: non-root, read-only, no capability, no-new-privileges, bounded /tmp`, () => {
      expect(nonRoot(service.user), `user ${service.user}`).toBe(true)
      expect(service.read_only).toBe(true)
      expect(service.cap_drop).toEqual(['ALL'])
      expect(service.cap_add ?? []).toEqual([])
      expect(service.privileged ?? false).toBe(false)
      expect(service.security_opt).toContain('no-new-privileges:true')
      expect(service.tmpfs?.some((t) => /^\/tmp:.*size=\d+/.test(t))).toBe(true)
    })
  }
})

describe('deploy/swarm-stack.yaml', () => {
  const stack = services('deploy/swarm-stack.yaml')

  it('has the serve and dns services', () => {
    expect(stack.map(([name]) => name).sort()).toEqual(['dns', 'serve'])
  })

  for (const [name, service] of stack) {
    it(`runs ${name} least-privileged: non-root, read-only, no capability, a bounded /tmp mount`, () => {
      expect(nonRoot(service.user), `user ${service.user}`).toBe(true)
      expect(service.read_only).toBe(true)
      expect(service.cap_drop).toEqual(['ALL'])
      expect(service.cap_add ?? []).toEqual([])
      expect(service.privileged ?? false).toBe(false)
      // Keys `docker stack deploy` refuses or ignores would give a false sense of safety.
      expect(service.group_add).toBeUndefined()
      expect(service.security_opt).toBeUndefined()
      expect(service.tmpfs).toBeUndefined()
      const tmp = service.volumes?.find((v) => typeof v === 'object' && v.type === 'tmpfs' && v.target === '/tmp')
      expect(typeof tmp === 'object' && tmp.tmpfs?.size).toBeGreaterThan(0)
    })
  }

  it('lets dns bind port 53 without root or a capability (its own network namespace)', () => {
    const dns = Object.fromEntries(stack).dns!
    expect(dns.sysctls?.['net.ipv4.ip_unprivileged_port_start']).toBe(0)
  })
})
