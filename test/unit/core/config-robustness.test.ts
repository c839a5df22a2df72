import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, afterEach, describe, expect, it} from 'vitest'

import {envNamesFor} from '../../../src/lib/config/env.js'
import {loadConfig} from '../../../src/lib/config/load.js'
import {configSchema} from '../../../src/lib/config/root-schema.js'
import type {Field, ObjectField, Path, Shape} from '../../../src/lib/config/schema.js'
import {HomeopsError} from '../../../src/lib/errors.js'
import {clearSecrets} from '../../../src/lib/log/redact.js'

const dir = mkdtempSync(join(tmpdir(), 'homeops-config-robust-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))
afterEach(() => clearSecrets())

function file(name: string, text: string | Buffer): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

function problem(fn: () => unknown): HomeopsError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(HomeopsError)
    return error as HomeopsError
  }
  throw new Error('expected an error')
}

const noEnv = {XDG_CONFIG_HOME: join(dir, 'none')}

describe('config files and secrets from outside', () => {
  const fifo = join(dir, 'fifo')
  execFileSync('mkfifo', [fifo])

  it.each([
    ['a FIFO', fifo, 'is a named pipe (FIFO), expected a regular file'],
    ['/dev/zero', '/dev/zero', 'is a character device, expected a regular file'],
    ['a directory', dir, 'is a directory, expected a YAML file'],
    ['a 5 MiB file', 'big', 'is larger than the 4 MiB limit (5 MiB)'],
  ])('refuses %s as --config at once, naming it (exit 2)', (_what, given, message) => {
    const path = given === 'big' ? file('big.yaml', Buffer.alloc(5 * 1024 * 1024, 'a')) : given
    const error = problem(() => loadConfig({path, env: noEnv}))
    expect(error.exitCode).toBe(2)
    expect(error.message).toContain(path)
    expect(error.message).toContain(message)
  })

  it.each([
    ['a FIFO', fifo, 'is a named pipe (FIFO)'],
    ['/dev/zero', '/dev/zero', 'is a character device'],
    ['a 300 KiB password', 'big', 'is larger than the 64 KiB limit (300 KiB)'],
  ])('refuses %s as a secret file, from *_FILE, a …File key and $CREDENTIALS_DIRECTORY', (_what, given, message) => {
    const path = given === 'big' ? file('big-secret', Buffer.alloc(300 * 1024, 'p')) : given
    const viaEnv = problem(() =>
      loadConfig({path: file('empty.yaml', ''), env: {...noEnv, INFOMANIAK_DDNS_PASSWORD_FILE: path}}),
    )
    expect(viaEnv.message).toContain(
      `environment variable INFOMANIAK_DDNS_PASSWORD_FILE: ddns.password: cannot read ${path}: ${message}`,
    )
    const config = file('keyfile.yaml', `serve:\n  apiKeyFile: ${path}\n`)
    const viaKey = problem(() => loadConfig({path: config, env: noEnv}))
    expect(viaKey.message).toContain(`${config}:2:15: serve.apiKeyFile: cannot read ${path}: ${message}`)
  })

  it('refuses a FIFO in $CREDENTIALS_DIRECTORY, naming it', () => {
    const creds = mkdtempSync(join(dir, 'creds-'))
    execFileSync('mkfifo', [join(creds, 'INFOMANIAK_DDNS_PASSWORD')])
    const error = problem(() =>
      loadConfig({path: file('empty.yaml', ''), env: {...noEnv, CREDENTIALS_DIRECTORY: creds}}),
    )
    expect(error.message).toContain(`$CREDENTIALS_DIRECTORY/INFOMANIAK_DDNS_PASSWORD: ddns.password: cannot read`)
    expect(error.message).toContain('is a named pipe (FIFO)')
  })

  it('reports a repeated key with its position, and a billion-laughs file by name (exit 2)', () => {
    const dup = file('dup.yaml', 'ddns:\n  ipv6: true\n  ipv6: false\n')
    expect(problem(() => loadConfig({path: dup, env: noEnv})).message).toContain(
      `${dup}:3:3: duplicate key "ipv6" in the same mapping`,
    )
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for (const [i, name] of ['b', 'c', 'd', 'e', 'f'].entries()) {
      const previous = 'abcdef'[i]!
      levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]`)
    }
    const laughs = file('laughs.yaml', levels.join('\n') + '\n')
    const error = problem(() => loadConfig({path: laughs, env: noEnv}))
    expect(error.exitCode).toBe(2)
    expect(error.message).toBe(`${laughs}: too many alias expansions (a "billion laughs" file?)`)
  })

  it('loads a 1 MB config with 20 000 keys (the duplicate check is linear)', () => {
    const lines = ['dns:', '  records:']
    for (let i = 0; i < 20_000; i++)
      lines.push(`    host-${i}.home.lan: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)
    const path = file('large.yaml', lines.join('\n') + '\n')
    const {config} = loadConfig({path, env: noEnv})
    expect(Object.keys(config.dns.records)).toHaveLength(20_000)
  })
})

describe('values the modes would refuse are refused at load, with the place and the expected form', () => {
  it.each([
    [{DNS_UPSTREAMS: 'garbage'}, 'environment variable DNS_UPSTREAMS: dns.upstreams[0]: expected a resolver address'],
    [{DNS_UPSTREAMS: '1.1.1.1:0'}, 'port 0 is not 1-65535'],
    [{DNS_BIND_ADDRESS: 'nope'}, 'environment variable DNS_BIND_ADDRESS: dns.bind: expected an IP address'],
    [{HOSTIP: 'not-an-ip'}, 'environment variable HOSTIP: dns.hostIp: expected IP addresses'],
    [{HOSTIP: '999.1.1.1'}, '("999.1.1.1" is not one)'],
    [{DNS_ZONES: '..'}, 'environment variable DNS_ZONES: dns.zones[0]: expected a host name'],
    [{DNS_PORT: '99999'}, 'dns.port: must be at most 65535, got 99999'],
    [{HOMEOPS_SERVE_LISTEN: '127.0.0.1:99999'}, 'serve.listen: expected HOST:PORT'],
    [{HOMEOPS_MONITOR_LISTEN: 'bad host:80'}, 'is neither an IP address nor a host name'],
    [{DDNS_INTERVAL_SECONDS: '2147484'}, 'ddns.intervalSeconds: must be at most 604800 seconds (7 days), got 2147484'],
    [{HOMEOPS_SWARM_RECONCILE_INTERVAL_SECONDS: '3000000'}, 'must be at most 604800 seconds (7 days), got 3000000'],
    [{HOMEOPS_IMAGES_INTERVAL_SECONDS: '1e12'}, 'images.intervalSeconds: must be at most 2592000 seconds (30 days)'],
    [{HOMEOPS_MONITOR_REGISTRY_CACHE_MINUTES: '99999999'}, 'monitor.registryCacheMinutes: must be at most 10080'],
    [
      {HOMEOPS_IMAGES_PUBLIC_URL: 'homeops.lan:8082'},
      'images.publicUrl: expected an http:// or https:// URL, got "homeops.lan:8082"',
    ],
    [
      {OPEN_AI_URL: 'not a url'},
      'environment variable OPEN_AI_URL: images.openai.url: expected an http:// or https:// URL',
    ],
  ])('%o', (env, message) => {
    const error = problem(() => loadConfig({path: file('empty.yaml', ''), env: {...noEnv, ...env}}))
    expect(error.exitCode).toBe(2)
    expect(error.message).toContain(message)
  })

  it.each([
    ['"10.0.0.1,other"', 'a.lan', '"other" is not an IP address (a CNAME target must be alone)'],
    ['""', 'a.lan', 'no address or target name'],
    ['10.0.0.2', '"bad name!"', 'the name "bad name!" is not valid'],
    ['10.0.0.3', '"*"', 'the name "*" is not valid'],
    ['300.1.1.1', 'a.lan', '"300.1.1.1" is not a valid IP address'],
  ])('dns.records %s: %s', (value, name, message) => {
    const path = file('records.yaml', `dns:\n  records:\n    ${name}: ${value}\n`)
    const error = problem(() => loadConfig({path, env: noEnv}))
    expect(error.message).toMatch(new RegExp(`^${path}:3:\\d+: dns\\.records\\.`))
    expect(error.message).toContain(message)
  })

  it('finds CNAME loops, long and short, and accepts a chain that ends at an address', () => {
    const path = file(
      'loop.yaml',
      'dns:\n  records:\n    a.lan: b.lan\n    b.lan: c.lan\n    c.lan: a.lan\n    d.lan: d.lan\n',
    )
    const lines = problem(() => loadConfig({path, env: noEnv})).message.split('\n')
    expect(lines).toContain(
      `${path}:3:12: dns.records."a.lan": CNAME loop: a.lan → b.lan → c.lan → a.lan (value "b.lan"); a CNAME must end at a name with addresses`,
    )
    expect(lines.filter((l) => l.includes('CNAME loop'))).toHaveLength(2)
    const fine = file(
      'chain.yaml',
      'dns:\n  records:\n    a.lan: b.lan\n    b.lan: 10.0.0.1,fd00::1\n    "*.c.lan": 10.0.0.2\n',
    )
    expect(loadConfig({path: fine, env: noEnv}).config.dns.records).toEqual({
      'a.lan': 'b.lan',
      'b.lan': '10.0.0.1,fd00::1',
      '*.c.lan': '10.0.0.2',
    })
  })

  it('accepts the forms the modes accept', () => {
    const {config} = loadConfig({
      path: file('empty.yaml', ''),
      env: {
        ...noEnv,
        DNS_UPSTREAMS: '1.1.1.1, 9.9.9.9:53, [2606:4700::1111]:53, ::1',
        DNS_BIND_ADDRESS: '::',
        HOSTIP: '192.168.1.10,fd00::10',
        DNS_ZONES: 'home.lan., example.org',
        HOMEOPS_SERVE_LISTEN: 'localhost:8080',
        HOMEOPS_MONITOR_LISTEN: '[::1]:5000',
        HOMEOPS_IMAGES_LISTEN: '8082',
      },
    })
    expect(config.dns.upstreams).toHaveLength(4)
    expect(config.serve.listen).toBe('localhost:8080')
  })
})

// ---- property test -----------------------------------------------------------

/** A small seeded generator (mulberry32): reproducible runs, no dependency. */
function generator(seed: number) {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!
  const ALPHABET = 'abcXYZ019 .:,-_*/[]{}#&!|>%@`"\'\\\t\né€\u0000'
  const text = (max: number) => Array.from({length: int(max)}, () => ALPHABET[int(ALPHABET.length)]).join('')
  const scalar = (): string =>
    pick([
      () => text(12),
      () => String(int(2 ** 31) * (next() < 0.5 ? -1 : 1)),
      () => pick(['1e400', '-0', 'NaN', 'Infinity', '0x1F', '2147484', '99999', '', ' ', '~', 'null', 'true']),
      () => pick(['127.0.0.1:99999', '[::1]:53', '999.1.1.1', '..', '*', '10.0.0.1,other', 'a.lan', '::']),
      () => 'x'.repeat(int(5000)),
    ])()
  return {next, int, pick, text, scalar}
}

function schemaPaths(field: Field<unknown>, path: Path = []): {path: Path; field: Field<unknown>}[] {
  if (field.kind !== 'object') return [{path, field}]
  return Object.entries((field as ObjectField<Shape>).shape).flatMap(([key, child]) =>
    schemaPaths(child, [...path, key]),
  )
}

describe('property: generated YAML and environment values never escape as exceptions', () => {
  const leaves = schemaPaths(configSchema)
  const envNames = leaves.flatMap(({path, field}) => envNamesFor(path, field))

  function yamlValue(g: ReturnType<typeof generator>, depth: number): string {
    const roll = g.int(depth > 2 ? 2 : 5)
    if (roll === 0) return JSON.stringify(g.scalar())
    if (roll === 1) return g.scalar().replace(/[\n\r]/g, ' ')
    if (roll === 2) return `[${Array.from({length: g.int(4)}, () => yamlValue(g, depth + 1)).join(', ')}]`
    if (roll === 3)
      return `{${Array.from({length: g.int(4)}, () => `${JSON.stringify(g.text(6))}: ${yamlValue(g, depth + 1)}`).join(', ')}}`
    return `&x${depth} ${JSON.stringify(g.scalar())}`
  }

  it('300 random documents and environments: a config or a HomeopsError, each within a second, memory bounded', () => {
    const g = generator(19)
    const heapBefore = process.memoryUsage().heapUsed
    let slowest = 0
    for (let round = 0; round < 300; round++) {
      const lines: string[] = []
      for (let i = 0; i < 1 + g.int(6); i++) {
        const {path} = g.pick(leaves)
        const keys = g.next() < 0.1 ? [...path.slice(0, -1), g.text(8) || 'k'] : path
        lines.push(
          keys.map((k, depth) => `${'  '.repeat(depth)}${JSON.stringify(String(k))}:`).join('\n') +
            ` ${yamlValue(g, 0)}`,
        )
      }
      if (g.next() < 0.1) lines.push(g.text(40))
      const env: NodeJS.ProcessEnv = {...noEnv}
      for (let i = 0; i < g.int(5); i++) env[g.pick(envNames)] = g.scalar()
      const path = file('generated.yaml', lines.join('\n') + '\n')
      const started = performance.now()
      try {
        loadConfig({path, env})
      } catch (error) {
        if (!(error instanceof HomeopsError)) throw new Error(`round ${round}: ${String(error)}\n${lines.join('\n')}`)
        expect(error.exitCode).toBe(2)
        expect(error.message.length).toBeLessThan(100_000)
      }
      slowest = Math.max(slowest, performance.now() - started)
    }
    expect(slowest).toBeLessThan(1000)
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(256 * 1024 * 1024)
  })
})
