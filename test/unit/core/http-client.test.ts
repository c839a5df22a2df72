import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {describe, expect, it, vi} from 'vitest'

import {OperationError, TransientError} from '../../../src/lib/errors.js'
import {requestText} from '../../../src/lib/http/client.js'

describe('outgoing requests', () => {
  it('returns any status with the body and sends our User-Agent', async () => {
    const server = createServer((req, res) => {
      res.writeHead(418).end(`ua=${req.headers['user-agent']}`)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const {port} = server.address() as AddressInfo
      expect(await requestText(`http://127.0.0.1:${port}/x`, 'test service')).toEqual({status: 418, text: 'ua=homeops'})
    } finally {
      server.close()
    }
  })

  it('turns a refused connection into a TransientError naming the service, not the URL', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const {port} = server.address() as AddressInfo
    await new Promise((resolve) => server.close(resolve))
    const attempt = requestText(`http://127.0.0.1:${port}/hook?token=s3cret-token`, 'ntfy notifier')
    await expect(attempt).rejects.toThrow(TransientError)
    await expect(attempt).rejects.toThrow(/^ntfy notifier: connection refused$/)
  })

  it('gives up after the deadline', async () => {
    const server = createServer(() => {
      // never answers
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const {port} = server.address() as AddressInfo
      await expect(requestText(`http://127.0.0.1:${port}/`, 'slow service', {timeoutMs: 300})).rejects.toThrow(
        'slow service: no answer within 0.3 s',
      )
    } finally {
      server.closeAllConnections()
      server.close()
    }
  })

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<{url: string; close(): void}> {
    const server = createServer(handler)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const {port} = server.address() as AddressInfo
    return {
      url: `http://127.0.0.1:${port}`,
      close() {
        server.closeAllConnections()
        server.close()
      },
    }
  }

  it('cuts an endless answer while it streams and drops the connection', async () => {
    let sent = 0
    let closed = false
    const chunk = Buffer.alloc(64 * 1024, 'a')
    const server = await serve((_req, res) => {
      res.writeHead(200)
      res.on('close', () => (closed = true))
      const pump = () => {
        // Bounded: at most 64 MiB even if the client never stops reading.
        while (sent < 64 * 1024 * 1024 && res.write(chunk)) sent += chunk.length
        if (sent < 64 * 1024 * 1024 && !closed) res.once('drain', pump)
        else res.end()
      }
      pump()
    })
    try {
      const answer = await requestText(`${server.url}/big`, 'huge service', {maxChars: 1000})
      expect(answer).toEqual({status: 200, text: 'a'.repeat(1000)})
      await vi.waitFor(() => expect(closed).toBe(true), {timeout: 5000})
      expect(sent).toBeLessThan(8 * 1024 * 1024)
    } finally {
      server.close()
    }
  })

  it('words an https:// URL to a plain HTTP port in one line, as a mistake to fix, not a retryable failure', async () => {
    const server = await serve((_req, res) => res.end('plain'))
    try {
      const attempt = requestText(server.url.replace('http:', 'https:') + '/x', 'gotify notifier')
      await expect(attempt).rejects.toThrow(OperationError)
      await expect(attempt).rejects.toThrow(
        /^gotify notifier: TLS handshake failed: the server does not speak TLS on this port \(an https:\/\/ URL for a plain http:\/\/ service\?\)$/,
      )
    } finally {
      server.close()
    }
  })

  it('reports a redirect loop as such, follows a redirect on the same host, refuses one to another host', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/loop') res.writeHead(302, {location: '/loop2'}).end()
      else if (req.url === '/loop2') res.writeHead(302, {location: '/loop'}).end()
      else if (req.url === '/moved') res.writeHead(301, {location: '/here'}).end()
      else if (req.url === '/away') res.writeHead(307, {location: 'http://127.0.0.2:1/steal'}).end()
      else res.end(`at ${req.url} ${req.method}`)
    })
    try {
      await expect(requestText(`${server.url}/loop`, 'webhook notifier')).rejects.toThrow(
        /^webhook notifier: redirect loop \(HTTP 302 back to an address already visited\)$/,
      )
      expect(await requestText(`${server.url}/moved`, 'webhook notifier', {method: 'POST', body: 'x'})).toEqual({
        status: 200,
        text: 'at /here POST',
      })
      await expect(requestText(`${server.url}/away`, 'webhook notifier')).rejects.toThrow(
        /redirect to http:\/\/127\.0\.0\.2:1 \(another host or plain http\), not followed/,
      )
    } finally {
      server.close()
    }
  })
})
