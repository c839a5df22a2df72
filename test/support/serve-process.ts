import {type ChildProcess, spawn} from 'node:child_process'

import {cliPath, repoRoot} from './cli.js'

/** `homeops serve` (the built CLI) as a child process, with its stderr kept for failure messages. */
export interface ServeProcess {
  child: ChildProcess
  url: string
  readonly stderr: string
  exit: Promise<{code: number | null; signal: NodeJS.Signals | null}>
  /** Waits until `probe` returns a value (polling every 200 ms), failing with serve's stderr. */
  waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>
  /** SIGKILL if still running. */
  kill(): Promise<void>
}

export function startServe(options: {
  args: string[]
  env: NodeJS.ProcessEnv
  port: number
  /** The command (default `serve`; `['monitor', 'serve']`, `['dns', 'serve']`). */
  command?: string[]
}): ServeProcess {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('HOMEOPS_') && k !== 'DOCKER_HOST' && k !== 'CI'),
  )
  const child = spawn(process.execPath, [cliPath, ...(options.command ?? ['serve']), ...options.args], {
    cwd: repoRoot,
    env: {...base, ...options.env},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stdout.on('data', () => {})
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exit = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) =>
    child.on('exit', (code, signal) => resolve({code, signal})),
  )
  return {
    child,
    url: `http://127.0.0.1:${options.port}`,
    get stderr() {
      return stderr
    },
    exit,
    async waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
      const deadline = Date.now() + timeoutMs
      let last: unknown
      while (Date.now() < deadline) {
        if (child.exitCode !== null || child.signalCode !== null) break
        try {
          const value = await probe()
          if (value !== undefined) return value
        } catch (error) {
          last = error
        }
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
      throw new Error(`timed out waiting for ${what} (${String(last ?? '')})\nserve stderr:\n${stderr.slice(-4000)}`)
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exit
      }
    },
  }
}

/** A GET with a deadline, returning the status, the JSON body and how long it took. */
export async function getJson<T = Record<string, unknown>>(
  url: string,
  timeoutMs = 10_000,
): Promise<{status: number; body: T; ms: number}> {
  const started = Date.now()
  const response = await fetch(url, {signal: AbortSignal.timeout(timeoutMs)})
  const body = (await response.json()) as T
  return {status: response.status, body, ms: Date.now() - started}
}
