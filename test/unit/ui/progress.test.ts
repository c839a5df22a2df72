import {describe, expect, it} from 'vitest'

import {Logger} from '../../../src/lib/log/logger.js'
import {logProgress, progressFor, taskListProgress} from '../../../src/lib/ui/progress.js'

function capture() {
  const lines: string[] = []
  const logger = new Logger({level: 'debug', format: 'text', sink: {write: (line: string) => lines.push(line)}})
  return {lines, logger}
}

describe('progress off a terminal', () => {
  it('writes one line per finished step, after its notes, and ends the steps left open', async () => {
    const {lines, logger} = capture()
    const progress = logProgress(logger)
    const group = progress.begin(['fetch a', 'fetch b', 'fetch c'])
    group.steps[1]!.start()
    group.steps[1]!.done('fetch b: failed, keeping what is deployed', [
      {level: 'error', message: 'fetch b failed', fields: {error: 'refused'}},
    ])
    group.steps[0]!.update('fetch a: main at 1234567')
    group.steps[0]!.done('fetch a: main at 1234567')
    group.steps[0]!.done('fetch a: again')
    group.steps[2]!.update('fetch c: half way')
    progress.note({level: 'warn', message: 'stack web drifted', fields: {drift: 'image'}})
    await group.end()
    expect(lines.map((l) => l.trim().replace(/^\S+ /, ''))).toEqual([
      'error fetch b failed error=refused',
      expect.stringMatching(/^info fetch b: failed, keeping what is deployed ms=\d+$/),
      expect.stringMatching(/^info fetch a: main at 1234567 ms=\d+$/),
      'warn stack web drifted drift=image',
      expect.stringMatching(/^info fetch c: half way ms=\d+$/),
    ])
  })

  it('is what a command picks when no person watches; a terminal gets a task list', () => {
    const {lines, logger} = capture()
    progressFor({interactive: false, color: false}, logger).note({level: 'info', message: 'hello'})
    expect(lines).toHaveLength(1)
    const list = progressFor({interactive: true, color: false}, logger)
    list.note({level: 'info', message: 'shown by the final report instead'})
    expect(lines).toHaveLength(1)
  })

  it('a task list with nothing to show ends at once', async () => {
    await expect(taskListProgress().begin([]).end()).resolves.toBeUndefined()
  })
})
