import {execFileSync, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {repoRoot} from '../../support/cli.js'
import {testEnv} from '../../support/testenv.js'

/**
 * The Dockerfile, built on the test dockerd and run. No public registry is
 * reachable, so the base image is made here: `docker import` of a root
 * filesystem holding this machine's node binary, the shared libraries it needs
 * (ldd) and a static busybox for the build stage's shell. The build context is
 * the checkout's own build (deploy/prebuilt-context.sh, `PREBUILT=1`), so the
 * build needs no npm registry either.
 */
const env = testEnv()
const id = randomBytes(4).toString('hex')
const baseImage = `hotest-serve-node:${id}`
const image = `hotest-serve-image:${id}`
const container = `hotest-serve-ctr-${id}`
const dnsContainer = `hotest-serve-dns-${id}`
const work = mkdtempSync(join(tmpdir(), 'homeops-img-'))
const dockerEnv = {
  ...process.env,
  DOCKER_HOST: env.dockerHost,
  DOCKER_CONFIG: env.dockerConfigDir,
  DOCKER_BUILDKIT: '0',
}
const created: {images: string[]; containers: string[]} = {images: [], containers: []}

function docker(args: string[], input?: Buffer): string {
  const result = spawnSync('docker', args, {env: dockerEnv, input, maxBuffer: 64 * 1024 * 1024, timeout: 600_000})
  if (result.status !== 0) {
    throw new Error(`docker ${args.join(' ')} failed (${result.status}):\n${result.stderr?.toString().slice(-4000)}`)
  }
  return result.stdout.toString().trim()
}

/** A root filesystem with node (+ its libraries) and busybox, imported as an image. */
function makeBaseImage(): void {
  const rootfs = join(work, 'rootfs')
  const node = process.execPath
  const files = new Set<string>([node])
  for (const line of execFileSync('ldd', [node], {encoding: 'utf8'}).split('\n')) {
    const path = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(line)?.[1]
    if (path) files.add(path)
  }
  // better-sqlite3's addon needs the same C++ runtime node uses; name lookups need the NSS files module.
  for (const extra of ['/lib/x86_64-linux-gnu/libnss_files.so.2', '/lib/x86_64-linux-gnu/libresolv.so.2'])
    if (existsSync(extra)) files.add(extra)
  for (const file of files) {
    const target = join(rootfs, file)
    mkdirSync(dirname(target), {recursive: true})
    copyFileSync(file, target)
    chmodSync(target, statSync(file).mode & 0o777)
  }
  mkdirSync(join(rootfs, 'usr/local/bin'), {recursive: true})
  if (node !== '/usr/local/bin/node') symlinkSync(node, join(rootfs, 'usr/local/bin/node'))
  mkdirSync(join(rootfs, 'bin'), {recursive: true})
  copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'))
  chmodSync(join(rootfs, 'bin/busybox'), 0o755)
  for (const applet of [
    'sh',
    'cp',
    'mkdir',
    'grep',
    'test',
    '[',
    'echo',
    'cat',
    'rm',
    'ls',
    'id',
    'env',
    'find',
    'chmod',
  ])
    symlinkSync('busybox', join(rootfs, 'bin', applet))
  // A setuid-root program, as Debian-based node images have (su, mount, passwd): the Dockerfile must strip it.
  mkdirSync(join(rootfs, 'usr/bin'), {recursive: true})
  copyFileSync('/bin/busybox', join(rootfs, 'usr/bin/su'))
  chmodSync(join(rootfs, 'usr/bin/su'), 0o4755)
  mkdirSync(join(rootfs, 'etc'), {recursive: true})
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n')
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n')
  writeFileSync(join(rootfs, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n')
  mkdirSync(join(rootfs, 'tmp'), {recursive: true})
  chmodSync(join(rootfs, 'tmp'), 0o1777)
  const tarball = execFileSync('tar', ['-C', rootfs, '-c', '.'], {maxBuffer: 512 * 1024 * 1024})
  docker(['import', '--change', 'ENV PATH=/usr/local/bin:/usr/bin:/bin', '-', baseImage], tarball)
  created.images.push(baseImage)
}

beforeAll(async () => {
  makeBaseImage()
  // the build of this checkout (scripts/test.sh builds before the tests; wait out a rebuild in progress)
  const deadline = Date.now() + 180_000
  while (!existsSync(join(repoRoot, 'dist/commands/serve.js')) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 1000))
  const context = join(work, 'context')
  const prepared = spawnSync('bash', [join(repoRoot, 'deploy/prebuilt-context.sh'), context], {encoding: 'utf8'})
  if (prepared.status !== 0)
    throw new Error(`deploy/prebuilt-context.sh failed (${prepared.status}):\n${prepared.stdout}${prepared.stderr}`)
  docker(['build', '--build-arg', `NODE_IMAGE=${baseImage}`, '--build-arg', 'PREBUILT=1', '-t', image, context])
  created.images.push(image)
}, 600_000)

afterAll(() => {
  // -v: the anonymous volume of the image's VOLUME /var/lib/homeops goes with its container.
  for (const name of created.containers) spawnSync('docker', ['rm', '-f', '-v', name], {env: dockerEnv})
  for (const name of created.images.reverse()) spawnSync('docker', ['rmi', '-f', name], {env: dockerEnv})
  rmSync(work, {recursive: true, force: true})
})

describe('the container image', () => {
  it('runs homeops serve as the non-root user homeops, with a HEALTHCHECK on /health', () => {
    const config = JSON.parse(docker(['image', 'inspect', image]))[0].Config as {
      User: string
      Healthcheck: {Test: string[]}
      Entrypoint: string[]
      Cmd: string[]
      ExposedPorts: Record<string, unknown>
    }
    expect(config.User).toBe('10001:10001')
    expect(config.Healthcheck.Test).toEqual(['CMD', 'node', '/app/healthcheck.mjs'])
    expect(config.Entrypoint).toEqual(['node', '/app/bin/run.js'])
    expect(config.Cmd).toEqual(['serve'])
    expect(Object.keys(config.ExposedPorts)).toEqual(['8080/tcp'])
  })

  it('has no setuid or setgid program (nothing gains privileges by exec, even without no-new-privileges)', () => {
    // The base image has one (as Debian's has su, mount, passwd): the Dockerfile removed it.
    expect(docker(['run', '--rm', '--entrypoint', '/bin/ls', baseImage, '-ln', '/usr/bin/su'])).toMatch(/^-rws/)
    const found = docker([
      'run',
      '--rm',
      '--entrypoint',
      'node',
      image,
      '-e',
      `const fs = require('node:fs'), path = require('node:path'), out = []
       const walk = (dir) => { for (const e of fs.readdirSync(dir, {withFileTypes: true})) {
         const p = path.join(dir, e.name)
         if (e.isDirectory()) { if (!['/proc', '/sys', '/dev'].includes(p)) walk(p) }
         else if (e.isFile() && (fs.lstatSync(p).mode & 0o6000)) out.push(p) } }
       walk('/'); console.log(JSON.stringify(out))`,
    ])
    expect(JSON.parse(found)).toEqual([])
  })

  it('starts as compose.yaml runs it (read-only root, no capability, no-new-privileges), reports healthy and answers /health', async () => {
    const socketGid = String(statSync(env.dockerSocket).gid)
    docker([
      'run',
      '-d',
      '--name',
      container,
      '--read-only',
      '--tmpfs',
      '/tmp:size=64m,mode=1777',
      '--cap-drop',
      'ALL',
      '--security-opt',
      'no-new-privileges:true',
      '--group-add',
      socketGid,
      '-v',
      `${env.dockerSocket}:/var/run/docker.sock`,
      '-e',
      'HOMEOPS_MONITOR_ENABLED=true',
      '--health-interval',
      '1s',
      '--health-start-period',
      '0s',
      '--health-retries',
      '30',
      image,
    ])
    created.containers.push(container)
    const deadline = Date.now() + 90_000
    let state: {Status: string; Health?: {Status: string; Log?: {Output: string}[]}} = {Status: 'created'}
    while (Date.now() < deadline) {
      state = JSON.parse(docker(['inspect', '--format', '{{json .State}}', container]))
      if (state.Health?.Status === 'healthy' || state.Status === 'exited') break
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
    const logs = spawnSync('docker', ['logs', container], {env: dockerEnv, encoding: 'utf8'})
    expect(state.Health?.Status, `state ${JSON.stringify(state)}\nlogs:\n${logs.stdout}${logs.stderr}`).toBe('healthy')
    // the process runs as uid 10001
    const top = docker(['top', container, '-o', 'pid,uid,args'])
    expect(top).toMatch(/\d+\s+10001\s+node \/app\/bin\/run\.js serve/)
    // /health from inside: every enabled mode (monitor) up
    const health = docker([
      'exec',
      container,
      'node',
      '-e',
      'fetch("http://127.0.0.1:8080/health").then(async r => console.log(r.status, await r.text()))',
    ])
    expect(health).toMatch(/^200 /)
    expect(JSON.parse(health.slice(4))).toMatchObject({status: 'ok', modes: {monitor: {up: true}}})
    // the state volume belongs to homeops (the database is created there on first use)
    expect(docker(['exec', container, 'ls', '-lnd', '/var/lib/homeops'])).toMatch(/^drwx\S*\s+\d+\s+10001\s+10001\s/)
    // no capability, no privilege to gain, nothing writable outside the volume and /tmp
    const status = docker(['exec', container, 'cat', '/proc/1/status'])
    expect(status).toMatch(/^CapEff:\s*0+$/m)
    expect(status).toMatch(/^CapBnd:\s*0+$/m)
    expect(status).toMatch(/^NoNewPrivs:\s*1$/m)
    const write = spawnSync('docker', ['exec', container, 'node', '-e', 'require("fs").writeFileSync("/app/x", "")'], {
      env: dockerEnv,
      encoding: 'utf8',
    })
    expect(write.status).not.toBe(0)
    expect(write.stderr).toContain('EROFS')
  })

  it('serves DNS on port 53 as deploy/swarm-stack.yaml runs it: user 10001, no capability, read-only', async () => {
    const socketGid = String(statSync(env.dockerSocket).gid)
    docker([
      'run',
      '-d',
      '--name',
      dnsContainer,
      '--user',
      `10001:${socketGid}`,
      '--sysctl',
      'net.ipv4.ip_unprivileged_port_start=0',
      '--read-only',
      '--tmpfs',
      '/tmp:size=64m,mode=1777',
      '--cap-drop',
      'ALL',
      '-v',
      `${env.dockerSocket}:/var/run/docker.sock:ro`,
      '-e',
      'HOMEOPS_SERVE_LISTEN=127.0.0.1:8053',
      '-e',
      'HOMEOPS_DNS_BIND=0.0.0.0',
      '-e',
      'HOMEOPS_DNS_PORT=53',
      '-e',
      'HOMEOPS_DB_PATH=/var/lib/homeops/dns.db',
      '--health-interval',
      '1s',
      '--health-start-period',
      '0s',
      '--health-retries',
      '30',
      image,
      'serve',
      '--mode',
      'dns',
    ])
    created.containers.push(dnsContainer)
    const deadline = Date.now() + 90_000
    let state: {Status: string; Health?: {Status: string}} = {Status: 'created'}
    while (Date.now() < deadline) {
      state = JSON.parse(docker(['inspect', '--format', '{{json .State}}', dnsContainer]))
      if (state.Health?.Status === 'healthy' || state.Status === 'exited') break
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
    const logs = spawnSync('docker', ['logs', dnsContainer], {env: dockerEnv, encoding: 'utf8'})
    expect(state.Health?.Status, `state ${JSON.stringify(state)}\nlogs:\n${logs.stdout}${logs.stderr}`).toBe('healthy')
    expect(docker(['exec', dnsContainer, 'cat', '/proc/1/status'])).toMatch(/^CapEff:\s*0+$/m)
    // A query on port 53 gets a DNS answer (a name it does not own: refused or forwarded, never unanswered).
    const answer = docker([
      'exec',
      dnsContainer,
      'node',
      '-e',
      `const r = new (require('node:dns').promises.Resolver)({timeout: 3000, tries: 1}); r.setServers(['127.0.0.1:53'])
       r.resolve4('nothing.hotest.invalid').then((a) => console.log('answer', a), (e) => console.log(e.code))`,
    ])
    expect(answer).not.toMatch(/ECONNREFUSED|ETIMEOUT/)
    expect(answer).toMatch(/^(answer|ENOTFOUND|EREFUSED|ESERVFAIL|ENODATA)/)
  })

  it('exits 0 on docker stop (SIGTERM) well within the 10 s grace period', () => {
    const started = Date.now()
    docker(['stop', '--time', '10', container])
    expect(Date.now() - started).toBeLessThan(8000)
    expect(docker(['inspect', '--format', '{{.State.ExitCode}}', container])).toBe('0')
  })
})
