import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {describe, expect, it} from 'vitest'

import {TransientError} from '../../../src/lib/errors.js'
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
    await expect(attempt).rejects.toThrow(/^ntfy notifier: ECONNREFUSED$/)
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
})
