import {existsSync, readFileSync} from 'node:fs'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {watch} from '../../../src/lib/swarm/repositories.js'
import {runCli} from '../../support/cli.js'
import {testEnv} from '../../support/testenv.js'
import {type GitRepo, Workspace, removeStacks, stackName} from './harness.js'

/**
 * Issue 17 item 12 on the real Swarm: a secret with a newline, quotes, a
 * backslash, a tab and non-ASCII letters, which `docker stack deploy` echoes
 * Go-quoted (`strconv.Atoi: parsing "multi\nline…": invalid syntax`), never
 * reaches the report, the log, the state database or `swarm status --json`.
 */
const ws = new Workspace()
const ECHO = stackName('echo')
const SECRET = 'multi\nline "q" \\ tab\tünï-ABC'
/** How the secret reads in each place it could leak: as is, JSON-escaped, Go-quoted, and a distinctive piece. */
const LEAKS = [
  SECRET,
  JSON.stringify(SECRET).slice(1, -1),
  'multi\\nline \\"q\\" \\\\ tab\\tünï-ABC',
  'ünï-ABC',
  '\\u00fcn\\u00ef-ABC',
  'line "q"',
  'line \\"q\\"',
]
let repo: GitRepo

beforeAll(() => {
  process.env.DOCKER_CONFIG = testEnv().dockerConfigDir
  repo = ws.repo('echo')
  repo
    .stacks([ECHO])
    .nfsYaml()
    // The docker CLI casts `replicas` after interpolation and quotes the value in its error.
    .stack(ECHO, {extra: {environment: {DB_PASSWORD: '${DB_PASSWORD}'}, deploy: {replicas: '${DB_PASSWORD}'}}})
    .write(`${ECHO}/secrets.yaml`, '- id: echo-db\n  env: DB_PASSWORD\n')
    .secret('echo-db', SECRET)
    .commit('a secret docker echoes')
})

afterAll(async () => {
  await ws.close()
  await removeStacks([ECHO])
  ws.cleanup()
}, 180_000)

function expectNoLeak(where: string, text: string): void {
  for (const leak of LEAKS)
    expect(text.includes(leak), `${where} shows the secret as ${JSON.stringify(leak)}`).toBe(false)
}

describe('a secret docker echoes in quoted form', () => {
  it('is masked in the failed stack of the report and in the log', async () => {
    const report = await watch(await ws.swarm(), {url: repo.dir})
    const stack = report.reconcile.stacks.find((s) => s.stack === ECHO)
    expect(stack?.outcome).toBe('failed')
    // The docker CLI's message survives, with the value masked.
    expect(stack?.error).toContain('parsing "***"')
    expectNoLeak('the report', JSON.stringify(report))
    expectNoLeak('the log', ws.logs.join('\n'))
  }, 180_000)

  it('is masked in the state database file (swarm_stacks.last_error), byte for byte', async () => {
    await ws.close()
    const bytes = Buffer.concat(
      ['', '-wal']
        .map((suffix) => ws.statePath + suffix)
        .filter(existsSync)
        .map((path) => readFileSync(path)),
    )
    expect(bytes.includes(Buffer.from('parsing "***"'))).toBe(true)
    for (const leak of LEAKS) expect(bytes.includes(Buffer.from(leak)), JSON.stringify(leak)).toBe(false)
  })

  it('is masked in `homeops swarm status --json`', async () => {
    const result = await runCli(['swarm', 'status', '--json'], {
      env: {HOMEOPS_DB_PATH: ws.statePath, DOCKER_HOST: testEnv().dockerHost},
    })
    expect(result.code, result.stderr).toBe(0)
    const status = JSON.parse(result.stdout) as {stacks: {name: string; lastError: string | null}[]}
    expect(status.stacks.find((s) => s.name === ECHO)?.lastError).toContain('parsing "***"')
    expectNoLeak('swarm status --json', result.stdout + result.stderr)
  })
})
