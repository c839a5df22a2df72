import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'
import {stringify} from 'yaml'

import {loadConfig} from '../../src/lib/config/load.js'
import {createContext} from '../../src/lib/context.js'
import {Logger} from '../../src/lib/log/logger.js'
import {openMonitorService} from '../../src/lib/monitor/service.js'
import {run} from '../integration/swarm/harness.js'
import {clusterEnv, manager, nodeCli, workers} from '../support/cluster.js'

/** `monitor` pointed at a worker lists that node's containers, not the manager's. */
const root = mkdtempSync(join(tmpdir(), `hotest-mn-monitor-${run}-`))
const made: [ReturnType<typeof manager>, string][] = []

afterAll(() => {
  for (const [node, name] of made) nodeCli(node, ['rm', '-f', name])
  rmSync(root, {recursive: true, force: true})
})

describe('monitor on a worker', () => {
  it("lists the worker's containers and none of the manager's", async () => {
    const image = `${clusterEnv().registry.host}/hotest/app:1.0.0`
    const worker = workers()[0]!
    const onWorker = `hotest-mn-monitor-${run}-w`
    const onManager = `hotest-mn-monitor-${run}-m`
    nodeCli(worker, ['run', '-d', '--name', onWorker, image])
    made.push([worker, onWorker])
    nodeCli(manager(), ['run', '-d', '--name', onManager, image])
    made.push([manager(), onManager])

    const file = join(root, 'config.yaml')
    writeFileSync(file, stringify({state: {path: join(root, 'homeops.db')}, docker: {host: worker.dockerHost}}))
    const {config} = loadConfig({path: file, env: {}})
    const context = await createContext({
      config,
      configFile: file,
      logger: new Logger({level: 'error', sink: {write: () => true}}),
      terminal: {interactive: false, color: false},
      version: 'test',
      env: {},
    })
    const service = await openMonitorService(context)
    try {
      const names = (await service.rowsOnce()).map((r) => r.name)
      expect(names).toContain(onWorker)
      expect(names).not.toContain(onManager)
    } finally {
      await service.stop()
      await context.close()
    }
  })
})
