import {describe, expect, it} from 'vitest'

import {Logger} from '../../../src/lib/log/logger.js'
import {type Task, runTasks} from '../../../src/lib/ui/terminal.js'

const plain = {interactive: false, color: false}

function setup() {
  const lines: string[] = []
  const logger = new Logger({level: 'debug', format: 'text', sink: {write: (line: string) => lines.push(line)}})
  return {lines, logger}
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('runTasks with a bounded pool', () => {
  it('runs at most `concurrency` tasks at once, starts them in list order and logs each by its title', async () => {
    const {lines, logger} = setup()
    let active = 0
    let peak = 0
    const started: number[] = []
    const tasks: Task<null>[] = Array.from({length: 10}, (_, i) => ({
      title: `deploy s${i}`,
      run: async (_ctx, setTitle) => {
        started.push(i)
        active++
        peak = Math.max(peak, active)
        await tick(20 + (i % 3) * 10)
        active--
        setTitle(`deploy s${i}: created`)
      },
    }))
    await runTasks(plain, logger, tasks, null, {concurrency: 4})
    expect(peak).toBe(4)
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    for (let i = 0; i < 10; i++) expect(lines.some((l) => l.includes(`deploy s${i}: created`))).toBe(true)
  })

  it('stays sequential without concurrency', async () => {
    const {logger} = setup()
    let active = 0
    let peak = 0
    const tasks: Task<null>[] = Array.from({length: 4}, (_, i) => ({
      title: `t${i}`,
      run: async () => {
        active++
        peak = Math.max(peak, active)
        await tick(5)
        active--
      },
    }))
    await runTasks(plain, logger, tasks, null)
    expect(peak).toBe(1)
  })

  it('rethrows a failing task and starts no new task after it', async () => {
    const {logger} = setup()
    const ran: number[] = []
    const tasks: Task<null>[] = Array.from({length: 8}, (_, i) => ({
      title: `t${i}`,
      run: async () => {
        ran.push(i)
        await tick(5)
        if (i === 1) throw new Error('boom')
      },
    }))
    await expect(runTasks(plain, logger, tasks, null, {concurrency: 2})).rejects.toThrow('boom')
    expect(ran.length).toBeLessThan(8)
  })
})
