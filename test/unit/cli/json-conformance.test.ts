import {ux} from '@oclif/core'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, afterEach, beforeAll, describe, expect, it, vi} from 'vitest'

import {jsonOutputProblems} from '../../support/json-contract.js'

/**
 * The committed schemas (test/contract/json/) are derived from declared types;
 * here the real commands run in-process with `--json` and what they print is
 * checked against them, so a type that says one thing while the command
 * prints another fails. The e2e tests check every `--json` run of the built
 * CLI the same way (test/support/cli.ts), Docker-facing commands included.
 */
const root = fileURLToPath(new URL('../../..', import.meta.url))
const commands = fileURLToPath(new URL('../../../src/commands/', import.meta.url))
let dir: string
const saved = {...process.env}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hotest-contract-'))
  writeFileSync(
    join(dir, 'config.yaml'),
    [
      'dns:',
      '  hostIp: 192.0.2.10',
      '  records:',
      '    nas.home.lan: 192.0.2.20',
      'ddns:',
      '  records:',
      '    - {provider: dyndns2, hostname: home.example.org, server: "http://127.0.0.1:9", username: u, password: p}',
      '',
    ].join('\n'),
  )
  writeFileSync(join(dir, 'bad.yaml'), 'ddns:\n  intervalSecond: 60\n')
})

afterAll(() => rmSync(dir, {recursive: true, force: true}))

afterEach(() => {
  vi.restoreAllMocks()
  process.env = {...saved}
  process.exitCode = undefined
})

async function runJson(args: string[], config = 'config.yaml'): Promise<{stdout: string; value: unknown}> {
  process.env.HOMEOPS_CONFIG = join(dir, config)
  process.env.HOMEOPS_DB_PATH = join(dir, 'homeops.db')
  process.env.HOMEOPS_DOCKER_HOST = `unix://${join(dir, 'no-docker.sock')}`
  const chunks: string[] = []
  vi.spyOn(ux, 'stdout').mockImplementation((...parts: unknown[]) => void chunks.push(parts.map(String).join(' ')))
  vi.spyOn(ux, 'stderr').mockImplementation(() => undefined)
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
  const words = args.filter((a) => !a.startsWith('-'))
  const {default: Command} = (await import(join(commands, ...words) + '.ts')) as {
    default: {run(argv: string[], root: string): Promise<unknown>}
  }
  await Command.run(
    args.filter((a) => a.startsWith('-')),
    root,
  ).catch(() => undefined)
  const stdout = chunks.join('\n')
  return {stdout, value: JSON.parse(stdout) as unknown}
}

describe('--json output matches the committed schema', () => {
  it.each(
    [
      ['version', '--json'],
      ['config', 'show', '--json'],
      ['config', 'validate', '--json'],
      ['ddns', 'status', '--json'],
      ['ddns', 'history', '--json'],
      ['images', 'history', '--json'],
      ['dns', 'records', '--no-docker', '--json'],
    ].map((args) => [args.join(' '), args] as const),
  )('homeops %s', async (_, args) => {
    const {stdout, value} = await runJson(args)
    expect(value).not.toHaveProperty('error')
    expect(jsonOutputProblems(args, stdout)).toEqual([])
  })

  it('the error object, for a config error (exit 2)', async () => {
    const args = ['config', 'validate', '--json']
    const {stdout, value} = await runJson(args, 'bad.yaml')
    expect(value).toMatchObject({error: {exitCode: 2}})
    expect(jsonOutputProblems(args, stdout)).toEqual([])
  })

  it('reports a field the schema does not have', () => {
    const stdout = JSON.stringify({version: '1', node: 'v20', platform: 'linux', arch: 'x64', extra: 1})
    expect(jsonOutputProblems(['version', '--json'], stdout)).toEqual([
      'test/contract/json/version.schema.json: $: unexpected property extra',
    ])
    expect(jsonOutputProblems(['version', '--json'], JSON.stringify({error: {message: 'x'}}))).toEqual([
      'test/contract/json/error.schema.json: $.error: missing exitCode',
    ])
  })
})
