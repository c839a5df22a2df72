import {describe, expect, it} from 'vitest'

import {SwarmTaskError, dockerMessage, swarmServiceOf} from '../../../src/lib/docker/recreate.js'
import {updateText} from '../../../src/lib/monitor/format.js'
import type {ContainerRow} from '../../../src/lib/monitor/service.js'

const row = (over: Partial<ContainerRow>): ContainerRow =>
  ({
    name: 'web',
    update: 'up_to_date',
    version_update: null,
    version_status: 'unknown',
    updatable: true,
    ...over,
  }) as ContainerRow

describe('one update notion in monitor status', () => {
  it('shows the tag digest status and the newer tag the strategy allows side by side', () => {
    expect(updateText(row({version_update: '1.1.0', version_status: 'update_available'}))).toBe(
      'up to date · 1.1.0 allowed',
    )
    expect(updateText(row({update: 'update_available'}))).toBe('update available')
    expect(updateText(row({update: null}))).toBe('not checked')
  })
})

describe('Swarm task containers and Docker errors', () => {
  it('knows a task container by its service label and names the service in the refusal', () => {
    expect(swarmServiceOf({'com.docker.swarm.service.name': 'hello_web'})).toBe('hello_web')
    expect(swarmServiceOf({})).toBeUndefined()
    const error = new SwarmTaskError('hello_web.1.abc', 'hello_web')
    expect(error.message).toContain('task of the Swarm service hello_web')
    expect(error.hint).toContain('homeops images update hello_web')
  })

  it('never gives an empty reason for a body-less Docker answer', () => {
    const e304 = Object.assign(new Error('(HTTP code 304) container already started - '), {statusCode: 304, json: null})
    expect(dockerMessage(e304)).toBe('HTTP 304 (container already started) without a message')
    const e500 = Object.assign(new Error('(HTTP code 500) server error - '), {statusCode: 500, json: {message: ''}})
    expect(dockerMessage(e500)).toBe('HTTP 500 (server error) without a message')
    const real = Object.assign(new Error('x'), {
      statusCode: 409,
      json: {message: 'endpoint with name x already exists'},
    })
    expect(dockerMessage(real)).toBe('endpoint with name x already exists')
  })
})
