import {spawn, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const installSh = join(repoRoot, 'install.sh')
const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {version: string}).version

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 540_000,
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout, stderr})
    })
  })
}

const root = mkdtempSync(join(tmpdir(), 'homeops-install-'))
const dirs = {
  prefix: join(root, 'prefix'),
  systemd: join(root, 'systemd'),
  cron: join(root, 'cron.d'),
  config: join(root, 'etc-homeops'),
  state: join(root, 'var-lib-homeops'),
}
// The units' system user: created by install.sh, removed by `uninstall --purge` (and by afterAll if a test failed).
const serviceUser = `hotest-sec-${randomBytes(4).toString('hex')}`
const dirFlags = [
  '--prefix',
  dirs.prefix,
  '--systemd-dir',
  dirs.systemd,
  '--cron-dir',
  dirs.cron,
  `--config-dir=${dirs.config}`,
  '--state-dir',
  dirs.state,
  '--user',
  serviceUser,
]
const bin = join(dirs.prefix, 'bin', 'homeops')
// dns enabled with its default port: the second install must grant CAP_NET_BIND_SERVICE for port 53.
const userConfig = 'log:\n  level: debug\ndns:\n  enabled: true\n'
const SERVICES = ['homeops-ddns.service', 'homeops.service']

afterAll(() => {
  if (userExists(serviceUser)) spawnSync('userdel', [serviceUser])
  rmSync(root, {recursive: true, force: true})
})

function userExists(name: string): boolean {
  return spawnSync('id', ['-u', name]).status === 0
}

/** `systemd-analyze security --offline=yes` of a unit file: its overall exposure (0 = locked down, 10 = unsafe). */
async function exposure(unit: string): Promise<{score: number; report: string}> {
  const result = await run('systemd-analyze', ['security', '--offline=yes', '--no-pager', unit], process.env, 60_000)
  const report = result.stdout + result.stderr
  const match = /Overall exposure level for \S+: (\d+\.\d)/.exec(report)
  if (!match) throw new Error(`systemd-analyze gave no score for ${unit} (exit ${result.code}):\n${report}`)
  return {score: Number(match[1]), report}
}

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8)
}

// npm installs the package and its production dependencies twice here: allow minutes, not the default.
describe('install.sh', () => {
  beforeAll(() => {
    // install.sh would build a missing dist/ with `npm ci`, which must not happen to the checkout under test.
    if (!existsSync(join(repoRoot, 'dist')) || !existsSync(join(repoRoot, 'oclif.manifest.json'))) {
      throw new Error('dist/ or oclif.manifest.json is missing: run `npm run build` before the integration tests')
    }
    if (spawnSync('systemd-analyze', ['--version']).status !== 0) {
      throw new Error('systemd-analyze is missing: apt-get install systemd (scripts/testenv.sh install)')
    }
    if (process.getuid?.() !== 0)
      throw new Error('install.sh creates the service user: run the integration tests as root')
  })

  it('installs into a prefix with systemd units, a cron entry and an example config', async () => {
    const result = await run('bash', [installSh, '--with-systemd', '--with-cron', ...dirFlags])
    expect(result.stderr + result.stdout).not.toMatch(/error:/)
    expect(result.code, result.stderr).toBe(0)

    const versionRun = await run(bin, ['--version'])
    expect(versionRun.code).toBe(0)
    expect(versionRun.stdout).toContain(`homeops/${version}`)

    const ddns = readFileSync(join(dirs.systemd, 'homeops-ddns.service'), 'utf8')
    expect(ddns).toContain(`ExecStart=${bin} ddns update\n`)
    expect(ddns).toContain('Type=oneshot')
    for (const line of [
      `User=${serviceUser}`,
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'UMask=0077',
      'CapabilityBoundingSet=',
      `ReadWritePaths=${dirs.state}`,
      `Environment=HOMEOPS_CONFIG=${dirs.config}/config.yaml`,
      `Environment=HOMEOPS_DB_PATH=${dirs.state}/homeops.db`,
    ]) {
      expect(ddns).toContain(`\n${line}\n`)
    }
    expect(ddns).toContain('# LoadCredential=INFOMANIAK_DDNS_PASSWORD:')

    const timer = readFileSync(join(dirs.systemd, 'homeops-ddns.timer'), 'utf8')
    expect(timer).toMatch(/^OnCalendar=\*:0\/5$/m)
    expect(timer).toMatch(/^Persistent=true$/m)
    expect(timer).toMatch(/^RandomizedDelaySec=/m)

    const serve = readFileSync(join(dirs.systemd, 'homeops.service'), 'utf8')
    expect(serve).toContain(`ExecStart=${bin} serve\n`)
    expect(serve).toMatch(/^Type=notify$/m)
    expect(serve).toMatch(/^NotifyAccess=all$/m)
    expect(serve).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m)
    expect(serve).toMatch(/^Restart=on-failure$/m)
    expect(serve).toMatch(/^ProtectSystem=strict$/m)
    expect(serve).toMatch(new RegExp(`^User=${serviceUser}$`, 'm'))
    expect(serve).toMatch(/^SupplementaryGroups=docker$/m)
    // The example config enables no DNS: no capability at all.
    expect(serve).toMatch(/^CapabilityBoundingSet=$/m)
    expect(serve).toMatch(/^AmbientCapabilities=$/m)
    expect(serve).not.toMatch(/^MemoryDenyWriteExecute=yes/m)

    // The service user: a system account without a shell, in the docker group, owning the state.
    const account = spawnSync('getent', ['passwd', serviceUser], {encoding: 'utf8'}).stdout.trim().split(':')
    expect(Number(account[2])).toBeLessThan(1000)
    expect(account[6]).toMatch(/nologin|false/)
    expect(spawnSync('id', ['-nG', serviceUser], {encoding: 'utf8'}).stdout.split(/\s+/)).toContain('docker')
    const uid = Number(account[2])
    expect(statSync(dirs.state).uid).toBe(uid)
    expect(mode(dirs.state)).toBe('750')
    expect(statSync(join(dirs.state, 'homeops.db')).uid).toBe(uid)
    expect(mode(join(dirs.state, 'homeops.db'))).toBe('600')
    // The configuration is root's, readable by the service through its group.
    expect(statSync(join(dirs.config, 'config.yaml')).uid).toBe(0)
    expect(statSync(join(dirs.config, 'config.yaml')).gid).toBe(Number(account[3]))
    expect(mode(join(dirs.config, 'config.yaml'))).toBe('640')

    const cron = readFileSync(join(dirs.cron, 'homeops'), 'utf8')
    expect(cron).toContain(
      `*/5 * * * * root HOMEOPS_CONFIG=${dirs.config}/config.yaml HOMEOPS_DB_PATH=${dirs.state}/homeops.db ${bin} swarm reconcile`,
    )
    expect(cron).toContain('logger -t homeops')

    expect(existsSync(join(dirs.config, 'config.yaml'))).toBe(true)
  }, 600_000)

  it('writes units that systemd accepts: every directive known and valid (systemd-analyze verify)', async () => {
    const units = [...SERVICES, 'homeops-ddns.timer'].map((unit) => join(dirs.systemd, unit))
    const result = await run('systemd-analyze', ['verify', '--man=no', ...units], process.env, 60_000)
    expect(result.stdout + result.stderr).toBe('')
    expect(result.code).toBe(0)
  })

  it('writes units that systemd-analyze scores at 2.5 or less (least privilege)', async () => {
    for (const unit of SERVICES) {
      const {score, report} = await exposure(join(dirs.systemd, unit))
      expect(score, `${unit}:\n${report}`).toBeLessThanOrEqual(2.5)
    }
    // A timer runs nothing itself: what it starts is homeops-ddns.service, scored above.
    const timer = readFileSync(join(dirs.systemd, 'homeops-ddns.timer'), 'utf8')
    expect(timer).not.toMatch(/^\[Service\]|^Exec/m)
    expect(timer).toMatch(/^Unit=homeops-ddns\.service$/m)
  })

  it('writes an example config that the installed homeops accepts', async () => {
    const result = await run(bin, ['config', 'validate', '--config', join(dirs.config, 'config.yaml')], {
      ...process.env,
      HOMEOPS_DB_PATH: join(root, 'validate', 'homeops.db'),
    })
    expect(result.code, result.stdout + result.stderr).toBe(0)
  })

  it('runs again without touching an existing config', async () => {
    writeFileSync(join(dirs.config, 'config.yaml'), userConfig)
    const result = await run('bash', [installSh, 'install', '--with-systemd', '--with-cron', ...dirFlags])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain(`kept the existing configuration in ${dirs.config}`)
    expect(result.stdout).toContain(`unchanged ${join(dirs.systemd, 'homeops-ddns.service')}`)
    expect(readFileSync(join(dirs.config, 'config.yaml'), 'utf8')).toBe(userConfig)
    expect((await run(bin, ['--version'])).code).toBe(0)

    // dns is enabled now, on its default port 53: homeops.service gets that one capability, and still scores.
    const serve = readFileSync(join(dirs.systemd, 'homeops.service'), 'utf8')
    expect(serve).toMatch(/^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m)
    expect(serve).toMatch(/^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m)
    const {score, report} = await exposure(join(dirs.systemd, 'homeops.service'))
    expect(score, report).toBeLessThanOrEqual(2.5)
  }, 600_000)

  it('uninstalls the package, the link, the units and the cron entry, and keeps the config', async () => {
    const result = await run('bash', [installSh, 'uninstall', ...dirFlags])
    expect(result.code, result.stderr).toBe(0)
    expect(existsSync(bin)).toBe(false)
    expect(existsSync(join(dirs.prefix, 'lib', 'node_modules', 'homeops'))).toBe(false)
    for (const unit of ['homeops-ddns.service', 'homeops-ddns.timer', 'homeops.service']) {
      expect(existsSync(join(dirs.systemd, unit)), unit).toBe(false)
    }
    expect(existsSync(join(dirs.cron, 'homeops'))).toBe(false)
    expect(readFileSync(join(dirs.config, 'config.yaml'), 'utf8')).toBe(userConfig)

    const again = await run('bash', [installSh, 'uninstall', ...dirFlags])
    expect(again.code, again.stderr).toBe(0)
  })

  it('removes the config and state directories with uninstall --purge', async () => {
    mkdirSync(dirs.state, {recursive: true})
    writeFileSync(join(dirs.state, 'homeops.db'), '')
    const result = await run('bash', [installSh, 'uninstall', '--purge', ...dirFlags])
    expect(result.code, result.stderr).toBe(0)
    expect(existsSync(dirs.config)).toBe(false)
    expect(existsSync(dirs.state)).toBe(false)
    expect(userExists(serviceUser), 'the service user install.sh created').toBe(false)
  })

  it('refuses a Node.js older than 20, saying so', async () => {
    const fakeBin = join(root, 'old-node')
    mkdirSync(fakeBin, {recursive: true})
    writeFileSync(join(fakeBin, 'node'), '#!/bin/sh\necho 18.19.0\n')
    chmodSync(join(fakeBin, 'node'), 0o755)
    const result = await run('bash', [installSh, ...dirFlags], {...process.env, PATH: `${fakeBin}:${process.env.PATH}`})
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('Node.js 20 or newer is required, found 18.19.0')
    expect(existsSync(bin)).toBe(false)
  })

  it('rejects a service user name useradd would refuse, before changing anything', async () => {
    const result = await run('bash', [installSh, '--with-systemd', '--user', 'Bad Name', ...dirFlags.slice(0, 2)])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('--user needs a user name')
    expect(existsSync(bin)).toBe(false)
  })

  it('rejects an unknown option with a usage hint', async () => {
    const result = await run('bash', [installSh, '--with-sytemd'])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("unknown option '--with-sytemd'")
  })

  describe('on a host without systemd as PID 1', () => {
    const bare = join(root, 'no-systemd')
    const flags = [
      '--prefix',
      join(bare, 'prefix'),
      '--systemd-dir',
      join(bare, 'systemd'),
      '--cron-dir',
      join(bare, 'cron.d'),
      '--config-dir',
      join(bare, 'etc-homeops'),
      '--state-dir',
      join(bare, 'state'),
    ]
    // Stands in for /run/systemd/system: a directory that does not exist.
    const noSystemd = {...process.env, HOMEOPS_INSTALL_SYSTEMD_RUN_DIR: join(bare, 'no-run-systemd')}
    const listing = (dir: string): string[] =>
      existsSync(dir)
        ? spawnSync('find', [dir, '-mindepth', '1'], {encoding: 'utf8'}).stdout.split('\n').filter(Boolean).sort()
        : []
    let before: string[] = []

    it('installs with a step counter, prints the cron lines instead of systemctl advice, and no npm warning', async () => {
      mkdirSync(bare, {recursive: true})
      before = listing(bare)
      const result = await run('bash', [installSh, ...flags], noSystemd)
      expect(result.code, result.stderr + result.stdout).toBe(0)
      expect(result.stderr).toBe('')
      const steps = result.stdout.match(/^install\.sh: \[\d\/\d\] .* \(\d+s\)$/gm) ?? []
      expect(steps.length, result.stdout).toBeGreaterThanOrEqual(3)
      expect(result.stdout).toContain('this host does not run systemd')
      expect(result.stdout).toContain(
        `*/5 * * * * root HOMEOPS_CONFIG=${join(bare, 'etc-homeops')}/config.yaml HOMEOPS_DB_PATH=${join(bare, 'state')}/homeops.db ${join(bare, 'prefix', 'bin', 'homeops')} ddns update`,
      )
      expect(result.stdout).not.toMatch(/systemctl enable/)
      expect(result.stdout).not.toMatch(/npm warn|Warning|update available/i)
      // Production dependencies only: no compiler, test runner or build tool in the installed tree.
      const installed = join(bare, 'prefix', 'lib', 'node_modules', 'homeops')
      expect(existsSync(join(installed, 'dist', 'commands'))).toBe(true)
      expect(existsSync(join(installed, 'oclif.manifest.json'))).toBe(true)
      for (const dev of ['typescript', 'vitest', 'oclif', 'eslint', 'tsx']) {
        expect(existsSync(join(installed, 'node_modules', dev)), dev).toBe(false)
      }
      expect(existsSync(join(installed, 'node_modules', '@oclif', 'core'))).toBe(true)
      const version = await run(join(bare, 'prefix', 'bin', 'homeops'), ['--version'])
      expect(version.code, version.stderr).toBe(0)
    }, 600_000)

    it('uninstall --purge leaves no file behind, also a link a `systemctl enable` made', async () => {
      // What `systemctl enable --now homeops-ddns.timer` leaves on a host without systemd: the link only.
      mkdirSync(join(bare, 'systemd', 'timers.target.wants'), {recursive: true})
      writeFileSync(join(bare, 'systemd', 'homeops-ddns.timer'), '[Timer]\n')
      spawnSync('ln', [
        '-s',
        join(bare, 'systemd', 'homeops-ddns.timer'),
        join(bare, 'systemd', 'timers.target.wants', 'homeops-ddns.timer'),
      ])
      const result = await run('bash', [installSh, 'uninstall', '--purge', ...flags], noSystemd)
      expect(result.code, result.stderr + result.stdout).toBe(0)
      expect(listing(bare)).toEqual(before)
    })
  })
})
