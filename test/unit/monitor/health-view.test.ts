import {describe, expect, it} from 'vitest'

import type {WatchedContainer} from '../../../src/lib/docker/stats.js'
import {describeHealth, exitCodeFromStatus, updatable} from '../../../src/lib/monitor/health-view.js'

const c = (state: string, status: string, extra: Partial<WatchedContainer> = {}): WatchedContainer => ({
  id: 'x',
  name: 'web',
  image: 'nginx:1',
  imageId: 'sha256:1',
  state,
  status,
  created: 0,
  labels: {},
  ...extra,
})

describe('container health in plain words', () => {
  it('tells healthy, unhealthy and starting apart although all are running', () => {
    expect(describeHealth(c('running', 'Up 5 minutes (healthy)'), undefined)).toMatchObject({
      level: 'ok',
      badge: 'healthy',
    })
    expect(describeHealth(c('running', 'Up 5 minutes (unhealthy)'), undefined)).toMatchObject({
      level: 'bad',
      badge: 'unhealthy',
      hint: 'See its logs: docker logs --tail 50 web',
    })
    expect(describeHealth(c('running', 'Up 3 seconds (health: starting)'), undefined).badge).toBe('starting')
  })

  it('tells a clean exit from a kill and names the restart loop with its count', () => {
    expect(exitCodeFromStatus('Exited (137) 2 minutes ago')).toBe(137)
    expect(describeHealth(c('exited', 'Exited (0) 1 minute ago'), undefined)).toMatchObject({
      level: 'info',
      badge: 'exited (0)',
    })
    const killed = describeHealth(c('exited', 'Exited (137) 1 minute ago'), undefined)
    expect(killed).toMatchObject({level: 'bad', badge: 'exited (137)'})
    expect(killed.reason).toContain('killed')
    const loop = describeHealth(c('restarting', 'Restarting (3) 2 seconds ago'), {
      restartCount: 7,
      exitCode: 3,
      oomKilled: false,
      health: null,
      healthOutput: null,
      startedAt: null,
      finishedAt: null,
      error: null,
    })
    expect(loop).toMatchObject({level: 'bad', badge: 'restart loop'})
    expect(loop.reason).toBe('Keeps exiting: failed (exit code 3), restarted 7 times')
  })

  it('never offers Update on Swarm tasks, the aside copy of an update or stopped containers', () => {
    expect(updatable(c('running', 'Up', {labels: {'com.docker.swarm.task.id': 't'}})).ok).toBe(false)
    expect(updatable(c('running', 'Up', {name: 'web-homeops-old-1796569228060'})).ok).toBe(false)
    expect(updatable(c('exited', 'Exited (0)')).ok).toBe(false)
    expect(updatable(c('created', 'Created')).ok).toBe(false)
    expect(updatable(c('running', 'Up')).ok).toBe(true)
  })
})
