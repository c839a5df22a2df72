import Dockerode from 'dockerode'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {testEnv} from '../../support/testenv.js'
import {type RunningDns, capturingLogger, dig, makeContext, startDns, uniqueName, within} from './harness.js'

const HOST_IP = '192.168.77.1'
let d: Dockerode
let dns: RunningDns
let log: string[]
const containers = new Set<string>()
const services = new Set<string>()

const resolves = async (name: string, address: string) =>
  (await dig(dns.port, ['+short', name])).text.trim().split('\n').includes(address)
const gone = async (name: string) => (await dig(dns.port, [name])).status === 'NXDOMAIN'

async function runLabelled(labels: Record<string, string>): Promise<{id: string; startedAt: number}> {
  const container = await d.createContainer({
    name: uniqueName('c'),
    Image: `${testEnv().images.app}:1.0.0`,
    Cmd: ['sleep', '3600'],
    Labels: labels,
    StopTimeout: 1,
  })
  containers.add(container.id)
  await container.start()
  return {id: container.id, startedAt: Date.now()}
}

beforeAll(async () => {
  d = new Dockerode({socketPath: testEnv().dockerSocket})
  const captured = capturingLogger()
  log = captured.lines
  const context = await makeContext(
    {port: 0, bind: '127.0.0.1', hostIp: HOST_IP, zones: ['hotest.lan']},
    {dockerHost: testEnv().dockerHost, logger: captured.logger},
  )
  dns = await startDns(context)
}, 60_000)

afterAll(async () => {
  await dns?.stop()
  for (const id of containers)
    await d
      .getContainer(id)
      .remove({force: true})
      .catch(() => undefined)
  for (const id of services)
    await d
      .getService(id)
      .remove()
      .catch(() => undefined)
}, 120_000)

describe('container labels', () => {
  it('resolves a labelled container within one second of its start, at HOSTIP, and forgets it after removal', async () => {
    const name = `${uniqueName('web')}.hotest.lan`
    const {id, startedAt} = await runLabelled({'homeops.dns.name': `${name},Alias-${name}`})
    await within(1000, 'name after start', () => resolves(name, HOST_IP))
    expect(Date.now() - startedAt).toBeLessThan(1500)
    expect(await resolves(`alias-${name}`, HOST_IP)).toBe(true)
    await d.getContainer(id).remove({force: true})
    await within(1000, 'name after removal', () => gone(name))
  })

  it('reads joyride.host.name and homeops.dns.ip; ignores homeops.dns.enable=false', async () => {
    const joy = `${uniqueName('joy')}.hotest.lan`
    const off = `${uniqueName('off')}.hotest.lan`
    // The opted-out one starts first: once the second resolves, a sync has seen both.
    await runLabelled({'homeops.dns.name': off, 'homeops.dns.enable': 'false'})
    await runLabelled({'joyride.host.name': joy, 'homeops.dns.ip': '10.9.8.7'})
    await within(1000, 'joyride label', () => resolves(joy, '10.9.8.7'))
    expect(await gone(off)).toBe(true)
  })

  it('drops a stopped container’s name (die event)', async () => {
    const name = `${uniqueName('stop')}.hotest.lan`
    const {id} = await runLabelled({'homeops.dns.name': name})
    await within(1000, 'name after start', () => resolves(name, HOST_IP))
    await d.getContainer(id).stop({t: 0})
    await within(1000, 'name after stop', () => gone(name))
  })
})

describe('Swarm service labels', () => {
  it('resolves a service from deploy.labels within one second, follows label updates and removal', async () => {
    const name = `${uniqueName('svc')}.hotest.lan`
    const serviceName = uniqueName('svc')
    const created = Date.now()
    const service = await d.createService({
      Name: serviceName,
      Labels: {'homeops.dns.name': name},
      TaskTemplate: {ContainerSpec: {Image: `${testEnv().images.app}:1.0.0`, Command: ['sleep', '3600']}},
      Mode: {Replicated: {Replicas: 0}},
    })
    services.add(service.id)
    await within(1000, 'service name', () => resolves(name, HOST_IP))
    expect(Date.now() - created).toBeLessThan(2000)
    const info = await d.getService(service.id).inspect()
    const renamed = `${uniqueName('svc2')}.hotest.lan`
    await d.getService(service.id).update({
      version: info.Version.Index,
      ...info.Spec,
      Labels: {'homeops.dns.name': renamed, 'homeops.dns.ip': '10.5.5.5'},
    })
    await within(1000, 'updated service name', () => resolves(renamed, '10.5.5.5'))
    await within(1000, 'old service name gone', () => gone(name))
    await d.getService(service.id).remove()
    services.delete(service.id)
    await within(1000, 'service removed', () => gone(renamed))
    const rows = dns.mode.service()!.store.data.rows()
    expect(rows.some((r) => r.name === renamed)).toBe(false)
  })
})

describe('event stream', () => {
  it('reconnects and resyncs when the stream drops', async () => {
    const source = dns.mode.service()!.docker!
    const before = source.status.reconnects
    ;(source as unknown as {closeStream(): void}).closeStream()
    // A container that starts while no stream is connected still appears, through the resync.
    const name = `${uniqueName('lost')}.hotest.lan`
    await runLabelled({'homeops.dns.name': name})
    await within(5000, 'name after reconnect', () => resolves(name, HOST_IP))
    expect(source.status.reconnects).toBeGreaterThan(before)
    expect(log.some((l) => l.includes('docker event stream ended; reconnecting'))).toBe(true)
  })
})
