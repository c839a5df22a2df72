import {spawn} from 'node:child_process'
import {existsSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {cliPath, runCli} from '../support/cli.js'
import {V4, ddnsE2e} from './ddns-fixture.js'

const ddns = ddnsE2e('homeops-e2e-ddns-', {DDNS_RETRY_BACKOFF: '0'})
const {env} = ddns

describe('homeops ddns (built CLI)', () => {
  it('updates once, then does nothing (exit 0), with a stable --json shape', async () => {
    const e = env()
    const before = ddns.provider.requests.length
    const first = await runCli(['ddns', 'update', '--json'], {env: e})
    expect(first.code).toBe(0)
    const report = JSON.parse(first.stdout) as Record<string, unknown>
    expect(Object.keys(report)).toEqual([
      'exitCode',
      'dryRun',
      'forced',
      'startedAt',
      'durationMs',
      'detection',
      'records',
    ])
    expect(Object.keys((report.records as object[])[0]!)).toEqual([
      'record',
      'hostname',
      'provider',
      'family',
      'detectedIp',
      'previousIp',
      'action',
      'result',
      'answer',
      'message',
      'tries',
      'notBefore',
      'exitCode',
    ])
    expect(report.records).toEqual([expect.objectContaining({action: 'sent', result: 'good', detectedIp: V4})])
    const second = await runCli(['ddns', 'update'], {env: e})
    expect(second.code).toBe(0)
    expect(second.stdout).toMatch(/home\.example\.org\s+IPv4\s+84\.16\.66\.10\s+skipped\s+unchanged/)
    expect(second.stdout).not.toContain('\u001b[') // no colour off a TTY
    expect(ddns.provider.requests.length - before).toBe(1)
  })

  it('exits 4 on badauth and keeps exiting 4 (blocked) without sending; status says why', async () => {
    const e = env({INFOMANIAK_DDNS_PASSWORD: 'wrong-password'})
    const before = ddns.provider.requests.length
    const first = await runCli(['ddns', 'update'], {env: e})
    expect(first.code).toBe(4)
    expect(first.stderr).toMatch(/error ddns refused: badauth \(the username or password was refused\)/)
    const second = await runCli(['ddns', 'update', '--json'], {env: e})
    expect(second.code).toBe(4)
    expect(JSON.parse(second.stdout).records[0]).toMatchObject({action: 'blocked', result: 'badauth'})
    expect(ddns.provider.requests.length - before).toBe(1)
    const status = await runCli(['ddns', 'status'], {env: e})
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/blocked: badauth \(the username or password was refused\)/)
    expect(first.stderr + second.stdout + status.stdout).not.toContain('wrong-password')
  })

  it('exits 3 when detection fails everywhere, sending nothing', async () => {
    const before = ddns.provider.requests.length
    const result = await runCli(['ddns', 'update'], {env: env({DDNS_IP_SOURCES_V4: 'http://127.0.0.1:9/'})})
    expect(result.code).toBe(3)
    expect(result.stdout).toMatch(/IPv4 detection failed \(no IPv4 source gave a valid public address\); nothing sent/)
    expect(result.stderr).toMatch(
      /warn ddns ip source failed family=IPv4 source=http:\/\/127\.0\.0\.1:9 error="connection refused"/,
    )
    expect(ddns.provider.requests.length).toBe(before)
  })

  it('exits 5 at once when another run holds the lock, naming its pid', async () => {
    const e = env()
    const holder = spawn('sleep', ['30'])
    try {
      const stateDir = ddns.stateDir()
      mkdirSync(stateDir, {recursive: true})
      writeFileSync(join(stateDir, 'ddns.lock'), `${holder.pid}\n`)
      const result = await runCli(['ddns', 'update'], {env: e})
      expect(result.code).toBe(5)
      expect(result.stderr).toContain(`(pid ${holder.pid}`)
    } finally {
      holder.kill()
    }
  })

  it('exits 2 with the setting named for a bad record, and lists history after updates', async () => {
    const bad = await runCli(['ddns', 'update'], {env: env({INFOMANIAK_DDNS_HOSTNAME: 'no-dots'})})
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain(
      'ddns.hostname (INFOMANIAK_DDNS_HOSTNAME): "no-dots" is not a fully qualified domain name',
    )
    const e = env()
    await runCli(['ddns', 'update', '--force'], {env: e})
    await runCli(['ddns', 'update', '--force'], {env: e})
    const history = await runCli(['ddns', 'history', '--limit', '1', '--json'], {env: e})
    expect(history.code).toBe(0)
    expect(JSON.parse(history.stdout).entries).toEqual([
      expect.objectContaining({record: 'home.example.org', family: 'ipv4', ip: V4, previousIp: V4, result: 'nochg'}),
    ])
  })

  it('update: SIGTERM aborts the request in flight, records "stopped", releases the lock and exits 3', async () => {
    const e = env({DDNS_REQUEST_TIMEOUT: '60'})
    ddns.provider.script.push('hang')
    const before = ddns.provider.requests.length
    const child = spawn(process.execPath, [cliPath, 'ddns', 'update', '--json'], {
      env: {...process.env, ...e},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    try {
      const deadline = Date.now() + 20_000
      while (ddns.provider.requests.length === before) {
        if (Date.now() > deadline) throw new Error(`no request reached the provider:\n${stderr}`)
        await new Promise((r) => setTimeout(r, 50))
      }
      const stopAt = Date.now()
      child.kill('SIGTERM')
      expect(await exited).toBe(3)
      expect(Date.now() - stopAt).toBeLessThan(5000)
      expect(stderr).toContain('SIGTERM received, stopping')
      expect(JSON.parse(stdout).records[0]).toMatchObject({action: 'sent', result: 'stopped', exitCode: 3})
      expect(existsSync(join(ddns.stateDir(), 'ddns.lock'))).toBe(false)
      const history = await runCli(['ddns', 'history', '--json'], {env: e})
      expect(JSON.parse(history.stdout).entries[0]).toMatchObject({result: 'stopped'})
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('serve: loops, answers /status, and stops with exit 0 on SIGTERM', async () => {
    const e = env({DDNS_INTERVAL_SECONDS: '15'})
    const child = spawn(process.execPath, [cliPath, 'ddns', 'serve', '--listen', '127.0.0.1:0'], {
      env: {...process.env, ...e},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    try {
      const deadline = Date.now() + 30_000
      while (
        !/http server listening address=127\.0\.0\.1:(\d+)/.test(stderr) ||
        !/ddns (updated|the provider)/.test(stderr)
      ) {
        if (Date.now() > deadline) throw new Error(`serve did not start:\n${stderr}`)
        await new Promise((r) => setTimeout(r, 100))
      }
      const port = /http server listening address=127\.0\.0\.1:(\d+)/.exec(stderr)![1]
      const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as {records: {lastIp: string}[]}
      expect(status.records[0]!.lastIp).toBe(V4)
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200)
      const stopAt = Date.now()
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      expect(Date.now() - stopAt).toBeLessThan(5000)
      expect(stderr).toContain('ddns loop stopped')
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('honours DDNS_LOG_LEVEL of the original tool, unless --log-level is given', async () => {
    const quiet = await runCli(['ddns', 'update', '--force'], {env: env({DDNS_LOG_LEVEL: 'error'})})
    expect(quiet.code).toBe(0)
    expect(quiet.stderr).not.toContain('info ddns')
    const loud = await runCli(['ddns', 'update', '--force', '--log-level', 'info'], {
      env: env({DDNS_LOG_LEVEL: 'error'}),
    })
    expect(loud.stderr).toContain('info ddns the provider already had 84.16.66.10')
  })

  it('config validate checks the ddns records too (exit 2, every problem named)', async () => {
    const result = await runCli(['config', 'validate'], {
      env: env({INFOMANIAK_DDNS_PASSWORD: '', DDNS_IP_SOURCES_V4: 'dns://resolver.example/x'}),
    })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('ddns.password (INFOMANIAK_DDNS_PASSWORD): required for provider infomaniak')
  })

  it('documents itself: summary, examples with long flags, exit codes', async () => {
    const help = await runCli(['ddns', 'update', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('--dry-run')
    expect(help.stdout).toContain('4 > 2 > 1 > 3 > 0')
  })
})
