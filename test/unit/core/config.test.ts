import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, afterEach, describe, expect, it} from 'vitest'

import {ConfigError, loadConfig, maskSecrets} from '../../../src/lib/config/load.js'
import {autoEnvName} from '../../../src/lib/config/env.js'
import {closest} from '../../../src/lib/config/schema.js'
import {UserError} from '../../../src/lib/errors.js'
import {clearSecrets, redact} from '../../../src/lib/log/redact.js'

const dir = mkdtempSync(join(tmpdir(), 'homeops-config-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))
function file(name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).exitCode).toBe(2)
    return (error as ConfigError).message.split('\n')
  }
  throw new Error('expected a ConfigError')
}

afterEach(() => clearSecrets())

describe('config loading', () => {
  it('uses defaults when no file exists at the default location', () => {
    const {config, file: loaded} = loadConfig({env: {XDG_CONFIG_HOME: join(dir, 'nothing')}, isRoot: false})
    expect(loaded).toBeUndefined()
    expect(config.ddns.intervalSeconds).toBe(300)
    expect(config.swarm.pullPolicy).toBe('ifnotpresent')
    expect(config.serve.listen).toBe('127.0.0.1:8080')
  })

  it('finds the file under $XDG_CONFIG_HOME for a normal user', () => {
    mkdirSync(join(dir, 'xdg', 'homeops'), {recursive: true})
    writeFileSync(join(dir, 'xdg', 'homeops', 'config.yaml'), 'ddns:\n  intervalSeconds: 60\n')
    const {config, file: loaded} = loadConfig({env: {XDG_CONFIG_HOME: join(dir, 'xdg')}, isRoot: false})
    expect(loaded).toBe(join(dir, 'xdg', 'homeops', 'config.yaml'))
    expect(config.ddns.intervalSeconds).toBe(60)
  })

  it('prefers --config over $HOMEOPS_CONFIG', () => {
    const a = file('a.yaml', 'dns:\n  ttl: 10\n')
    const b = file('b.yaml', 'dns:\n  ttl: 20\n')
    expect(loadConfig({path: a, env: {HOMEOPS_CONFIG: b}}).config.dns.ttl).toBe(10)
    expect(loadConfig({env: {HOMEOPS_CONFIG: b}}).config.dns.ttl).toBe(20)
  })

  it('says a named config file does not exist', () => {
    expect(() => loadConfig({path: join(dir, 'missing.yaml'), env: {}})).toThrow(
      /config file .*missing.yaml does not exist/,
    )
  })

  it('reports an unknown key with file:line:column and a did-you-mean hint', () => {
    const path = file('unknown.yaml', 'ddns:\n  intervall: 30\n')
    expect(problemsOf(() => loadConfig({path, env: {}}))).toEqual([
      `${path}:2:3: ddns.intervall: unknown key "intervall" (did you mean "intervalSeconds"?)`,
    ])
  })

  it('reports a wrong type with its position and the expected form', () => {
    const path = file('type.yaml', 'monitor:\n  api: maybe\ndns:\n  port: "fifty"\n')
    expect(problemsOf(() => loadConfig({path, env: {}}))).toEqual([
      `${path}:2:8: monitor.api: expected true or false, got "maybe"`,
      `${path}:4:9: dns.port: expected a number, got "fifty"`,
    ])
  })

  it('reports malformed YAML with line and column', () => {
    const path = file('broken.yaml', 'ddns:\n  records: [\n  x: 1\n')
    const [problem] = problemsOf(() => loadConfig({path, env: {}}))
    expect(problem).toMatch(new RegExp(`^${path}:\\d+:\\d+: malformed YAML: `))
  })

  it('refuses a top level that is not a mapping', () => {
    const path = file('list.yaml', '- a\n- b\n')
    expect(problemsOf(() => loadConfig({path, env: {}}))).toEqual([
      `${path}: expected a mapping of settings at the top level`,
    ])
  })

  it('applies legacy and automatic environment overrides over the file', () => {
    const path = file('env.yaml', 'ddns:\n  intervalSeconds: 60\nswarm:\n  pullPolicy: always\n')
    const {config, sources} = loadConfig({
      path,
      env: {
        DDNS_INTERVAL_SECONDS: '90',
        DOCKEROPS_IMAGE_PULL_POLICY: 'ifnotpresent',
        HOMEOPS_DNS_TTL: '5',
        ALLOWED_IPS: '10.0.0.0/8, ::1',
      },
    })
    expect(config.ddns.intervalSeconds).toBe(90)
    expect(config.swarm.pullPolicy).toBe('ifnotpresent')
    expect(config.dns.ttl).toBe(5)
    expect(config.monitor.allowedIps).toEqual(['10.0.0.0/8', '::1'])
    expect(sources.get('ddns.intervalSeconds')).toEqual({kind: 'env', name: 'DDNS_INTERVAL_SECONDS'})
  })

  it('names the environment variable when its value is invalid', () => {
    expect(problemsOf(() => loadConfig({path: file('empty.yaml', ''), env: {DDNS_INTERVAL_SECONDS: '5'}}))).toEqual([
      'environment variable DDNS_INTERVAL_SECONDS: ddns.intervalSeconds: must be at least 15, got 5',
    ])
  })

  it('accepts DOCKEROPS_DB_PATH as an alias of HOMEOPS_DB_PATH, the latter winning', () => {
    const path = file('empty2.yaml', '')
    expect(loadConfig({path, env: {DOCKEROPS_DB_PATH: '/x/a.db'}}).config.state.path).toBe('/x/a.db')
    expect(loadConfig({path, env: {DOCKEROPS_DB_PATH: '/x/a.db', HOMEOPS_DB_PATH: '/x/b.db'}}).config.state.path).toBe(
      '/x/b.db',
    )
  })
})

describe('secrets', () => {
  it('reads *_FILE, strips one newline, and redacts the value from logs', () => {
    const secret = file('password', 'hunter2-secret\n')
    const {config} = loadConfig({path: file('s.yaml', ''), env: {INFOMANIAK_DDNS_PASSWORD_FILE: secret}})
    expect(config.ddns.password).toBe('hunter2-secret')
    expect(redact('sent hunter2-secret to the provider')).toBe('sent *** to the provider')
  })

  it('reads $CREDENTIALS_DIRECTORY/<NAME> (systemd LoadCredential)', () => {
    mkdirSync(join(dir, 'creds'), {recursive: true})
    writeFileSync(join(dir, 'creds', 'API_KEY'), 'from-credentials')
    const {config} = loadConfig({path: file('c.yaml', ''), env: {CREDENTIALS_DIRECTORY: join(dir, 'creds')}})
    expect(config.monitor.apiKey).toBe('from-credentials')
  })

  it('reads a `…File` key in the YAML, also inside lists', () => {
    const secret = file('record-password', 'rec-pass-1')
    const path = file('f.yaml', `ddns:\n  records:\n    - hostname: a.example.com\n      passwordFile: ${secret}\n`)
    expect(loadConfig({path, env: {}}).config.ddns.records[0]?.password).toBe('rec-pass-1')
  })

  it('says which *_FILE cannot be read', () => {
    expect(problemsOf(() => loadConfig({path: file('e.yaml', ''), env: {API_KEY_FILE: join(dir, 'nope')}}))).toEqual([
      `environment variable API_KEY_FILE: monitor.apiKey: cannot read ${join(dir, 'nope')}: no such file`,
    ])
  })

  it('masks every secret in `config show`, in lists too', () => {
    const path = file(
      'm.yaml',
      'ddns:\n  records:\n    - hostname: a.example.com\n      password: pw-in-list\nmonitor:\n  apiKey: key-value-0123456789\n',
    )
    const masked = maskSecrets(loadConfig({path, env: {}}).config)
    expect(masked.ddns.records[0]?.password).toBe('********')
    expect(masked.monitor.apiKey).toBe('********')
    expect(JSON.stringify(masked)).not.toMatch(/pw-in-list|key-value/)
  })
})

describe('helpers', () => {
  it('derives HOMEOPS_ variable names from the key path', () => {
    expect(autoEnvName(['ddns', 'intervalSeconds'])).toBe('HOMEOPS_DDNS_INTERVAL_SECONDS')
    expect(autoEnvName(['state', 'path'])).toBe('HOMEOPS_STATE_PATH')
  })

  it('suggests the closest key only when it is close', () => {
    expect(closest('pulPolicy', ['pullPolicy', 'enabled'])).toBe('pullPolicy')
    expect(closest('zzz', ['pullPolicy', 'enabled'])).toBeUndefined()
  })

  it('config errors are user errors (exit 2)', () => {
    expect(new ConfigError([{where: 'x', path: 'a', message: 'b'}])).toBeInstanceOf(UserError)
  })
})
