import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {ContainerNotFoundError, SelfUpdateError, recreateContainer} from '../../../src/lib/docker/recreate.js'
import {OperationError} from '../../../src/lib/errors.js'
import {testEnv} from '../../support/testenv.js'
import {
  Cleanup,
  appImage,
  buildImage,
  docker,
  pushImage,
  runContainer,
  silent,
  tagImage,
  uniqueName,
  waitFor,
} from '../monitor/harness.js'
import {freePort} from '../../support/free-port.js'

const d = docker()
const cleanup = new Cleanup(d)
const notSelf = {ids: [], hostname: 'not-a-container'}

afterAll(() => cleanup.run(), 120_000)

async function createNetwork(name: string): Promise<{id: string; subnet: string; ip: string}> {
  // A random /24 in 10.213.0.0/16; retried when another test's network holds it.
  for (let attempt = 0; attempt < 8; attempt++) {
    const third = 1 + Math.floor(Math.random() * 250)
    const subnet = `10.213.${third}.0/24`
    try {
      const network = await d.createNetwork({
        Name: name,
        Driver: 'bridge',
        IPAM: {Config: [{Subnet: subnet, Gateway: `10.213.${third}.1`}]},
      })
      cleanup.networks.add(network.id)
      return {id: network.id, subnet, ip: `10.213.${third}.77`}
    } catch (error) {
      if (!/overlap/i.test(String(error))) throw error
    }
  }
  throw new Error('no free subnet for the test network')
}

describe('recreateContainer', () => {
  it('keeps every configuration field and the data of all volumes', async () => {
    const name = uniqueName('cfg')
    const netA = await createNetwork(uniqueName('neta'))
    const netB = await createNetwork(uniqueName('netb'))
    const volume = uniqueName('vol')
    await d.createVolume({Name: volume})
    cleanup.volumes.add(volume)
    const bindDir = cleanup.tempDir()
    writeFileSync(join(bindDir, 'bound.txt'), 'from the host\n')
    const port = await freePort()
    const netAName = (await d.getNetwork(netA.id).inspect()).Name

    const container = await runContainer(d, cleanup, {
      name,
      Image: appImage('1.0.0'),
      Hostname: 'custom-host',
      Domainname: 'example.test',
      User: '0:0',
      WorkingDir: '/tmp',
      Env: ['APP_MODE=test', 'SECRET_LIKE=a=b=c'],
      Labels: {'com.example.team': 'web', 'homeops.test': name},
      Entrypoint: ['sh', '-c'],
      Cmd: ['echo started; exec sleep 3600'],
      Volumes: {'/anon': {}},
      ExposedPorts: {'8080/tcp': {}},
      StopSignal: 'SIGINT',
      StopTimeout: 1,
      Healthcheck: {Test: ['CMD', 'cat', '/VERSION'], Interval: 1e9, Timeout: 1e9, Retries: 2, StartPeriod: 0},
      HostConfig: {
        Binds: [`${bindDir}:/bound:ro`, `${volume}:/named`],
        Tmpfs: {'/scratch': 'size=1m'},
        PortBindings: {'8080/tcp': [{HostIp: '127.0.0.1', HostPort: String(port)}]},
        RestartPolicy: {Name: 'on-failure', MaximumRetryCount: 3},
        Memory: 64 * 1024 * 1024,
        NanoCpus: 500_000_000,
        CpuShares: 512,
        PidsLimit: 100,
        ExtraHosts: ['db.internal:10.1.2.3'],
        CapAdd: ['NET_ADMIN'],
        Dns: ['10.9.9.9'],
        LogConfig: {Type: 'json-file', Config: {'max-size': '1m'}},
        NetworkMode: netAName,
      },
      NetworkingConfig: {
        EndpointsConfig: {
          [netAName]: {
            IPAMConfig: {IPv4Address: netA.ip},
            Aliases: ['web-alias', 'web2'],
          },
        },
      },
    })
    const netBName = (await d.getNetwork(netB.id).inspect()).Name
    await d
      .getNetwork(netB.id)
      .connect({Container: container.id, EndpointConfig: {Aliases: ['b-alias'], IPAMConfig: {IPv4Address: netB.ip}}})
    // Data in the anonymous and the named volume must survive.
    const exec = await container.exec({
      Cmd: ['sh', '-c', 'echo anon-data > /anon/keep && echo named-data > /named/keep'],
      AttachStdout: true,
    })
    await exec.start({})
    await waitFor('exec done', async () => ((await exec.inspect()).Running ? undefined : true))
    await waitFor('healthy', async () =>
      (await container.inspect()).State.Health?.Status === 'healthy' ? true : undefined,
    )
    const before = await container.inspect()

    const result = await recreateContainer(d, name, {
      image: appImage('1.1.0'),
      logger: silent,
      self: notSelf,
      stableMs: 500,
    })
    expect(result).toMatchObject({
      name,
      previousId: before.Id,
      previousImage: appImage('1.0.0'),
      image: appImage('1.1.0'),
    })
    const after = await d.getContainer(name).inspect()
    expect(after.Id).toBe(result.newId)
    expect(after.Id).not.toBe(before.Id)
    expect(after.State.Running).toBe(true)
    expect(after.State.Health?.Status).toBe('healthy')
    expect(after.Config.Image).toBe(appImage('1.1.0'))

    const c = after.Config as typeof after.Config & Record<string, unknown>
    expect(c.Hostname).toBe('custom-host')
    expect(c.Domainname).toBe('example.test')
    expect(c.User).toBe('0:0')
    expect(c.WorkingDir).toBe('/tmp')
    expect(c.Env).toEqual(expect.arrayContaining(['APP_MODE=test', 'SECRET_LIKE=a=b=c']))
    expect(c.Labels).toMatchObject({'com.example.team': 'web', 'homeops.test': name})
    // The new image's own label, not the old one's.
    expect(c.Labels['org.opencontainers.image.version']).toBe('1.1.0')
    expect(c.Entrypoint).toEqual(['sh', '-c'])
    expect(c.Cmd).toEqual(['echo started; exec sleep 3600'])
    expect(c.StopSignal).toBe('SIGINT')
    expect(c.StopTimeout).toBe(1)
    expect(c.Healthcheck).toEqual(before.Config.Healthcheck)
    expect(Object.keys(c.ExposedPorts ?? {})).toContain('8080/tcp')

    const h = after.HostConfig
    expect(h.Binds).toEqual(expect.arrayContaining([`${bindDir}:/bound:ro`, `${volume}:/named`]))
    expect(h.Tmpfs).toEqual({'/scratch': 'size=1m'})
    expect(h.PortBindings).toEqual({'8080/tcp': [{HostIp: '127.0.0.1', HostPort: String(port)}]})
    expect(h.RestartPolicy).toEqual({Name: 'on-failure', MaximumRetryCount: 3})
    expect(h.Memory).toBe(64 * 1024 * 1024)
    expect(h.NanoCpus).toBe(500_000_000)
    expect(h.CpuShares).toBe(512)
    expect(h.PidsLimit).toBe(100)
    expect(h.ExtraHosts).toEqual(['db.internal:10.1.2.3'])
    expect(h.CapAdd).toEqual(['NET_ADMIN'])
    expect(h.Dns).toEqual(['10.9.9.9'])
    expect(h.LogConfig).toEqual({Type: 'json-file', Config: {'max-size': '1m'}})

    const networks = after.NetworkSettings.Networks
    expect(Object.keys(networks).sort()).toEqual(Object.keys(before.NetworkSettings.Networks).sort())
    expect(networks[netAName]!.IPAddress).toBe(netA.ip)
    expect(networks[netAName]!.Aliases).toEqual(expect.arrayContaining(['web-alias', 'web2']))
    expect(networks[netBName]!.IPAddress).toBe(netB.ip)
    expect(networks[netBName]!.Aliases).toEqual(expect.arrayContaining(['b-alias']))
    // Docker's automatic short-id alias is the new container's, not a stale copy of the old one's.
    expect(networks[netAName]!.Aliases).not.toContain(before.Id.slice(0, 12))

    // Same anonymous volume (by name), same data; the published port answers from the new container.
    const anonBefore = before.Mounts.find((m) => m.Destination === '/anon')!
    const anonAfter = after.Mounts.find((m) => m.Destination === '/anon')!
    expect(anonAfter.Name).toBe(anonBefore.Name)
    cleanup.volumes.add(anonBefore.Name!)
    const check = await d
      .getContainer(name)
      .exec({Cmd: ['sh', '-c', 'cat /anon/keep /named/keep /bound/bound.txt'], AttachStdout: true})
    const stream = await check.start({})
    const output = await new Promise<string>((resolve) => {
      let text = ''
      stream.on('data', (b: Buffer) => (text += b.toString('latin1')))
      stream.on('end', () => resolve(text))
    })
    expect(output).toContain('anon-data')
    expect(output).toContain('named-data')
    expect(output).toContain('from the host')
    // The old container is gone, nothing left aside.
    const leftovers = await d.listContainers({all: true, filters: {name: [`${name}-homeops-old`]}})
    expect(leftovers).toHaveLength(0)
    await expect(d.getContainer(before.Id).inspect()).rejects.toMatchObject({statusCode: 404})
  })

  it('rolls back to the old container when the new image fails its healthcheck', async () => {
    const repo = `${testEnv().registry.host}/${uniqueName('hc')}/app`
    const ref = `${repo}:stable`
    // v1 has /healthy, v2 (pushed later under the same tag) lacks it.
    const v1 = await buildImage(d, cleanup, ref, 'echo ok > /healthy')
    await pushImage(d, ref)
    const name = uniqueName('hc')
    const container = await runContainer(d, cleanup, {
      name,
      Image: ref,
      Healthcheck: {Test: ['CMD', 'cat', '/healthy'], Interval: 500_000_000, Timeout: 1e9, Retries: 1},
      HostConfig: {RestartPolicy: {Name: 'unless-stopped'}},
    })
    await waitFor('healthy', async () =>
      (await container.inspect()).State.Health?.Status === 'healthy' ? true : undefined,
    )
    const before = await container.inspect()
    await tagImage(d, cleanup, appImage('2.0.0'), ref)
    const pushedDigest = await pushImage(d, ref)
    await tagImage(d, cleanup, v1, ref) // the daemon still has the old image under the tag: the update must pull

    const error = await recreateContainer(d, name, {logger: silent, self: notSelf, healthTimeoutMs: 20_000}).catch(
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(OperationError)
    expect((error as Error).message).toMatch(/unhealthy: healthcheck "cat \/healthy" exited 1: ".*No such file/)
    expect((error as Error).message).toMatch(/rolled back to the previous container/)
    // The pull did happen: the tag now points at the new image.
    const pulled = await d.getImage(ref).inspect()
    expect(pulled.RepoDigests).toContain(`${repo}@${pushedDigest}`)
    expect(pulled.Id).not.toBe(v1)
    // The old container is back under its name, running, unchanged.
    const after = await d.getContainer(name).inspect()
    expect(after.Id).toBe(before.Id)
    expect(after.Image).toBe(v1)
    expect(after.State.Running).toBe(true)
    expect(after.HostConfig.RestartPolicy).toEqual({Name: 'unless-stopped', MaximumRetryCount: 0})
    const named = await d.listContainers({all: true, filters: {name: [name]}})
    expect(named.map((c) => c.Names[0])).toEqual([`/${name}`])
  })

  it('rolls back when the new container exits at once', async () => {
    const name = uniqueName('exit')
    const container = await runContainer(d, cleanup, {
      name,
      Image: appImage('1.0.0'),
      // Runs only while /VERSION says 1.0.0: the 1.1.0 image makes it exit 3.
      Cmd: ['sh', '-c', 'grep -q 1.0.0 /VERSION || { echo "wrong version"; exit 3; }; exec sleep 3600'],
    })
    const before = await container.inspect()
    const error = await recreateContainer(d, name, {image: appImage('1.1.0'), logger: silent, self: notSelf}).catch(
      (e: unknown) => e,
    )
    expect((error as Error).message).toMatch(/exited with code 3/)
    expect((error as Error).message).toMatch(/wrong version/)
    expect((error as Error).message).toMatch(/rolled back/)
    const after = await d.getContainer(name).inspect()
    expect(after.Id).toBe(before.Id)
    expect(after.State.Running).toBe(true)
    expect(after.Config.Image).toBe(appImage('1.0.0'))
  })

  it('refuses to update the container it runs in, and changes nothing', async () => {
    const name = uniqueName('self')
    const container = await runContainer(d, cleanup, {name})
    const before = await container.inspect()
    await expect(
      recreateContainer(d, name, {logger: silent, self: {ids: [before.Id], hostname: 'x'}}),
    ).rejects.toBeInstanceOf(SelfUpdateError)
    // Detected by hostname too (Docker's default hostname is the short id).
    await expect(
      recreateContainer(d, name, {logger: silent, self: {ids: [], hostname: before.Id.slice(0, 12)}}),
    ).rejects.toThrow(/homeops itself runs in this container/)
    const after = await d.getContainer(name).inspect()
    expect(after.Id).toBe(before.Id)
    expect(after.State.StartedAt).toBe(before.State.StartedAt)
  })

  it('says which container does not exist', async () => {
    await expect(
      recreateContainer(d, 'hotest-monitor-nope-000', {logger: silent, self: notSelf}),
    ).rejects.toBeInstanceOf(ContainerNotFoundError)
  })

  it('keeps a stopped container stopped', async () => {
    const name = uniqueName('stopped')
    const container = await runContainer(d, cleanup, {name})
    await container.stop({t: 0})
    const result = await recreateContainer(d, name, {image: appImage('1.0.1'), logger: silent, self: notSelf})
    const after = await d.getContainer(name).inspect()
    expect(after.Id).toBe(result.newId)
    expect(after.State.Running).toBe(false)
    expect(after.Config.Image).toBe(appImage('1.0.1'))
  })
})
