import {type ChildProcess, spawn} from 'node:child_process'

import {cliPath, repoRoot} from './cli.js'

/**
 * The five HTTP server commands of homeops, started from the built CLI for the
 * security e2e tests (fuzz, cross-site, no-key matrix).
 */
export interface RunningCli {
  name: string
  child: ChildProcess
  url: string
  port: number
  /** The last 64 KiB of stdout+stderr. */
  output(): string
  alive(): boolean
  stop(): Promise<number | null>
}

export async function startCli(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  port: number,
  healthPath = '/health',
): Promise<RunningCli> {
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: repoRoot,
    env: {PATH: process.env.PATH, ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let log = ''
  const keep = (b: Buffer) => {
    log += b.toString()
    if (log.length > 128 * 1024) log = log.slice(-64 * 1024)
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  const url = `http://127.0.0.1:${port}`
  const running: RunningCli = {
    name,
    child,
    url,
    port,
    output: () => log.slice(-64 * 1024),
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: () =>
      new Promise((resolve) => {
        if (!running.alive()) return resolve(child.exitCode)
        const timer = setTimeout(() => child.kill('SIGKILL'), 8000)
        child.once('exit', (code) => {
          clearTimeout(timer)
          resolve(code)
        })
        child.kill('SIGTERM')
      }),
  }
  const deadline = Date.now() + 60_000
  for (;;) {
    if (!running.alive()) throw new Error(`${name} exited at start (${child.exitCode}):\n${log}`)
    try {
      const res = await fetch(url + healthPath, {signal: AbortSignal.timeout(2000)})
      await res.arrayBuffer()
      return running
    } catch {
      if (Date.now() > deadline) {
        await running.stop()
        throw new Error(`${name} did not answer ${healthPath} within 60 s:\n${log}`)
      }
      await new Promise((r) => setTimeout(r, 200))
    }
  }
}
