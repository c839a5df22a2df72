import {describe, expect, it} from 'vitest'

import {detectSelf, isSelfContainer} from '../../../src/lib/docker/self.js'

const ID = 'f'.repeat(8) + '0123456789abcdef'.repeat(3) + 'a'.repeat(8)
const files = (map: Record<string, string>) => (path: string) => map[path] ?? ''

describe('self detection', () => {
  it('finds the id in a cgroup v1 path and a systemd scope', () => {
    expect(
      detectSelf({readFile: files({'/proc/self/cgroup': `12:memory:/docker/${ID}\n`}), hostname: 'h'}).ids,
    ).toEqual([ID])
    expect(
      detectSelf({readFile: files({'/proc/self/cgroup': `0::/system.slice/docker-${ID}.scope\n`}), hostname: 'h'}).ids,
    ).toEqual([ID])
  })

  it('finds the id in the hostname/resolv.conf bind mounts (cgroup v2 namespaces hide the path)', () => {
    const mountinfo = `612 600 0:50 /var/lib/docker/containers/${ID}/resolv.conf /etc/resolv.conf rw - ext4 /dev/sda1 rw\n`
    expect(
      detectSelf({readFile: files({'/proc/self/cgroup': '0::/\n', '/proc/self/mountinfo': mountinfo}), hostname: 'h'})
        .ids,
    ).toEqual([ID])
  })

  it('matches by default hostname (short id), and nothing on a plain host', () => {
    expect(isSelfContainer(ID, {ids: [], hostname: ID.slice(0, 12)})).toBe(true)
    expect(isSelfContainer(ID, {ids: [], hostname: 'nas'})).toBe(false)
    expect(isSelfContainer(ID, {ids: [], hostname: 'abc'})).toBe(false)
    const host = detectSelf({readFile: files({'/proc/self/cgroup': '4:memory:/user.slice\n0::/\n'}), hostname: 'nas'})
    expect(host.ids).toEqual([])
  })
})
