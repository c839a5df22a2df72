import {execFileSync, spawn} from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import Database from 'better-sqlite3'
import {afterAll, describe, expect, it} from 'vitest'

import {cliPath, runCli} from '../support/cli.js'

/**
 * Issue 19 against the built CLI: hostile and unlucky files, paths, numbers
 * and databases each give a clear error at once (exit code, the file/key/value
 * named), nothing written, and nothing hangs (every run is killed after
 * BOUND_MS, which would fail the exit-code assertion).
 */
const BOUND_MS = 30_000
const dir = mkdtempSync(join(tmpdir(), 'homeops-e2e-robust-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

let n = 0
function fresh(): {stateDir: string; env: Record<string, string>} {
  n++
  const stateDir = join(dir, `state-${n}`)
  return {stateDir, env: {HOMEOPS_DB_PATH: join(stateDir, 'homeops.db'), XDG_CONFIG_HOME: join(dir, 'no-config')}}
}

function file(name: string, text: string | Buffer): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

const fifo = join(dir, 'fifo')
execFileSync('mkfifo', [fifo])
const creds = join(dir, 'creds')
mkdirSync(creds)
execFileSync('mkfifo', [join(creds, 'INFOMANIAK_DDNS_PASSWORD')])

const laughs = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
for (const [i, name] of ['b', 'c', 'd', 'e', 'f', 'g'].entries())
  laughs.push(`${name}: &${name} [${Array(9).fill(`*${'abcdefg'[i]}`).join(',')}]`)

interface Case {
  name: string
  args?: string[]
  env?: Record<string, string>
  /** Written to a config file passed with --config. */
  config?: string
  /** Substrings of stderr; `$CONFIG` is the config file's path. */
  expected: string[]
}

const configCases: Case[] = [
  {name: '--config is a FIFO', args: ['--config', fifo], expected: [`config file ${fifo}: is a named pipe (FIFO)`]},
  {name: '--config is /dev/zero', args: ['--config', '/dev/zero'], expected: ['/dev/zero: is a character device']},
  {name: '--config is a directory', args: ['--config', dir], expected: [`config path ${dir} is a directory`]},
  {
    name: 'a 5 MiB config',
    args: ['--config', file('huge.yaml', Buffer.alloc(5 * 1024 * 1024, '#'))],
    expected: ['is larger than the 4 MiB limit (5 MiB)'],
  },
  {
    name: 'a billion-laughs config',
    config: laughs.join('\n') + '\n',
    expected: ['$CONFIG: too many alias expansions (a "billion laughs" file?)'],
  },
  {
    name: 'a repeated key',
    config: 'ddns:\n  ipv6: true\n  ipv6: false\n',
    expected: ['$CONFIG:3:3: duplicate key "ipv6"'],
  },
  {
    name: '*_FILE is a FIFO',
    env: {INFOMANIAK_DDNS_PASSWORD_FILE: fifo},
    expected: [
      `environment variable INFOMANIAK_DDNS_PASSWORD_FILE: ddns.password: cannot read ${fifo}: is a named pipe`,
    ],
  },
  {
    name: '*_FILE is /dev/zero',
    env: {API_KEY_FILE: '/dev/zero'},
    expected: ['environment variable API_KEY_FILE: monitor.apiKey: cannot read /dev/zero: is a character device'],
  },
  {
    name: 'a 300 MB password file',
    env: {INFOMANIAK_DDNS_PASSWORD_FILE: 'BIG'},
    expected: ['is larger than the 64 KiB limit (300 MiB)'],
  },
  {
    name: 'a …File key naming /dev/zero',
    config: 'serve:\n  apiKeyFile: /dev/zero\n',
    expected: ['$CONFIG:2:15: serve.apiKeyFile: cannot read /dev/zero: is a character device'],
  },
  {
    name: 'a FIFO in $CREDENTIALS_DIRECTORY',
    env: {CREDENTIALS_DIRECTORY: creds},
    expected: ['$CREDENTIALS_DIRECTORY/INFOMANIAK_DDNS_PASSWORD: ddns.password: cannot read', 'is a named pipe'],
  },
  {
    name: 'DDNS_INTERVAL_SECONDS past 2^31 ms',
    env: {DDNS_INTERVAL_SECONDS: '2147484'},
    expected: [
      'environment variable DDNS_INTERVAL_SECONDS: ddns.intervalSeconds: must be at most 604800 seconds (7 days), got 2147484',
    ],
  },
  {
    name: 'swarm.reconcileIntervalSeconds past 2^31 ms',
    config: 'swarm:\n  reconcileIntervalSeconds: 3000000\n',
    expected: ['$CONFIG:2:29: swarm.reconcileIntervalSeconds: must be at most 604800 seconds (7 days), got 3000000'],
  },
  {
    name: 'DNS_UPSTREAMS=garbage',
    env: {DNS_UPSTREAMS: 'garbage'},
    expected: ['environment variable DNS_UPSTREAMS: dns.upstreams[0]: expected a resolver address IP or IP:PORT'],
  },
  {
    name: 'DNS_BIND_ADDRESS=nope',
    env: {DNS_BIND_ADDRESS: 'nope'},
    expected: ['environment variable DNS_BIND_ADDRESS: dns.bind: expected an IP address', 'got "nope"'],
  },
  {
    name: 'a listen port 99999',
    config: 'serve:\n  listen: 127.0.0.1:99999\n',
    expected: ['$CONFIG:2:11: serve.listen: expected HOST:PORT', 'port 99999 is not between 0 and 65535'],
  },
  {
    name: 'images.schedule not a cron expression',
    config: 'images:\n  schedule: every day\n',
    expected: ['images.schedule "every day" is not a cron expression'],
  },
  {name: 'HOSTIP=not-an-ip', env: {HOSTIP: 'not-an-ip'}, expected: ['environment variable HOSTIP: dns.hostIp:']},
  {name: 'HOSTIP=999.1.1.1', env: {HOSTIP: '999.1.1.1'}, expected: ['("999.1.1.1" is not one)']},
  {
    name: 'DNS_ZONES=..',
    env: {DNS_ZONES: '..'},
    expected: ['environment variable DNS_ZONES: dns.zones[0]: expected a host name'],
  },
  {
    name: 'dns.records "10.0.0.1,other"',
    config: 'dns:\n  records:\n    a.lan: "10.0.0.1,other"\n',
    expected: ['$CONFIG:3:12: dns.records."a.lan": "other" is not an IP address (a CNAME target must be alone)'],
  },
  {
    name: 'dns.records empty',
    config: 'dns:\n  records:\n    a.lan: ""\n',
    expected: ['dns.records."a.lan": no address or target name'],
  },
  {
    name: 'dns.records "bad name!"',
    config: 'dns:\n  records:\n    "bad name!": 10.0.0.1\n',
    expected: ['$CONFIG:3:5: dns.records."bad name!": the name "bad name!" is not valid'],
  },
  {name: 'dns.records "*"', config: 'dns:\n  records:\n    "*": 10.0.0.1\n', expected: ['the name "*" is not valid']},
  {
    name: 'dns.records CNAME loop',
    config: 'dns:\n  records:\n    a.lan: b.lan\n    b.lan: a.lan\n',
    expected: ['$CONFIG:3:12: dns.records."a.lan": CNAME loop: a.lan → b.lan → a.lan'],
  },
]

describe('config validate refuses what the modes would refuse (exit 2, named, nothing written)', () => {
  const big = join(dir, 'password-300mb')
  afterAll(() => rmSync(big, {force: true}))

  it.each(configCases)('$name', async (c) => {
    if (c.env?.INFOMANIAK_DDNS_PASSWORD_FILE === 'BIG') {
      writeFileSync(big, '')
      execFileSync('truncate', ['-s', '300M', big])
      c.env.INFOMANIAK_DDNS_PASSWORD_FILE = big
    }
    const {stateDir, env} = fresh()
    const config = c.config === undefined ? undefined : file(`case-${n}.yaml`, c.config)
    const args = ['config', 'validate', ...(c.args ?? []), ...(config ? ['--config', config] : [])]
    const result = await runCli(args, {env: {...env, ...c.env}, timeoutMs: BOUND_MS})
    expect(result.code, result.stderr).toBe(2)
    expect(result.stdout).toBe('')
    for (const text of c.expected) expect(result.stderr).toContain(text.replace('$CONFIG', config ?? ''))
    expect(result.stderr).not.toMatch(/\n\s+at .*\.js:\d+/)
    expect(existsSync(stateDir)).toBe(false)
  })

  it('loads a 1 MB config with 30 000 records (exit 0) long before the quadratic check would (30 s)', async () => {
    const lines = ['dns:', '  records:']
    for (let i = 0; i < 30_000; i++) lines.push(`    host-${i}.home.lan: 10.0.${(i >> 8) & 255}.${i & 255}`)
    const config = file('large.yaml', lines.join('\n') + '\n')
    expect(statSync(config).size).toBeGreaterThan(1_000_000)
    // A hang guard, not a benchmark (scripts/bench/config.mjs): the quadratic check took 29 s for 1 MB.
    const result = await runCli(['config', 'validate', '--config', config], {env: fresh().env, timeoutMs: 10_000})
    expect(result.code, result.stderr).toBe(0)
  })
})

describe('the state database: refused clearly, or repaired without losing anything', () => {
  it.each([
    ['/proc/homeops-x/db', 'the state database directory /proc/homeops-x cannot be created'],
    ['/dev/null', 'the state database /dev/null is a character device, expected a regular file'],
    ['/dev/full', 'the state database /dev/full is a character device, expected a regular file'],
  ])('HOMEOPS_DB_PATH=%s exits 2 at once', async (path, message) => {
    const result = await runCli(['ddns', 'history'], {
      env: {HOMEOPS_DB_PATH: path, XDG_CONFIG_HOME: join(dir, 'no-config')},
      timeoutMs: BOUND_MS,
    })
    expect(result.code, result.stderr).toBe(2)
    expect(result.stderr).toContain(message)
    expect(existsSync('/dev/full-journal')).toBe(false)
  })

  it('refuses a database written by a newer homeops, leaving it untouched', async () => {
    const {stateDir, env} = fresh()
    expect((await runCli(['ddns', 'history'], {env})).code).toBe(0)
    const db = env.HOMEOPS_DB_PATH!
    const sqlite = new Database(db)
    sqlite.prepare("INSERT INTO schema_migrations (area, version, description) VALUES ('ddns', 42, 'x')").run()
    sqlite.close()
    const before = readFileSync(db)
    const result = await runCli(['ddns', 'history'], {env, timeoutMs: BOUND_MS})
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(
      new RegExp(`this database \\(${db}\\) was written by a newer homeops \\(area ddns version 42 > \\d+\\)`),
    )
    expect(readFileSync(db)).toEqual(before)
    expect(readdirSync(stateDir).filter((f) => f.includes('corrupt'))).toEqual([])
  })

  it('moves a corrupt database aside with a loud warning and carries on with a fresh one', async () => {
    const {stateDir, env} = fresh()
    mkdirSync(stateDir)
    const garbage = Buffer.from('garbage, not SQLite '.repeat(500))
    writeFileSync(env.HOMEOPS_DB_PATH!, garbage)
    const result = await runCli(['ddns', 'history'], {env, timeoutMs: BOUND_MS})
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toMatch(
      /warn the state database was corrupt: moved it aside and started a fresh one path=\S+homeops\.db movedTo=\S+homeops\.db\.corrupt-\S+ error="file is not a database"/,
    )
    const aside = readdirSync(stateDir).filter((f) => f.startsWith('homeops.db.corrupt-'))
    expect(aside).toHaveLength(1)
    expect(readFileSync(join(stateDir, aside[0]!))).toEqual(garbage)
  })

  it('creates the database 0600 under umask 022', async () => {
    const {stateDir, env} = fresh()
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn('sh', ['-c', `umask 022 && exec "${process.execPath}" "${cliPath}" ddns history`], {
        env: {...process.env, ...env},
        stdio: 'ignore',
      })
      child.on('close', resolve)
    })
    expect(code).toBe(0)
    expect(statSync(stateDir).mode & 0o777).toBe(0o700)
    for (const name of readdirSync(stateDir)) expect(statSync(join(stateDir, name)).mode & 0o777, name).toBe(0o600)
  })
})

describe('locks: a stale lock never blocks, a live holder gives exit 5', () => {
  const ddnsEnv = (env: Record<string, string>) => ({
    ...env,
    INFOMANIAK_DDNS_HOSTNAME: 'home.example.org',
    INFOMANIAK_DDNS_USERNAME: 'user',
    INFOMANIAK_DDNS_PASSWORD: 'pass-word-1',
    DDNS_IP_SOURCES_V4: 'http://127.0.0.1:9/',
    DDNS_REQUEST_TIMEOUT: '2',
  })
  const bootedAt = Date.now() - Number.parseFloat(readFileSync('/proc/uptime', 'utf8')) * 1000

  /** A ddns.lock naming `holder`'s pid (or pid 1), written at `writtenAt` (default now), then `ddns update`. */
  async function withLock(options: {holder?: string[]; writtenAt?: number}) {
    const {stateDir, env} = fresh()
    mkdirSync(stateDir)
    const child = options.holder ? spawn(options.holder[0]!, options.holder.slice(1), {stdio: 'ignore'}) : undefined
    try {
      if (child) await new Promise((resolve) => child.once('spawn', resolve))
      const pid = child?.pid ?? 1
      const lock = join(stateDir, 'ddns.lock')
      writeFileSync(lock, `${pid}\n`)
      if (options.writtenAt) utimesSync(lock, options.writtenAt / 1000, options.writtenAt / 1000)
      const result = await runCli(['ddns', 'update'], {env: ddnsEnv(env), timeoutMs: BOUND_MS})
      return {result, lock, pid}
    } finally {
      child?.kill()
    }
  }

  it('takes over a lock written before this boot naming a live pid (a stale lock after a reboot)', async () => {
    const {result, lock} = await withLock({writtenAt: bootedAt - 3_600_000})
    expect(result.code, result.stderr).toBe(3)
    expect(result.stderr).not.toContain('another homeops ddns run')
    expect(existsSync(lock)).toBe(false)
  })

  it('takes over a lock naming pid 1, a live process that is not homeops', async () => {
    // pid 1 is the host's or container's init here; were it node, it could be homeops itself.
    expect(readFileSync('/proc/1/comm', 'utf8')).not.toMatch(/^node/)
    const {result} = await withLock({})
    expect(result.code, result.stderr).toBe(3)
  })

  it('takes over a lock whose pid was reused after it was written', async () => {
    const {result} = await withLock({holder: ['sleep', '30'], writtenAt: Date.now() - 120_000})
    expect(result.code, result.stderr).toBe(3)
  })

  it('exits 5 naming the pid while the homeops process that wrote it runs', async () => {
    const {result, pid} = await withLock({holder: [process.execPath, '-e', 'setTimeout(() => {}, 30000)']})
    expect(result.code).toBe(5)
    expect(result.stderr).toContain(`another homeops ddns run is running (pid ${pid}`)
  })

  it('says the lock path is a directory (exit 2) instead of a raw EISDIR', async () => {
    const {stateDir, env} = fresh()
    mkdirSync(join(stateDir, 'ddns.lock'), {recursive: true})
    const result = await runCli(['ddns', 'update'], {env: ddnsEnv(env), timeoutMs: BOUND_MS})
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(
      `the lock file ${join(stateDir, 'ddns.lock')} is a directory, expected a regular file`,
    )
  })
})
