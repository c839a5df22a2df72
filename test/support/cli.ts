import {spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import {jsonOutputProblems} from './json-contract.js'

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
export const cliPath = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv
  /** Run as another user (the test runs as root): permission errors need a non-root process. */
  uid?: number
  gid?: number
  cwd?: string
  input?: string
  timeoutMs?: number
  /** Another entry of the package (default bin/run.js), e.g. the installed command bin/homeops.cjs. */
  bin?: string
}

/**
 * Runs the built CLI (`bin/run.js`) as a child process, as users do: no TTY,
 * the environment given (merged over a clean base without HOMEOPS_ settings).
 * What a `--json` run prints is checked against the committed schema of that
 * command (test/contract/json/): the contract holds for every run the tests make.
 */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('HOMEOPS_') && k !== 'DOCKER_HOST' && k !== 'CI'),
  )
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.bin ?? cliPath, ...args], {
      env: {...base, ...options.env},
      cwd: options.cwd ?? repoRoot,
      uid: options.uid,
      gid: options.gid,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      const problems = jsonOutputProblems(args, stdout)
      if (problems.length > 0)
        reject(new Error(`homeops ${args.join(' ')} --json broke its schema:\n${problems.join('\n')}`))
      else resolve({code, stdout, stderr})
    })
    child.stdin.end(options.input ?? '')
  })
}
