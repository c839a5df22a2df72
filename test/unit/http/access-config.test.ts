import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {ConfigError, loadConfig} from '../../../src/lib/config/load.js'

const dir = mkdtempSync(join(tmpdir(), 'homeops-access-config-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

function problems(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  const path = join(dir, 'config.yaml')
  writeFileSync(path, yaml)
  try {
    loadConfig({path, env})
  } catch (error) {
    if (error instanceof ConfigError)
      return error.problems.map((p) => `${p.where.replace(dir, '<dir>')}: ${p.path}: ${p.message}`)
    throw error
  }
  return []
}

describe('config validation of allow-lists, keys and host names', () => {
  it('refuses a bad CIDR in serve.allowedIps with file:line and the key', () => {
    expect(problems('serve:\n  allowedIps:\n    - 10.0.0.0/8\n    - 10.0.0.0/-0\n')).toEqual([
      expect.stringMatching(
        /^<dir>\/config\.yaml:4:\d+: serve\.allowedIps\[1\]: "10\.0\.0\.0\/-0" is not an address or CIDR range/,
      ),
    ])
  })

  it('refuses a bad CIDR in monitor.allowedIps and in ALLOWED_IPS, naming the variable', () => {
    expect(problems('monitor:\n  allowedIps: ["192.168.1.0/24/99"]\n')[0]).toMatch(
      /config\.yaml:2:\d+: monitor\.allowedIps\[0\]/,
    )
    expect(problems('{}\n', {ALLOWED_IPS: '127.0.0.1/32, 10.0.0.0/'})[0]).toMatch(
      /environment variable ALLOWED_IPS: monitor\.allowedIps\[1\]: "10\.0\.0\.0\/" .*missing/,
    )
  })

  it('refuses API keys under 16 characters from the file and the environment, without echoing them', () => {
    const fromFile = problems('serve:\n  apiKey: short-key\n')
    expect(fromFile[0]).toMatch(/config\.yaml:2:\d+: serve\.apiKey: an API key must be at least 16 characters/)
    expect(fromFile.join('\n')).not.toContain('short-key')
    expect(problems('{}\n', {API_KEY: 'a'})[0]).toMatch(/environment variable API_KEY: monitor\.apiKey: .*at least 16/)
    expect(problems('{}\n', {HOMEOPS_API_KEY: 'with spaces in this key'})[0]).toMatch(/must not contain spaces/)
    expect(problems('serve:\n  apiKey: 0123456789abcdef\n')).toEqual([])
  })

  it('takes serve.allowedHosts from the file and HOMEOPS_SERVE_ALLOWED_HOSTS, and refuses what is not a name', () => {
    const path = join(dir, 'hosts.yaml')
    writeFileSync(path, 'serve:\n  allowedHosts: [Homelab.Example, "*.home.arpa", "proxy.example:8443"]\n')
    expect(loadConfig({path, env: {}}).config.serve.allowedHosts).toEqual([
      'homelab.example',
      '*.home.arpa',
      'proxy.example:8443',
    ])
    expect(
      loadConfig({path, env: {HOMEOPS_SERVE_ALLOWED_HOSTS: 'a.example,b.example'}}).config.serve.allowedHosts,
    ).toEqual(['a.example', 'b.example'])
    expect(loadConfig({path, env: {ALLOWED_HOSTS: 'c.example'}}).config.serve.allowedHosts).toEqual(['c.example'])
    expect(problems('serve:\n  allowedHosts: ["http://x.example/"]\n')[0]).toMatch(
      /serve\.allowedHosts\[0\]: .*is not a host name/,
    )
  })
})
