import {type ChildProcess, spawn} from 'node:child_process'
import {accessSync, constants} from 'node:fs'
import {delimiter, join} from 'node:path'

import {errorMessage} from '../errors.js'
import type {Logger} from '../log/logger.js'

/**
 * systemd's `sd_notify` protocol (READY=1, STOPPING=1, RELOADING=1, STATUS=…,
 * WATCHDOG=1) without a native addon.
 *
 * `NOTIFY_SOCKET` is a unix *datagram* socket and Node can only send
 * datagrams over UDP, so one small helper process sends them:
 *
 * 1. `systemd-notify` (shipped with systemd, so present wherever a unit can be
 *    `Type=notify`): one short process per message. Since systemd 246 it waits
 *    until the manager has processed the message (`sd_notify_barrier`), so the
 *    helper's short life does not lose it. The unit needs `NotifyAccess=all`
 *    because the sender is the helper, not the main process.
 * 2. `python3` (containers and hosts without systemd-notify in PATH, e.g.
 *    podman `--sdnotify=container`): one long-lived helper reading messages on
 *    its stdin; it lives as long as homeops, inside the unit's cgroup.
 *
 * `HOMEOPS_NOTIFY_HELPER=systemd-notify|python3|none` forces a choice.
 * Without `NOTIFY_SOCKET` everything here is a no-op.
 */
export type NotifyHelper = 'systemd-notify' | 'python3'

export interface NotifierOptions {
  logger: Logger
  env?: NodeJS.ProcessEnv
  /** Remove NOTIFY_SOCKET/WATCHDOG_* from `env` so child processes do not inherit them (default true). */
  unsetEnvironment?: boolean
  pid?: number
}

export interface Notifier {
  /** The socket notifications go to, or undefined when not run by systemd. */
  readonly socket?: string
  readonly helper?: NotifyHelper
  /** Watchdog ping interval in ms (half of WATCHDOG_USEC), when systemd asked for one. */
  readonly watchdogIntervalMs?: number
  /** Sends `KEY=value` assignments; resolves once handed to the helper (never rejects). */
  notify(assignments: Record<string, string | number>): Promise<void>
  ready(status?: string): Promise<void>
  reloading(): Promise<void>
  stopping(status?: string): Promise<void>
  status(text: string): Promise<void>
  /** Starts `WATCHDOG=1` pings at half the interval systemd asked for (no-op without WATCHDOG_USEC). */
  startWatchdog(): void
  /** Stops the watchdog and the helper. */
  close(): Promise<void>
}

export function createNotifier(options: NotifierOptions): Notifier {
  const env = options.env ?? process.env
  const pid = options.pid ?? process.pid
  const socket = env.NOTIFY_SOCKET || undefined
  const watchdogUsec = Number(env.WATCHDOG_USEC)
  const watchdogPid = env.WATCHDOG_PID ? Number(env.WATCHDOG_PID) : undefined
  const watchdogIntervalMs =
    Number.isFinite(watchdogUsec) && watchdogUsec > 0 && (watchdogPid === undefined || watchdogPid === pid)
      ? Math.max(1, Math.floor(watchdogUsec / 2000))
      : undefined
  const forced = env.HOMEOPS_NOTIFY_HELPER
  if (options.unsetEnvironment !== false) {
    delete env.NOTIFY_SOCKET
    delete env.WATCHDOG_USEC
    delete env.WATCHDOG_PID
  }
  const logger = options.logger.child({component: 'systemd'})

  if (!socket || forced === 'none') return disabledNotifier(socket)

  const helper: NotifyHelper | undefined =
    forced === 'systemd-notify' || forced === 'python3'
      ? forced
      : findExecutable('systemd-notify', env)
        ? 'systemd-notify'
        : findExecutable('python3', env)
          ? 'python3'
          : undefined
  if (!helper) {
    logger.warn('NOTIFY_SOCKET is set but neither systemd-notify nor python3 is in PATH: cannot notify systemd', {
      hint: 'install systemd or python3, or use Type=simple',
    })
    return disabledNotifier(socket)
  }
  logger.debug('systemd notifications enabled', {socket, helper, watchdogMs: watchdogIntervalMs})

  const childEnv: NodeJS.ProcessEnv = {...env, NOTIFY_SOCKET: socket}
  delete childEnv.WATCHDOG_USEC
  delete childEnv.WATCHDOG_PID
  let chain: Promise<void> = Promise.resolve()
  let python: ChildProcess | undefined
  let warned = false
  let watchdog: NodeJS.Timeout | undefined
  let closed = false

  const warnOnce = (message: string, error: unknown) => {
    if (warned) return logger.debug(message, {error: errorMessage(error)})
    warned = true
    logger.warn(message, {error: errorMessage(error)})
  }

  const sendWithSystemdNotify = (lines: string[]) =>
    new Promise<void>((resolve) => {
      const child = spawn('systemd-notify', [`--pid=${pid}`, ...lines], {
        env: childEnv,
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      let stderr = ''
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      child.on('error', (error) => {
        clearTimeout(timer)
        warnOnce('systemd-notify failed', error)
        resolve()
      })
      child.on('close', (code) => {
        clearTimeout(timer)
        if (code !== 0) warnOnce('systemd-notify failed', new Error(stderr.trim() || `exit code ${code}`))
        resolve()
      })
    })

  const sendWithPython = (lines: string[]) => {
    if (!python || python.exitCode !== null || python.killed) {
      python = spawn('python3', ['-c', PYTHON_HELPER], {env: childEnv, stdio: ['pipe', 'ignore', 'pipe']})
      let stderr = ''
      python.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
        if (stderr.includes('\n')) {
          warnOnce('sending to NOTIFY_SOCKET failed', new Error(stderr.trim()))
          stderr = ''
        }
      })
      python.on('error', (error) => warnOnce('python3 notify helper failed', error))
      python.stdin?.on('error', () => {})
      python.unref()
      ;(python.stdin as unknown as {unref?: () => void})?.unref?.()
      ;(python.stderr as unknown as {unref?: () => void})?.unref?.()
    }
    python.stdin?.write(JSON.stringify(lines.join('\n')) + '\n')
    return Promise.resolve()
  }

  const notifier: Notifier = {
    socket,
    helper,
    watchdogIntervalMs,
    notify(assignments) {
      const lines = Object.entries(assignments).map(([key, value]) => `${key}=${String(value).replace(/\n/g, ' ')}`)
      if (lines.length === 0 || closed) return chain
      chain = chain.then(() => (helper === 'systemd-notify' ? sendWithSystemdNotify(lines) : sendWithPython(lines)))
      return chain
    },
    ready(status) {
      return notifier.notify({READY: 1, MAINPID: pid, ...(status ? {STATUS: status} : {})})
    },
    reloading() {
      return notifier.notify({RELOADING: 1, MONOTONIC_USEC: monotonicUsec()})
    },
    stopping(status) {
      return notifier.notify({STOPPING: 1, ...(status ? {STATUS: status} : {})})
    },
    status(text) {
      return notifier.notify({STATUS: text})
    },
    startWatchdog() {
      if (!watchdogIntervalMs || watchdog) return
      watchdog = setInterval(() => void notifier.notify({WATCHDOG: 1}), watchdogIntervalMs)
      watchdog.unref()
    },
    async close() {
      clearInterval(watchdog)
      watchdog = undefined
      await chain
      closed = true
      if (python && python.exitCode === null) {
        const child = python
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            child.kill('SIGKILL')
            resolve()
          }, 2000)
          child.once('close', () => {
            clearTimeout(timer)
            resolve()
          })
          child.stdin?.end()
        })
      }
    },
  }
  return notifier
}

function disabledNotifier(socket: string | undefined): Notifier {
  const done = () => Promise.resolve()
  return {
    socket,
    notify: done,
    ready: done,
    reloading: done,
    stopping: done,
    status: done,
    startWatchdog() {},
    close: done,
  }
}

/** CLOCK_MONOTONIC in µs (libuv's hrtime is CLOCK_MONOTONIC on Linux), for RELOADING=1. */
function monotonicUsec(): string {
  return String(process.hrtime.bigint() / 1000n)
}

export function findExecutable(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    if (!dir) continue
    const file = join(dir, name)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {
      // next
    }
  }
  return undefined
}

/** Reads JSON strings, one per line, and sends each as one datagram (abstract sockets start with "@"). */
const PYTHON_HELPER = `
import json, os, socket, sys
addr = os.environ["NOTIFY_SOCKET"]
if addr.startswith("@"):
    addr = "\\0" + addr[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for line in sys.stdin:
    try:
        s.sendto(json.loads(line).encode("utf-8"), addr)
    except Exception as e:
        sys.stderr.write("%s: %s\\n" % (os.environ["NOTIFY_SOCKET"], e))
        sys.stderr.flush()
`
