import {ux} from '@oclif/core'
import {fileURLToPath} from 'node:url'
import {afterEach, describe, expect, it, vi} from 'vitest'

import {HomeopsCommand} from '../../../src/cli/homeops-command.js'
import {OperationError} from '../../../src/lib/errors.js'
import {clearSecrets, registerSecret} from '../../../src/lib/log/redact.js'

const root = fileURLToPath(new URL('../../..', import.meta.url))
const SECRET = 'pä"ss\\wörd\n-ABC'
/** How docker prints it (Go `%q`), as a remote error a command passes on. */
const ECHOED = 'parsing "pä\\"ss\\\\wörd\\n-ABC": invalid'

class Fails extends HomeopsCommand<void> {
  async run(): Promise<void> {
    throw new OperationError(`stack web: ${ECHOED}`, {hint: `check the value ${SECRET}`})
  }
}

class Reports extends HomeopsCommand<{stacks: {name: string; lastError: string}[]}> {
  async run(): Promise<{stacks: {name: string; lastError: string}[]}> {
    return {stacks: [{name: 'web', lastError: ECHOED}]}
  }
}

function captureOutput(): {text: () => string} {
  const chunks: string[] = []
  const keep = (chunk: unknown): boolean => (chunks.push(String(chunk)), true)
  vi.spyOn(process.stdout, 'write').mockImplementation(keep)
  vi.spyOn(process.stderr, 'write').mockImplementation(keep)
  const line = (...args: unknown[]): void => void chunks.push(args.map(String).join(' ') + '\n')
  vi.spyOn(ux, 'stdout').mockImplementation(line)
  vi.spyOn(ux, 'stderr').mockImplementation(line)
  return {text: () => chunks.join('')}
}

afterEach(() => {
  vi.restoreAllMocks()
  clearSecrets()
  process.exitCode = undefined
})

describe('a command never prints a secret a remote echoed', () => {
  it('in the --json error, quoted as docker quotes it', async () => {
    registerSecret(SECRET)
    const out = captureOutput()
    await Fails.run(['--json'], root).catch(() => undefined)
    const text = out.text()
    expect(text).toContain('"exitCode": 1')
    expect(text).toContain('parsing \\"***\\": invalid')
    expect(text).not.toContain('wörd')
  })

  it('in the error and hint on stderr', async () => {
    registerSecret(SECRET)
    const out = captureOutput()
    await Fails.run([], root).catch(() => undefined)
    const text = out.text()
    expect(text).toContain('parsing "***": invalid')
    expect(text).toContain('check the value ***')
    expect(text).not.toContain('wörd')
  })

  it('in a --json report', async () => {
    registerSecret(SECRET)
    const out = captureOutput()
    await Reports.run(['--json'], root)
    const text = out.text()
    expect(JSON.parse(text)).toEqual({stacks: [{name: 'web', lastError: 'parsing "***": invalid'}]})
  })
})
