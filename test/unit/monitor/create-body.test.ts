import type Dockerode from 'dockerode'
import {describe, expect, it} from 'vitest'

import {buildCreateBody} from '../../../src/lib/docker/recreate.js'

const ID = 'abcdef123456' + '0'.repeat(52)

function inspect(overrides: {Config?: object; HostConfig?: object; Networks?: object; Mounts?: object[]} = {}) {
  return {
    Id: ID,
    Name: '/web',
    Image: 'sha256:' + '1'.repeat(64),
    Config: {
      Hostname: ID.slice(0, 12),
      Domainname: '',
      User: '',
      Env: ['PATH=/usr/bin', 'IMAGE_DEFAULT=1', 'MINE=2'],
      Cmd: ['nginx', '-g', 'daemon off;'],
      Entrypoint: ['/docker-entrypoint.sh'],
      Image: 'nginx:1.25',
      WorkingDir: '/',
      Labels: {maintainer: 'nginx', 'com.example': 'x'},
      Volumes: {'/cache': {}},
      ExposedPorts: {'80/tcp': {}},
      StopSignal: 'SIGQUIT',
      ...overrides.Config,
    },
    HostConfig: {
      NetworkMode: 'appnet',
      Binds: ['/srv/site:/usr/share/nginx/html:ro'],
      Links: ['/db:/web/db'],
      ...overrides.HostConfig,
    },
    NetworkSettings: {
      Networks: overrides.Networks ?? {
        appnet: {Aliases: ['www', ID.slice(0, 12)], IPAMConfig: {IPv4Address: '172.30.0.10'}, NetworkID: 'n1'},
        backend: {Aliases: null, IPAMConfig: null, NetworkID: 'n2'},
      },
    },
    Mounts: overrides.Mounts ?? [
      {Type: 'bind', Source: '/srv/site', Destination: '/usr/share/nginx/html', RW: false},
      {
        Type: 'volume',
        Name: 'f00dfeed',
        Source: '/var/lib/docker/volumes/f00dfeed/_data',
        Destination: '/cache',
        RW: true,
      },
    ],
    State: {Running: true},
  } as unknown as Dockerode.ContainerInspectInfo
}

const imageConfig = {
  Env: ['PATH=/usr/bin', 'IMAGE_DEFAULT=1'],
  Cmd: ['nginx', '-g', 'daemon off;'],
  Entrypoint: ['/docker-entrypoint.sh'],
  WorkingDir: '/',
  Labels: {maintainer: 'nginx'},
  Volumes: {'/cache': {}},
  ExposedPorts: {'80/tcp': {}},
  StopSignal: 'SIGQUIT',
}

describe('buildCreateBody', () => {
  it("drops the old image's defaults so the new image's apply, and keeps what the user set", () => {
    const body = buildCreateBody(inspect(), imageConfig, 'nginx:1.26')
    expect(body.Image).toBe('nginx:1.26')
    expect(body.Env).toEqual(['MINE=2'])
    expect(body.Labels).toEqual({'com.example': 'x'})
    expect(body.Cmd).toBeUndefined()
    expect(body.Entrypoint).toBeUndefined()
    expect(body.WorkingDir).toBeUndefined()
    expect(body.StopSignal).toBeUndefined()
    expect(body.ExposedPorts).toBeUndefined()
    expect(body.Hostname).toBeUndefined() // Docker's default (the short id) is not copied
  })

  it('keeps a user command, entrypoint and hostname', () => {
    const body = buildCreateBody(
      inspect({Config: {Cmd: ['sh'], Entrypoint: ['tini', '--'], Hostname: 'web1'}}),
      imageConfig,
      'nginx:1.26',
    )
    expect(body).toMatchObject({Cmd: ['sh'], Entrypoint: ['tini', '--'], Hostname: 'web1'})
  })

  it('re-attaches anonymous volumes by name and converts links', () => {
    const body = buildCreateBody(inspect(), imageConfig, 'nginx:1.26')
    expect(body.HostConfig!.Binds).toEqual(['/srv/site:/usr/share/nginx/html:ro', 'f00dfeed:/cache'])
    expect(body.HostConfig!.Links).toEqual(['db:db'])
  })

  it('creates on the primary network with aliases and static IP, without the old short-id alias', () => {
    const body = buildCreateBody(inspect(), imageConfig, 'nginx:1.26')
    expect(body.NetworkingConfig).toEqual({
      EndpointsConfig: {appnet: {Aliases: ['www'], IPAMConfig: {IPv4Address: '172.30.0.10'}}},
    })
  })

  it('sets no network or hostname when sharing the host network', () => {
    const body = buildCreateBody(
      inspect({HostConfig: {NetworkMode: 'host'}, Config: {Hostname: 'nas'}, Networks: {host: {NetworkID: 'h'}}}),
      imageConfig,
      'nginx:1.26',
    )
    expect(body.NetworkingConfig).toBeUndefined()
    expect(body.Hostname).toBeUndefined()
  })

  it('keeps everything when the old image cannot be inspected', () => {
    const body = buildCreateBody(inspect(), undefined, 'nginx:1.26')
    expect(body.Env).toEqual(['PATH=/usr/bin', 'IMAGE_DEFAULT=1', 'MINE=2'])
    expect(body.Cmd).toEqual(['nginx', '-g', 'daemon off;'])
  })
})
