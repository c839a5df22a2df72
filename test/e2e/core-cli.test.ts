import {chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {runCli} from '../support/cli.js'
import {testEnv} from '../support/testenv.js'

const NOBODY = 65534
const dir = mkdtempSync(join(tmpdir(), 'homeops-e2e-core-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))
chmodSync(dir, 0o755)
const stateEnv = (name: string) => ({HOMEOPS_DB_PATH: join(dir, name, 'homeops.db'), XDG_CONFIG_HOME: join(dir, 'xdg')})

function file(name: string, text: string, mode = 0o644): string {
  const path = join(dir, name)
  writeFileSync(path, text, {mode})
  chmodSync(path, mode)
  return path
}

describe('homeops CLI basics', () => {
  it('prints its version', async () => {
    const {code, stdout} = await runCli(['--version'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/^homeops\/\d+\.\d+\.\d+ linux-x64 node-v20/)
  })

  it('prints only JSON on stdout with --json', async () => {
    const {code, stdout} = await runCli(['version', '--json'])
    expect(code).toBe(0)
    expect(Object.keys(JSON.parse(stdout))).toEqual(['version', 'node', 'platform', 'arch'])
  })

  it('exits 2 with file:line:column and a hint for an unknown config key, nothing on stdout', async () => {
    const config = file('unknown.yaml', 'swarm:\n  pullPolicyy: always\n')
    const {code, stdout, stderr} = await runCli(['config', 'validate', '--config', config], {env: stateEnv('a')})
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toContain(`${config}:2:3: swarm.pullPolicyy: unknown key "pullPolicyy" (did you mean "pullPolicy"?)`)
    expect(stderr).not.toMatch(/at .*\.js:\d+/) // no stack trace without --debug
  })

  it('exits 2 for a wrong type and malformed YAML', async () => {
    const wrong = file('wrong.yaml', 'ddns:\n  maxRetries: lots\n')
    const bad = await runCli(['config', 'validate', '-c', wrong], {env: stateEnv('b')})
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain(`${wrong}:2:15: ddns.maxRetries: expected a number, got "lots"`)
    const broken = file('broken.yaml', 'ddns: {records: [\n')
    const res = await runCli(['config', 'validate', '-c', broken], {env: stateEnv('b')})
    expect(res.code).toBe(2)
    expect(res.stderr).toMatch(new RegExp(`${broken}:\\d+:\\d+: malformed YAML`))
  })

  it('reports the error as JSON on stdout under --json, keeping the exit code', async () => {
    const {code, stdout} = await runCli(['config', 'validate', '--json'], {
      env: {...stateEnv('c'), DDNS_INTERVAL_SECONDS: 'often'},
    })
    expect(code).toBe(2)
    expect(JSON.parse(stdout)).toEqual({
      error: {
        message: 'environment variable DDNS_INTERVAL_SECONDS: ddns.intervalSeconds: expected a number, got "often"',
        exitCode: 2,
        hint: expect.any(String),
      },
    })
  })

  it('exits 2 naming an unreadable *_FILE (run as an unprivileged user)', async () => {
    const secret = file('root-only-secret', 'x', 0o600)
    const {code, stderr} = await runCli(['config', 'validate'], {
      env: {...stateEnv('d'), INFOMANIAK_DDNS_PASSWORD_FILE: secret, HOME: dir},
      uid: NOBODY,
      gid: NOBODY,
    })
    expect(stderr).toContain(
      `environment variable INFOMANIAK_DDNS_PASSWORD_FILE: ddns.password: cannot read ${secret}: permission denied`,
    )
    expect(code).toBe(2)
  })

  it('never shows a secret in `config show`', async () => {
    const {code, stdout} = await runCli(['config', 'show', '--json'], {
      env: {...stateEnv('e'), API_KEY: 'very-secret-key-1'},
    })
    expect(code).toBe(0)
    expect(stdout).not.toContain('very-secret-key-1')
    expect(JSON.parse(stdout).config.monitor.apiKey).toBe('********')
  })

  it('usage errors exit 2', async () => {
    const {code, stderr} = await runCli(['doctor', '--no-such-flag'])
    expect(code).toBe(2)
    expect(stderr).toMatch(/Nonexistent flag: --no-such-flag/)
  })
})

describe('homeops doctor', () => {
  it('shows every check passing against the test daemon', async () => {
    const env = testEnv()
    const {code, stdout} = await runCli(['doctor', '--json'], {
      env: {...stateEnv('f'), DOCKER_HOST: env.dockerHost, DNS_PORT: '25353'},
    })
    const report = JSON.parse(stdout) as {ok: boolean; checks: {id: string; ok: boolean; detail: string}[]}
    expect(report.checks.map((c) => c.id)).toEqual([
      'config',
      'state',
      'docker',
      'swarm',
      'docker-cli',
      'git',
      'dns-port',
      'dns-native',
      'api-key',
    ])
    for (const check of report.checks) expect(check, check.id).toMatchObject({ok: true})
    expect(report.checks.find((c) => c.id === 'swarm')?.detail).toBe('this node is a swarm manager')
    expect(code).toBe(0)
  })

  it('exits 1 and names the socket when Docker is unreachable and a mode needs it', async () => {
    const config = file('monitor-on.yaml', 'monitor:\n  enabled: true\n')
    const {code, stdout} = await runCli(['doctor', '--config', config], {
      env: {...stateEnv('g'), DOCKER_HOST: `unix://${dir}/nowhere.sock`},
    })
    expect(code).toBe(1)
    expect(stdout).toContain(
      `✖ Docker          cannot reach the Docker daemon at unix://${dir}/nowhere.sock: no socket there (needed by monitor)`,
    )
  })

  it('reports an unwritable state directory (run as an unprivileged user)', async () => {
    mkdirSync(join(dir, 'root-owned'), {mode: 0o755})
    const {code, stdout} = await runCli(['doctor', '--json'], {
      env: {HOMEOPS_DB_PATH: join(dir, 'root-owned', 'homeops.db'), HOME: dir, XDG_CONFIG_HOME: join(dir, 'xdg')},
      uid: NOBODY,
      gid: NOBODY,
    })
    const state = (JSON.parse(stdout) as {checks: {id: string; ok: boolean; detail: string}[]}).checks.find(
      (c) => c.id === 'state',
    )
    expect(state).toMatchObject({
      ok: false,
      detail: `the state database directory ${join(dir, 'root-owned')} is not writable`,
    })
    expect(code).toBe(1)
  })
})
