import {tmpdir} from 'node:os'
import {describe, expect, it} from 'vitest'

import {deployEnvironment, stackDeploy} from '../../../src/lib/swarm/docker.js'

describe('the environment of the docker CLI child', () => {
  it('holds PATH, HOME, DOCKER_* and SSH_AUTH_SOCK only, with DOCKER_HOST the daemon homeops uses', () => {
    const env = deployEnvironment('unix:///run/docker.sock', {
      PATH: '/usr/bin',
      HOME: '/root',
      DOCKER_CONFIG: '/root/.docker',
      DOCKER_CONTEXT: 'remote',
      DOCKER_HOST: 'tcp://elsewhere:2375',
      SSH_AUTH_SOCK: '/run/ssh.sock',
      GITHUB_TOKEN: 'ghp_secret',
      HOMEOPS_SERVE_API_KEY: 'key',
      API_KEY: 'key',
    })
    expect(env).toEqual({
      PATH: '/usr/bin',
      HOME: '/root',
      DOCKER_CONFIG: '/root/.docker',
      DOCKER_HOST: 'unix:///run/docker.sock',
      SSH_AUTH_SOCK: '/run/ssh.sock',
    })
  })

  it('says the environment is too large (E2BIG), naming the largest variable, instead of "exit code undefined"', async () => {
    await expect(
      stackDeploy({
        cli: 'true',
        address: 'unix:///nowhere',
        stack: 's',
        compose: 'services: {}\n',
        cwd: tmpdir(),
        secrets: {BIG_SECRET: 'x'.repeat(200_000)},
        timeoutMs: 5000,
        knowsDetach: true,
      }),
    ).rejects.toThrow(
      /environment of the docker CLI is too large \(E2BIG\): .*the largest is BIG_SECRET \(200012 bytes\)/,
    )
  })
})
