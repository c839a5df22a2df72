import {ux} from '@oclif/core'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterEach, describe, expect, it, vi} from 'vitest'

import {HomeopsCommand} from '../../../src/cli/homeops-command.js'
import {ExitCode, worst} from '../../../src/lib/errors.js'

const root = fileURLToPath(new URL('../../..', import.meta.url))

class Reports extends HomeopsCommand<{exitCode: number}> {
  static code = 0
  async run(): Promise<{exitCode: number}> {
    return {exitCode: Reports.code}
  }
}

class PerItem extends HomeopsCommand<{items: {code: number}[]}> {
  static codes: number[] = []
  async run(): Promise<{items: {code: number}[]}> {
    return {items: PerItem.codes.map((code) => ({code}))}
  }

  protected override exitCodes(report: {items: {code: number}[]}): number[] {
    return report.items.map((i) => i.code)
  }
}

function silence(): void {
  const keep = (): boolean => true
  vi.spyOn(process.stdout, 'write').mockImplementation(keep)
  vi.spyOn(process.stderr, 'write').mockImplementation(keep)
  vi.spyOn(ux, 'stdout').mockImplementation(() => undefined)
  vi.spyOn(ux, 'stderr').mockImplementation(() => undefined)
}

afterEach(() => {
  vi.restoreAllMocks()
  process.exitCode = undefined
})

describe('the exit-code policy (worst)', () => {
  it('lets the code that asks most of a person win: 4 > 2 > 1 > 3 > 5 > 0', () => {
    expect(worst([])).toBe(ExitCode.ok)
    expect(worst([0, 0])).toBe(0)
    expect(worst([5, 0])).toBe(5)
    expect(worst([0, 3, 5])).toBe(3)
    // A failure that needs a person is never hidden behind a temporary one (a retry would not fix it).
    expect(worst([3, 1, 3])).toBe(1)
    expect(worst([1, 2, 3])).toBe(2)
    expect(worst([1, 2, 4, 3, 5])).toBe(4)
  })

  it('counts a code outside the table as a failure', () => {
    expect(worst([0, 7])).toBe(1)
    expect(worst([7, 3])).toBe(1)
    expect(worst([7, 4])).toBe(4)
  })
})

describe('the base command applies it to the returned report', () => {
  it("exits with the report's code, with and without --json", async () => {
    silence()
    Reports.code = 3
    await Reports.run([], root)
    expect(process.exitCode).toBe(3)
    process.exitCode = undefined
    Reports.code = 4
    await Reports.run(['--json'], root)
    expect(process.exitCode).toBe(4)
    process.exitCode = undefined
    Reports.code = 0
    await Reports.run([], root)
    expect(process.exitCode).toBeUndefined()
  })

  it('takes the worst of the codes a command lists', async () => {
    silence()
    PerItem.codes = [0, 3, 1, 3]
    await PerItem.run(['--json'], root)
    expect(process.exitCode).toBe(1)
  })

  it('is the only place that sets an exit code: no command sets process.exitCode itself', () => {
    const commands = join(root, 'src', 'commands')
    const offenders = readdirSync(commands, {recursive: true, encoding: 'utf8'})
      .filter((f) => f.endsWith('.ts'))
      .filter((f) => /process\.exitCode\s*=/.test(readFileSync(join(commands, f), 'utf8')))
    expect(offenders).toEqual([])
  })
})
