import {type ChildProcess, spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'
import {stringify} from 'yaml'

import {dig, within} from '../integration/dns/harness.js'
import {run} from '../integration/swarm/harness.js'
import {cliPath, runCli} from '../support/cli.js'
import {clusterEnv, manager, nodeCli, workers} from '../support/cluster.js'

/**
 * `dns serve` on a worker, whose own Docker cannot list the cluster's services, answers the names of
 * services whose tasks run on other nodes by reading them from a manager (`dns.swarmManagers`), follows
 * a change within about a second, and says plainly when no manager answers.
 */
const root = mkdtempSync(join(tmpdir(), `hotest-mn-dns-${run}-`))
const service = `hotest-mn-dns-${run}`
const zone = `mn-${run}.lan`
const servers: ChildProcess[] = []
const missingSocket = `unix://${join(root, 'absent.sock')}`

afterAll(async () => {
  for (const child of servers) {
    if (child.exitCode !== null || child.signalCode !== null) continue
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }
  try {
    nodeCli(manager(), ['service', 'rm', service])
  } catch {
    // not created
  }
  rmSync(root, {recursive: true, force: true})
}, 60_000)

function writeConfig(name: string, swarmManagers: string[]): string {
  const file = join(root, `${name}.yaml`)
  writeFileSync(
    file,
    stringify({
      state: {path: join(root, `${name}.db`)},
      docker: {host: workers()[0]!.dockerHost},
      dns: {zones: [zone], ipv6: false, upstreams: [], swarmManagers},
    }),
  )
  return file
}

/** `homeops dns serve` on a free port; resolves with the port and the lines it printed. */
async function serve(config: string): Promise<{port: number; output: () => string}> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HOMEOPS_')))
  const child = spawn(
    process.execPath,
    [cliPath, 'dns', 'serve', '--port', '0', '--bind', '127.0.0.1', '--http-listen', 'off', '--config', config],
    {env: {...base, HOSTIP: '192.0.2.1', NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']},
  )
  servers.push(child)
  let output = ''
  child.stdout.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr.on('data', (d: Buffer) => (output += d.toString()))
  let port = 0
  await within(
    30_000,
    () => `dns serve started (exit ${child.exitCode}, output: ${output})`,
    async () => {
      port = Number(/dns answering on 127\.0\.0\.1:(\d+)/.exec(output)?.[1] ?? 0)
      return port > 0
    },
  )
  return {port, output: () => output}
}

async function answer(port: number, name: string): Promise<string> {
  return (await dig(port, ['+short', name]).catch(() => ({text: ''}))).text.trim()
}

describe('dns serve on a worker', () => {
  it('answers a service running on another node, read from a manager, and follows a change within a second', async () => {
    const [worker, other] = workers()
    // The task runs on the other worker; the server reads Docker on the first one.
    nodeCli(manager(), [
      'service',
      'create',
      '--detach',
      '--name',
      service,
      '--constraint',
      `node.hostname == ${other!.name}`,
      '--label',
      `homeops.dns.name=app.${zone}`,
      '--label',
      'homeops.dns.ip=10.231.0.99',
      `${clusterEnv().registry.host}/hotest/app:1.0.0`,
    ])
    // The first manager address does not answer: the next one is used.
    const server = await serve(writeConfig('worker', [missingSocket, manager().dockerHost]))
    expect(server.output()).toContain(`swarm services from the manager ${manager().dockerHost}`)
    await within(
      10_000,
      () => `app.${zone} answered (output: ${server.output()})`,
      async () => {
        return (await answer(server.port, `app.${zone}`)) === '10.231.0.99'
      },
    )
    expect(nodeCli(worker!, ['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${service}`])).toBe('')

    const changed = Date.now()
    nodeCli(manager(), ['service', 'update', '--detach', '--label-add', `homeops.dns.name=moved.${zone}`, service])
    await within(
      10_000,
      () => `moved.${zone} answered`,
      async () => {
        return (await answer(server.port, `moved.${zone}`)) === '10.231.0.99'
      },
    )
    // About a second from the manager's event to the answer (debounced resync), with room for a busy machine.
    expect(Date.now() - changed).toBeLessThan(3_000)
    expect(await answer(server.port, `app.${zone}`)).toBe('')
  })

  it('says at start and in doctor when no manager answers', async () => {
    const worker = workers()[0]!
    const config = writeConfig('nomanager', [missingSocket, worker.dockerHost])
    const server = await serve(config)
    await within(
      10_000,
      () => `a warning (output: ${server.output()})`,
      async () => server.output().includes('swarm services: no Swarm manager answered'),
    )
    expect(server.output()).toContain(`${worker.dockerHost} is not a Swarm manager`)
    expect(server.output()).toMatch(/cannot reach the Docker daemon at unix:\/\/\S+absent\.sock: no socket there/)

    const doctor = await runCli(['doctor', '--json', '--config', config], {env: {HOMEOPS_DNS_ENABLED: 'true'}})
    const check = (JSON.parse(doctor.stdout) as {checks: {id: string; ok: boolean; detail: string}[]}).checks.find(
      (c) => c.id === 'dns-swarm-managers',
    )
    expect(check).toMatchObject({ok: false})
    expect(check!.detail).toMatch(/is not a Swarm manager.*names of Swarm services are not answered/)
  })
})
