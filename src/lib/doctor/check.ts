import {execFile} from 'node:child_process'
import {createSocket} from 'node:dgram'
import {createServer} from 'node:net'
import {promisify} from 'node:util'

import {errnoCode, errorMessage} from '../errors.js'

/** One line of `homeops doctor`, as a check produces it (the runner adds `required` and `neededBy`). */
export interface Check {
  /** Stable id (`docker`, `dns-port`, `ddns-records`): what areas name in their `doctor.needs`. */
  id: string
  title: string
  ok: boolean
  /** A failure that leaves the mode working, only less useful (a warning, not a failed check). */
  advisory?: boolean
  /** What was found: a version, a path, or what went wrong. */
  detail: string
  hint?: string
}

/** What doctor reads from the state database. */
export interface StateHandle {
  close(): void
  prepare(sql: string): {get(): unknown}
}

const run = promisify(execFile)

/** A program on PATH, with the first line of its `--version`. */
export async function commandCheck(
  id: string,
  title: string,
  command: string,
  args: string[],
  hint: string,
): Promise<Check> {
  try {
    const {stdout} = await run(command, args, {timeout: 10_000})
    return {id, title, ok: true, detail: stdout.trim().split('\n')[0] ?? command}
  } catch (error) {
    const detail = errnoCode(error) === 'ENOENT' ? `\`${command}\` not found on PATH` : errorMessage(error)
    return {id, title, ok: false, detail, hint}
  }
}

/** Binds the UDP port and lets it go at once: rejects with the bind error (EADDRINUSE, EACCES). */
export function probeUdp(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4')
    socket.once('error', (error) => {
      socket.close()
      reject(error)
    })
    socket.bind(port, host, () => socket.close(() => resolve()))
  })
}

/** Listens on the TCP port (exclusively) and lets it go at once: rejects with the listen error. */
export function probeTcp(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({port, host, exclusive: true}, () => server.close(() => resolve()))
  })
}
