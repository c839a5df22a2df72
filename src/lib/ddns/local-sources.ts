import {readFile} from 'node:fs/promises'

import {type Family, checkPublicAddress} from './address.js'

/** `/proc/net/if_inet6` flag bits (linux/if_addr.h). */
const IFA_F_TEMPORARY = 0x01
const IFA_F_DADFAILED = 0x08
const IFA_F_DEPRECATED = 0x20
const IFA_F_TENTATIVE = 0x40
const IFA_F_PERMANENT = 0x80
const IFA_F_MANAGETEMPADDR = 0x100

export interface InterfaceAddress {
  address: string
  flags: number
}

/** The IPv6 addresses of `ifname` in `/proc/net/if_inet6`'s text (`addr ifindex plen scope flags name`). */
export function parseIfInet6(text: string, ifname: string): InterfaceAddress[] {
  const out: InterfaceAddress[] = []
  for (const line of text.split('\n').slice(0, 4096)) {
    const [hex, , , , flags, name] = line.trim().split(/\s+/)
    if (name !== ifname || !hex || !/^[0-9a-f]{32}$/i.test(hex) || !flags) continue
    out.push({address: hex.match(/.{4}/g)!.join(':'), flags: Number.parseInt(flags, 16)})
  }
  return out
}

/**
 * The stable global IPv6 address of an interface: privacy (temporary) addresses rotate every few hours and
 * must never go into DNS, deprecated and tentative ones are on their way out or not usable yet, and private,
 * link-local and ULA addresses are not public. Among the rest, a permanent or privacy-base (mngtmpaddr,
 * the stable SLAAC address) one is preferred; ties go to the lowest address, so the choice is stable.
 */
export function pickStableIPv6(addresses: InterfaceAddress[]): string | undefined {
  const usable = addresses
    .filter((a) => (a.flags & (IFA_F_TEMPORARY | IFA_F_DEPRECATED | IFA_F_TENTATIVE | IFA_F_DADFAILED)) === 0)
    .map((a) => ({...a, checked: checkPublicAddress(a.address, 6)}))
    .filter((a) => a.checked.ok)
    .map((a) => ({
      ip: (a.checked as {ip: string}).ip,
      stable: (a.flags & (IFA_F_PERMANENT | IFA_F_MANAGETEMPADDR)) !== 0,
    }))
    .sort((a, b) => Number(b.stable) - Number(a.stable) || (a.ip < b.ip ? -1 : 1))
  return usable[0]?.ip
}

/** The public address of `family` on interface `ifname`, or an error saying what it holds instead. */
export async function interfaceAddress(
  ifname: string,
  family: Family,
  procPath = '/proc/net/if_inet6',
): Promise<string> {
  if (family === 6) {
    let text: string
    try {
      text = (await readFile(procPath, 'utf8')).slice(0, 1024 * 1024)
    } catch {
      throw new Error(`cannot read ${procPath} (IPv6 disabled, or not Linux)`)
    }
    const addresses = parseIfInet6(text, ifname)
    if (addresses.length === 0) throw new Error(`interface ${ifname} has no IPv6 address`)
    const ip = pickStableIPv6(addresses)
    if (!ip)
      throw new Error(
        `interface ${ifname} has no stable global IPv6 address (only temporary, deprecated or non-public ones)`,
      )
    return ip
  }
  const {networkInterfaces} = await import('node:os')
  const entries = networkInterfaces()[ifname]
  if (!entries) throw new Error(`no interface named ${ifname}`)
  const v4 = entries.filter((e) => e.family === 'IPv4').map((e) => e.address)
  const ip = v4.find((a) => checkPublicAddress(a, 4).ok)
  if (!ip)
    throw new Error(`interface ${ifname} has no public IPv4 address${v4.length > 0 ? ` (${v4.join(', ')})` : ''}`)
  return ip
}

export interface CommandOptions {
  timeoutMs: number
  signal?: AbortSignal
  /** Output past this is an error (default 4 KiB). */
  maxBytes?: number
}

/**
 * Runs a command (no shell) whose standard output is the address: bounded in time (its whole process group
 * is killed at the deadline, so a forked `sleep` cannot hold the run) and in output. `HOMEOPS_DDNS_FAMILY`
 * tells it which family is wanted.
 */
export async function commandOutput(argv: string[], family: Family, options: CommandOptions): Promise<string> {
  const {spawn} = await import('node:child_process')
  const maxBytes = options.maxBytes ?? 4096
  return new Promise<string>((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'pipe', 'ignore'],
      detached: true,
      env: {...process.env, HOMEOPS_DDNS_FAMILY: String(family)},
    })
    const chunks: Buffer[] = []
    let length = 0
    let settled = false
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
    const finish = (error: Error | undefined, text?: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      killGroup()
      child.stdout.destroy()
      if (error) reject(error)
      else resolve(text!)
    }
    const onAbort = () => finish(new Error('stopped'))
    const timer = setTimeout(
      () => finish(new Error(`no output within ${options.timeoutMs / 1000}s (killed)`)),
      options.timeoutMs,
    )
    options.signal?.addEventListener('abort', onAbort, {once: true})
    child.stdout.on('data', (chunk: Buffer) => {
      length += chunk.length
      if (length > maxBytes) return finish(new Error(`more than ${maxBytes} bytes of output (killed)`))
      chunks.push(chunk)
    })
    child.on('error', (error) => finish(new Error(`cannot run ${argv[0]}: ${error.message}`)))
    const decide = (code: number | null, signal: NodeJS.Signals | null) => {
      if (code === 0) finish(undefined, Buffer.concat(chunks).toString('utf8'))
      else finish(new Error(signal ? `killed by ${signal}` : `exited ${code}`))
    }
    // 'close' comes once the process exited and its output is read to the end.
    child.on('close', decide)
    // A process it forked may keep the pipe open after it exited: decide on what was read by then.
    child.on('exit', (code, signal) => setTimeout(() => decide(code, signal), 1000).unref())
  })
}
