import {UserError} from '../errors.js'

export interface ListenAddress {
  host: string
  port: number
}

/** `127.0.0.1:8080`, `[::1]:8080`, `localhost:8080`, or a bare port (loopback). */
export function parseListen(value: string, setting = 'listen'): ListenAddress {
  const text = value.trim()
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text)
  const plain = /^([^:]*):(\d+)$/.exec(text)
  const bare = /^(\d+)$/.exec(text)
  const host = bracketed?.[1] ?? plain?.[1] ?? (bare ? '127.0.0.1' : undefined)
  const port = Number(bracketed?.[2] ?? plain?.[2] ?? bare?.[1])
  if (host === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UserError(`${setting} "${value}" is not an address`, {
      hint: 'use HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080',
    })
  }
  return {host: host === '' ? '127.0.0.1' : host, port}
}

export function formatHostPort({host, port}: ListenAddress): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
