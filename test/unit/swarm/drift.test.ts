import {describe, expect, it} from 'vitest'

import {
  type ServiceSpec,
  compareStack,
  describeDrift,
  fingerprint,
  parseFingerprint,
} from '../../../src/lib/swarm/drift.js'

const digest = (v: string) => `h(${v.length})${v === 's3cret-value' ? 'S' : v}`

function service(overrides: Partial<NonNullable<ServiceSpec['Spec']>> = {}, container: Record<string, unknown> = {}) {
  return {
    Spec: {
      Name: 'hello_web',
      Labels: {'com.docker.stack.namespace': 'hello', 'homeops.swarm.repository': '/r'},
      Mode: {Replicated: {Replicas: 1}},
      TaskTemplate: {
        ContainerSpec: {
          Image: 'reg/hello:1.1.0@sha256:aaa',
          Env: ['B=2', 'A=1', 'TOKEN=s3cret-value'],
          Labels: {'com.docker.stack.namespace': 'hello'},
          Mounts: [{Type: 'bind', Source: '/nfs/x', Target: '/x', ReadOnly: true}],
          ...container,
        },
        Networks: [{Target: 'net1', Aliases: ['web']}],
      },
      EndpointSpec: {Ports: [{Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress'}]},
      ...overrides,
    },
  } satisfies ServiceSpec
}

const fp = (s: ServiceSpec) => fingerprint(s, digest)
const stack = (...services: ServiceSpec[]) => new Map(services.map((s) => [s.Spec!.Name!, fp(s)]))

describe('drift', () => {
  it('finds nothing when the same spec runs, whatever the order of env entries', () => {
    const running = service({}, {Env: ['TOKEN=s3cret-value', 'A=1', 'B=2']})
    expect(compareStack(stack(service()), stack(running))).toEqual([])
  })

  it('reports an image changed by images update, with its labels, naming each field', () => {
    const updated = service(
      {
        Labels: {
          'com.docker.stack.namespace': 'hello',
          'homeops.swarm.repository': '/r',
          'homeops.images.current-version': '2.0.0',
        },
      },
      {Image: 'reg/hello:2.0.0@sha256:bbb'},
    )
    const drift = compareStack(stack(service()), stack(updated))
    expect(drift.map((d) => d.field)).toEqual(['image', 'labels'])
    expect(drift[0]).toEqual({
      service: 'hello_web',
      field: 'image',
      deployed: 'reg/hello:1.1.0@sha256:aaa',
      running: 'reg/hello:2.0.0@sha256:bbb',
    })
    expect(drift[1]!.running).toBe('added homeops.images.current-version')
    expect(describeDrift(drift)).toContain('hello_web image reg/hello:1.1.0@sha256:aaa → reg/hello:2.0.0@sha256:bbb')
  })

  it('names a changed env variable but never shows its value, deployed or running', () => {
    const changed = service({}, {Env: ['A=1', 'B=2', 'TOKEN=other-secret', 'EXTRA=1']})
    const drift = compareStack(stack(service()), stack(changed))
    expect(drift).toHaveLength(1)
    expect(drift[0]!.field).toBe('env')
    expect(drift[0]!.running).toBe('changed TOKEN; added EXTRA')
    expect(JSON.stringify(drift)).not.toMatch(/s3cret|other-secret/)
    expect(JSON.stringify(fp(service()))).not.toContain('s3cret-value')
  })

  it('reports replicas, mounts, networks and ports', () => {
    const changed = service(
      {
        Mode: {Replicated: {Replicas: 3}},
        EndpointSpec: {Ports: [{Protocol: 'tcp', TargetPort: 80, PublishedPort: 9090}]},
        TaskTemplate: {
          ContainerSpec: {...service().Spec.TaskTemplate.ContainerSpec, Mounts: []},
          Networks: [{Target: 'net2'}],
        },
      },
      {},
    )
    const drift = compareStack(stack(service()), stack(changed))
    expect(drift.map((d) => `${d.field}:${d.deployed}→${d.running}`)).toEqual([
      'mounts:bind:/nfs/x:/x:ro→-',
      'replicas:1→3',
      'networks:net1[web]→net2[]',
      'ports:8080:80/tcp (ingress)→9090:80/tcp (ingress)',
    ])
  })

  it('reports a removed service and one added under the stack outside git', () => {
    const other = service({Name: 'hello_extra'})
    const drift = compareStack(stack(service()), stack(other))
    expect(drift).toEqual([
      {service: 'hello_web', field: 'service', deployed: 'present', running: 'missing'},
      {service: 'hello_extra', field: 'service', deployed: 'absent', running: 'present'},
    ])
    expect(describeDrift(drift)).toBe('hello_web was removed; hello_extra was added outside git')
  })

  it('ignores the notified-version label images writes without touching the workload', () => {
    const labelled = service({
      Labels: {...service().Spec.Labels, 'homeops.images.last-notified-version': '2.0.0'},
    })
    expect(compareStack(stack(service()), stack(labelled))).toEqual([])
  })

  it('tells a global service from a replicated one', () => {
    expect(fp(service({Mode: {Global: {}}})).replicas).toBe('global')
  })

  it('reads back what it stored and refuses text that is not a fingerprint', () => {
    expect(parseFingerprint(JSON.stringify(fp(service())))).toEqual(fp(service()))
    expect(parseFingerprint('{"image": 3}')).toBeUndefined()
    expect(parseFingerprint('not json')).toBeUndefined()
  })
})
