import {type ChildProcess, spawn} from 'node:child_process'
import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {type Server, createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {dig, within} from '../integration/dns/harness.js'
import {runCli} from '../support/cli.js'
import {startCli} from '../support/cli-servers.js'
import {startServe} from '../support/serve-process.js'
import {freePort} from '../support/free-port.js'

// What a new user meets in the first hour: env variables, doctor, dns serve's default upstreams, one route shape.
const dir = mkdtempSync(join(tmpdir(), 'homeops-e2e-firsthour-'))
chmodSync(dir, 0o755) // dnsmasq reads its hosts file as nobody
const children: ChildProcess[] = []
afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))])
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  }
  rmSync(dir, {recursive: true, force: true})
})

function file(name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text, {mode: 0o644})
  return path
}

const base = (name: string) => ({HOMEOPS_DB_PATH: join(dir, `${name}.db`), XDG_CONFIG_HOME: join(dir, 'xdg')})

describe('environment variables', () => {
  it('applies the key as written and the snake-case name (HOMEOPS_SWARM_PULLPOLICY, …_PULL_POLICY)', async () => {
    for (const name of ['HOMEOPS_SWARM_PULLPOLICY', 'HOMEOPS_SWARM_PULL_POLICY']) {
      const {code, stdout} = await runCli(['config', 'show', '--json'], {env: {...base('env'), [name]: 'always'}})
      expect(code, name).toBe(0)
      expect((JSON.parse(stdout) as {config: {swarm: {pullPolicy: string}}}).config.swarm.pullPolicy, name).toBe(
        'always',
      )
    }
  })

  it('warns about an unknown HOMEOPS_ variable with the closest name, and goes on', async () => {
    const {code, stdout, stderr} = await runCli(['config', 'show', '--json'], {
      env: {...base('env'), HOMEOPS_SWARM_PULL_POLCY: 'always'},
    })
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toMatchObject({config: {swarm: {pullPolicy: 'ifnotpresent'}}})
    expect(stderr).toMatch(
      /warn.*environment variable HOMEOPS_SWARM_PULL_POLCY is not a homeops setting and is ignored \(did you mean HOMEOPS_SWARM_PULL_POLICY\?\)/,
    )
  })

  it('makes it an error under config validate (exit 2, naming the variable)', async () => {
    const {code, stdout, stderr} = await runCli(['config', 'validate'], {
      env: {...base('env'), HOMEOPS_DDNS_INTERVALSECOND: '60'},
    })
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toContain(
      '✖ environment variable HOMEOPS_DDNS_INTERVALSECOND is not a homeops setting and is ignored (did you mean HOMEOPS_DDNS_INTERVAL_SECONDS?)',
    )
    const known = await runCli(['config', 'validate'], {env: {...base('env'), HOMEOPS_DDNS_INTERVALSECONDS: '60'}})
    expect(known.code, known.stderr).toBe(0)
  })
})

interface DoctorJson {
  ok: boolean
  enabledModes: string[]
  checks: {id: string; ok: boolean; required: boolean; detail: string; hint?: string}[]
}

describe('homeops doctor per mode', () => {
  let servePort: number
  let occupied: Server
  let occupiedPort: number
  beforeAll(async () => {
    servePort = await freePort()
    occupied = createServer((socket) => socket.destroy()) // a program that is not homeops
    await new Promise<void>((resolve) => occupied.listen(0, '127.0.0.1', resolve))
    occupiedPort = (occupied.address() as {port: number}).port
  })
  afterAll(() => new Promise<void>((resolve) => occupied.close(() => resolve())))

  const doctor = async (name: string, yaml: string, json = true) => {
    const config = file(`${name}.yaml`, yaml)
    return runCli(['doctor', '--config', config, ...(json ? ['--json'] : [])], {env: base(name)})
  }

  it('says "no modes enabled" in text and an empty list in --json', async () => {
    const text = await doctor('none', 'log:\n  level: info\n', false)
    expect(text.stdout.split('\n')[0]).toMatch(/^no modes enabled/)
    const json = JSON.parse((await doctor('none', 'log:\n  level: info\n')).stdout) as DoctorJson
    expect(json.enabledModes).toEqual([])
    // A mistyped variable: a warning (not a failed check), naming the closest one.
    const typo = await runCli(['doctor', '--json', '--config', file('none.yaml', 'log:\n  level: info\n')], {
      env: {...base('none'), HOMEOPS_DNS_UPSTREAM: '1.1.1.1'},
    })
    expect((JSON.parse(typo.stdout) as DoctorJson).checks.find((c) => c.id === 'environment')).toMatchObject({
      ok: false,
      required: false,
      detail: expect.stringContaining(
        'HOMEOPS_DNS_UPSTREAM is not a homeops setting and is ignored (did you mean HOMEOPS_DNS_UPSTREAMS?)',
      ),
    })
  })

  it('fails ddns.enabled without a record, with a hint, naming the mode', async () => {
    const yaml = `serve:\n  listen: 127.0.0.1:${servePort}\nddns:\n  enabled: true\n`
    const text = await doctor('ddns-empty', yaml, false)
    expect(text.code).toBe(1)
    expect(text.stdout.split('\n')[0]).toBe('modes enabled: ddns')
    expect(text.stdout).toMatch(/✖ DDNS records +no record configured: ddns has nothing to update \(needed by ddns\)/)
    expect(text.stdout).toContain('add ddns.records (hostname, provider and its credentials)')
  })

  it('names a record whose provider credentials are missing, and passes a complete one', async () => {
    const missing = JSON.parse(
      (
        await doctor(
          'ddns-nocred',
          `serve:\n  listen: 127.0.0.1:${servePort}\nddns:\n  enabled: true\n  records:\n    - hostname: home.example.org\n      provider: duckdns\n`,
        )
      ).stdout,
    ) as DoctorJson
    const check = missing.checks.find((c) => c.id === 'ddns-records')!
    expect(check).toMatchObject({ok: false, required: true})
    expect(check.detail).toMatch(/ddns\.records\[0\].*token/)
    const complete = JSON.parse(
      (
        await doctor(
          'ddns-ok',
          `serve:\n  listen: 127.0.0.1:${servePort}\nddns:\n  enabled: true\n  records:\n    - hostname: home.duckdns.org\n      provider: duckdns\n      token: abcdefabcdefabcdef\n`,
        )
      ).stdout,
    ) as DoctorJson
    expect(complete.checks.find((c) => c.id === 'ddns-records')).toMatchObject({ok: true})
    expect(complete.checks.find((c) => c.id === 'serve-port')).toMatchObject({ok: true})
    expect(complete.ok).toBe(true)
  })

  it('fails the images notifiers that lack a key, and the port of homeops serve when another program holds it', async () => {
    const report = JSON.parse(
      (
        await doctor(
          'images',
          `serve:\n  listen: 127.0.0.1:${occupiedPort}\nimages:\n  enabled: true\n  notifiers:\n    - type: ntfy\n`,
        )
      ).stdout,
    ) as DoctorJson
    expect(report.enabledModes).toEqual(['images'])
    expect(report.checks.find((c) => c.id === 'images-notifiers')).toMatchObject({
      ok: false,
      required: true,
      detail: expect.stringMatching(/images\.notifiers\[0\] \(ntfy\) lacks/),
    })
    expect(report.checks.find((c) => c.id === 'serve-port')).toMatchObject({
      ok: false,
      detail: `127.0.0.1:${occupiedPort} is in use by another program`,
    })
    expect(report.ok).toBe(false)
  })

  it('shows the upstreams dns serve will use, read from resolv.conf, and warns when none is usable', async () => {
    const conf = file('doctor-resolv.conf', 'nameserver 192.0.2.53\nnameserver 127.0.0.1\n')
    const dnsYaml = (extra: string) =>
      `serve:\n  listen: 127.0.0.1:${servePort}\ndns:\n  enabled: true\n  resolvConf: ${conf}\n${extra}`
    const listed = JSON.parse((await doctor('dns-up', dnsYaml('  port: 5354\n'))).stdout) as DoctorJson
    expect(listed.checks.find((c) => c.id === 'dns-upstreams')).toMatchObject({
      ok: true,
      detail: `192.0.2.53, 127.0.0.1 (from ${conf})`,
    })
    const onlySelf = file('doctor-self.conf', 'nameserver 127.0.0.1\n')
    const none = JSON.parse(
      (
        await doctor(
          'dns-none',
          `serve:\n  listen: 127.0.0.1:${servePort}\ndns:\n  enabled: true\n  port: 53\n  resolvConf: ${onlySelf}\n`,
        )
      ).stdout,
    ) as DoctorJson
    const check = none.checks.find((c) => c.id === 'dns-upstreams')!
    expect(check).toMatchObject({ok: false, required: false})
    expect(check.detail).toContain('names this server does not own are REFUSED')
    expect(check.detail).toContain('127.0.0.1 left out (this server (port 53))')
  })
})

describe('dns serve forwards to the nameservers of resolv.conf by default', () => {
  // A real resolver (dnsmasq) on a loopback address at port 53, as resolv.conf entries are.
  const upstreamIp = `127.0.53.${2 + Math.floor(Math.random() * 200)}`
  const selfIp = `127.0.54.${2 + Math.floor(Math.random() * 200)}`
  let port: number
  let httpPort: number

  beforeAll(async () => {
    writeFileSync(join(dir, 'upstream-hosts'), '10.20.30.41 ext.resolvconf.test\n', {mode: 0o644})
    const dnsmasq = spawn(
      '/usr/sbin/dnsmasq',
      [
        '--keep-in-foreground',
        '--no-resolv',
        '--no-hosts',
        '--port=53',
        `--listen-address=${upstreamIp}`,
        '--bind-interfaces',
        `--addn-hosts=${join(dir, 'upstream-hosts')}`,
        '--local=/resolvconf.test/',
        `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      ],
      {stdio: 'ignore'},
    )
    children.push(dnsmasq)
    await within(5000, 'dnsmasq answering on port 53', async () =>
      (await dig(53, ['+short', 'ext.resolvconf.test'], upstreamIp).catch(() => ({text: ''}))).text.includes(
        '10.20.30.41',
      ),
    )
    port = await freePort(true)
    httpPort = await freePort()
  }, 30_000)

  it('answers a name it does not own through the resolv.conf nameserver and logs which upstreams it uses', async () => {
    const conf = file('resolv.conf', `# test\nnameserver ${upstreamIp}\n`)
    const config = file('dns-default.yaml', `dns:\n  docker: false\n  ipv6: false\n  resolvConf: ${conf}\n`)
    const dns = await startCli(
      'dns serve',
      [
        'dns',
        'serve',
        '--config',
        config,
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--http-listen',
        `127.0.0.1:${httpPort}`,
      ],
      {...base('dns-default'), HOSTIP: '192.168.60.10'},
      httpPort,
    )
    children.push(dns.child)
    try {
      expect((await dig(port, ['+short', 'ext.resolvconf.test'])).text.trim()).toBe('10.20.30.41')
      expect(dns.output()).toContain(`upstreams="${upstreamIp} (${conf})"`)
      const snapshot = (await (await fetch(`${dns.url}/snapshot`)).json()) as {
        upstreams: string[]
        upstreamsFrom: string
      }
      expect(snapshot).toMatchObject({upstreams: [upstreamIp], upstreamsFrom: conf})
    } finally {
      await dns.stop()
    }
  })

  it('leaves itself out (same address, port 53) and REFUSES other names when nothing else is listed', async () => {
    const conf = file('resolv-self.conf', `nameserver ${selfIp}\n`)
    const config = file('dns-self.yaml', `dns:\n  docker: false\n  ipv6: false\n  resolvConf: ${conf}\n`)
    const dns = await startCli(
      'dns serve',
      ['dns', 'serve', '--config', config, '--port', '53', '--bind', selfIp, '--http-listen', `127.0.0.1:${httpPort}`],
      {...base('dns-self'), HOSTIP: '192.168.60.10'},
      httpPort,
    )
    children.push(dns.child)
    try {
      expect((await dig(53, ['ext.resolvconf.test'], selfIp)).status).toBe('REFUSED')
      expect(dns.output()).toMatch(
        new RegExp(`dns upstream from resolv.conf left out.*address=${selfIp.replace(/\./g, '\\.')}`),
      )
      expect(dns.output()).toContain(`upstreams="none: other names REFUSED (${conf}: only this server listed)"`)
    } finally {
      await dns.stop()
    }
  })
})

describe('one route shape under homeops serve', () => {
  it('serves the dns records at /dns/records (not /dns/dns/records)', async () => {
    const httpPort = await freePort()
    const dnsPort = await freePort(true)
    const config = file(
      'serve-dns.yaml',
      `dns:\n  enabled: true\n  docker: false\n  ipv6: false\n  bind: 127.0.0.1\n  port: ${dnsPort}\n  upstreams: []\n  records:\n    app.home.lan: 10.0.0.7\n`,
    )
    const serve = startServe({
      args: ['--config', config, '--listen', `127.0.0.1:${httpPort}`],
      env: {...base('serve-dns'), HOSTIP: '192.168.60.10'},
      port: httpPort,
    })
    children.push(serve.child)
    try {
      const records = await serve.waitFor('GET /dns/records', async () => {
        const response = await fetch(`${serve.url}/dns/records`)
        return response.status === 200 ? ((await response.json()) as {records: {hostname: string}[]}) : undefined
      })
      expect(records.records.map((r) => r.hostname)).toContain('app.home.lan')
      expect((await fetch(`${serve.url}/dns/dns/records`)).status).toBe(404)
    } finally {
      await serve.kill()
    }
  })
})
