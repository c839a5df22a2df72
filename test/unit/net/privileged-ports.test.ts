import {describe, expect, it} from 'vitest'

import {effectiveDnsPort} from '../../../src/lib/dns/config.js'
import {canBindPrivilegedPorts} from '../../../src/lib/net/privileged-ports.js'

/** /proc as a map; a missing file throws as readFileSync does. */
function proc(files: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = files[path]
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), {code: 'ENOENT'})
    return text
  }
}

const status = (capEff: string): string =>
  `Name:\tnode\nUid:\t995\t995\t995\t995\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\nCapBnd:\t${capEff}\n`

describe('canBindPrivilegedPorts', () => {
  it('is true for root', () => {
    expect(canBindPrivilegedPorts(0, proc({}))).toBe(true)
  })

  it('is true for the homeops user with CAP_NET_BIND_SERVICE (AmbientCapabilities= of homeops.service)', () => {
    expect(canBindPrivilegedPorts(995, proc({'/proc/self/status': status('0000000000000400')}))).toBe(true)
  })

  it('is false without that capability, even where the host lets everyone bind low ports', () => {
    expect(canBindPrivilegedPorts(995, proc({'/proc/self/status': status('0000000000000000')}))).toBe(false)
    // Other capabilities do not count (CAP_NET_RAW is bit 13).
    expect(canBindPrivilegedPorts(995, proc({'/proc/self/status': status('0000000000002000')}))).toBe(false)
    // A container's ip_unprivileged_port_start=0 keeps the documented default 5353.
    const container = {
      '/proc/self/status': status('0000000000000000'),
      '/proc/sys/net/ipv4/ip_unprivileged_port_start': '0\n',
    }
    expect(canBindPrivilegedPorts(10001, proc(container))).toBe(false)
  })

  it('is false when /proc cannot be read', () => {
    expect(canBindPrivilegedPorts(995, proc({}))).toBe(false)
  })

  it('makes 53 the default DNS port when it may be bound, 5353 otherwise, and never overrides a configured port', () => {
    expect(effectiveDnsPort(undefined, true)).toBe(53)
    expect(effectiveDnsPort(undefined, false)).toBe(5353)
    expect(effectiveDnsPort(5300, true)).toBe(5300)
    expect(effectiveDnsPort(0, false)).toBe(0)
  })
})
