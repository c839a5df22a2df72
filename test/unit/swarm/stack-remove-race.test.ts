import {chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import type {Docker} from '../../../src/lib/docker/client.js'
import {Logger} from '../../../src/lib/log/logger.js'
import {removeStack} from '../../../src/lib/swarm/apply.js'
import type {SwarmEnv} from '../../../src/lib/swarm/env.js'

/**
 * `docker stack rm` removes the services, then at once their networks, while the tasks still stop;
 * Docker then refuses the network ("is in use by task") and the CLI exits 1. A fake docker CLI
 * answers that race a given number of times: removal waits and tries again, other errors fail.
 */
let dir: string
const IN_USE =
  'Failed to remove network n1: Error response from daemon: rpc error: code = FailedPrecondition desc = network n1 is in use by task t1'

function fakeCli(failures: number, message = IN_USE): string {
  const script = join(dir, 'docker')
  writeFileSync(
    script,
    `#!/bin/sh\necho "$*" >> ${dir}/calls\nn=$(wc -l < ${dir}/calls)\n` +
      `if [ "$n" -le ${failures} ]; then echo '${message}' >&2; echo 'failed to remove some resources from stack: web' >&2; exit 1; fi\n`,
  )
  chmodSync(script, 0o755)
  return script
}

const calls = () => readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n')

/** `lingering`: a container of the stack that never goes away (its task does not stop). */
function env(cli: string, options: {signal?: AbortSignal; lingering?: boolean} = {}): SwarmEnv {
  const containers = options.lingering ? [{Id: 'c1'}] : []
  const engine = {listServices: async () => [], listContainers: async () => containers} as unknown as Docker
  const logger = new Logger({level: 'error', format: 'text', sink: {write: () => {}}})
  const context = {logger, signal: options.signal}
  return {context, engine, cli: {cli, address: 'unix:///nowhere'}} as unknown as SwarmEnv
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hotest-stack-rm-'))
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

describe('removing a stack whose network is still in use by a stopping task', () => {
  it('waits for the tasks and runs stack rm again, succeeding', async () => {
    await removeStack(env(fakeCli(2)), 'web')
    expect(calls()).toEqual(['stack rm web', 'stack rm web', 'stack rm web'])
  })

  it('fails at once on any other refusal, naming it', async () => {
    await expect(removeStack(env(fakeCli(5, 'permission denied')), 'web')).rejects.toThrow(
      /docker stack rm web failed: .*permission denied/,
    )
    expect(calls()).toHaveLength(1)
  })

  it('stops waiting at once on SIGTERM: the services are gone, a network left behind fails the stack', async () => {
    for (const failures of [0, 1]) {
      rmSync(join(dir, 'calls'), {force: true})
      const stop = new AbortController()
      setTimeout(() => stop.abort(), 300)
      const started = Date.now()
      const removal = removeStack(env(fakeCli(failures), {signal: stop.signal, lingering: true}), 'web')
      if (failures === 0) await expect(removal).resolves.toBeUndefined()
      else await expect(removal).rejects.toThrow('stack web: stopped before its network was removed')
      // The wait for a lingering container lasts 120 s, and the retries 30 s, without the stop.
      expect(Date.now() - started).toBeLessThan(5000)
      expect(calls()).toEqual(['stack rm web'])
    }
  })
})
