import type Dockerode from 'dockerode'
import {describe, expect, it} from 'vitest'

import {computeMetrics} from '../../../src/lib/docker/stats.js'

/** A cgroup v1 sample as dockerd 20.10 streams it (trimmed to what the arithmetic reads). */
function sample(overrides: Record<string, unknown> = {}): Dockerode.ContainerStats {
  return {
    read: '2026-11-22T13:00:01.000Z',
    precpu_stats: {
      cpu_usage: {total_usage: 1_000_000_000, percpu_usage: [1, 2]},
      system_cpu_usage: 100_000_000_000,
      online_cpus: 2,
    },
    cpu_stats: {
      cpu_usage: {total_usage: 1_500_000_000, percpu_usage: [1, 2]},
      system_cpu_usage: 102_000_000_000,
      online_cpus: 2,
    },
    memory_stats: {usage: 50_000_000, limit: 200_000_000, stats: {total_inactive_file: 10_000_000}},
    networks: {eth0: {rx_bytes: 1000, tx_bytes: 200}, eth1: {rx_bytes: 24, tx_bytes: 6}},
    blkio_stats: {
      io_service_bytes_recursive: [
        {major: 8, minor: 0, op: 'Read', value: 4096},
        {major: 8, minor: 0, op: 'Write', value: 8192},
        {major: 8, minor: 16, op: 'read', value: 4},
        {major: 8, minor: 0, op: 'Total', value: 12288},
      ],
    },
    ...overrides,
  } as unknown as Dockerode.ContainerStats
}

describe('computeMetrics', () => {
  it('computes CPU like docker stats: delta over system delta, times online CPUs', () => {
    // 0.5 s of CPU over 2 s of system time (which counts both CPUs) × 2 CPUs = 50 %.
    expect(computeMetrics(sample()).cpu).toBe(50)
  })

  it('falls back to the per-CPU list when online_cpus is missing', () => {
    const s = sample()
    ;(s.cpu_stats as {online_cpus?: number}).online_cpus = 0
    expect(computeMetrics(s).cpu).toBe(50)
  })

  it('has no CPU figure for the first sample (no previous one yet)', () => {
    expect(computeMetrics(sample({precpu_stats: {cpu_usage: {total_usage: 0}, system_cpu_usage: 0}})).cpu).toBeNull()
  })

  it('subtracts the page cache from memory (cgroup v1 total_inactive_file, v2 inactive_file)', () => {
    const v1 = computeMetrics(sample())
    expect(v1.memUsage).toBe(40_000_000)
    expect(v1.memLimit).toBe(200_000_000)
    expect(v1.memPerc).toBe(20)
    const v2 = computeMetrics(sample({memory_stats: {usage: 30_000_000, limit: 60_000_000, stats: {inactive_file: 0}}}))
    expect(v2.memUsage).toBe(30_000_000)
    expect(v2.memPerc).toBe(50)
  })

  it('sums network interfaces and block read/write ops (case-insensitive), as integers', () => {
    const m = computeMetrics(sample())
    expect(m).toMatchObject({netRx: 1024, netTx: 206, blkRead: 4100, blkWrite: 8192})
  })

  it('reports null, not zero, for what the sample does not have', () => {
    const m = computeMetrics(sample({networks: undefined, blkio_stats: {}, memory_stats: {}}))
    expect(m).toMatchObject({netRx: null, netTx: null, blkRead: null, blkWrite: null, memUsage: null, memPerc: null})
  })
})
