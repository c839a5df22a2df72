import {readFile} from 'node:fs/promises'
import {networkInterfaces} from 'node:os'

export interface HostIp {
  addresses: string[]
  /** `config`, `default route via eth0`, `first interface`, `loopback (nothing else found)`. */
  origin: string
}

/**
 * The address names point at when their source gives none: `HOSTIP`
 * (comma-separated, IPv4 and/or IPv6) when set, else the IPv4 address of the
 * interface holding the default route (`/proc/net/route`), else the first
 * non-internal IPv4 address, else 127.0.0.1.
 */
export async function detectHostIp(configured: string | undefined, routeFile = '/proc/net/route'): Promise<HostIp> {
  if (configured && configured.trim() !== '') {
    return {
      addresses: configured
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      origin: 'HOSTIP',
    }
  }
  const interfaces = networkInterfaces()
  const iface = await defaultRouteInterface(routeFile)
  if (iface) {
    const address = interfaces[iface]?.find((a) => a.family === 'IPv4' && !a.internal)
    if (address) return {addresses: [address.address], origin: `default route via ${iface}`}
  }
  for (const [name, list] of Object.entries(interfaces)) {
    const address = list?.find((a) => a.family === 'IPv4' && !a.internal)
    if (address) return {addresses: [address.address], origin: `first interface (${name})`}
  }
  return {addresses: ['127.0.0.1'], origin: 'loopback (no other interface found)'}
}

/** The interface of the default route with the lowest metric, from `/proc/net/route`. */
export async function defaultRouteInterface(routeFile = '/proc/net/route'): Promise<string | undefined> {
  let text: string
  try {
    text = await readFile(routeFile, 'utf8')
  } catch {
    return undefined
  }
  let best: {iface: string; metric: number} | undefined
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/)
    if (cols.length < 8) continue
    const [iface, destination, , flags, , , metric, mask] = cols
    const up = (Number.parseInt(flags!, 16) & 0x1) !== 0
    if (destination !== '00000000' || mask !== '00000000' || !up) continue
    const m = Number(metric)
    if (!best || m < best.metric) best = {iface: iface!, metric: m}
  }
  return best?.iface
}
