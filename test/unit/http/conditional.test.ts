import type {IncomingMessage} from 'node:http'
import {gunzipSync} from 'node:zlib'

import {describe, expect, it} from 'vitest'

import {conditionalBody} from '../../../src/lib/http/conditional.js'

const req = (headers: Record<string, string>) => ({headers}) as unknown as IncomingMessage

describe('ETag and gzip on GET answers', () => {
  const body = JSON.stringify({rows: Array.from({length: 200}, (_, i) => ({name: `c${i}`, state: 'running'}))})

  it('compresses a large JSON answer for a client that accepts gzip, and tags it', () => {
    const headers: Record<string, string> = {'content-type': 'application/json; charset=utf-8'}
    const answer = conditionalBody(req({'accept-encoding': 'gzip, br'}), 'GET', 200, headers, body)
    expect(headers['content-encoding']).toBe('gzip')
    expect(headers.etag).toMatch(/^"[\w-]{22}"$/)
    expect(gunzipSync(answer.body as Buffer).toString()).toBe(body)
    expect((answer.body as Buffer).length).toBeLessThan(body.length / 4)
  })

  it('answers 304 with no body when the client already has that version', () => {
    const first: Record<string, string> = {'content-type': 'application/json'}
    conditionalBody(req({}), 'GET', 200, first, body)
    const again: Record<string, string> = {'content-type': 'application/json'}
    const answer = conditionalBody(req({'if-none-match': `W/${first.etag}`}), 'GET', 200, again, body)
    expect(answer).toEqual({status: 304, body: ''})
  })

  it('leaves writes, errors and small or binary bodies alone', () => {
    const headers: Record<string, string> = {'content-type': 'application/json'}
    expect(conditionalBody(req({'accept-encoding': 'gzip'}), 'POST', 200, headers, body).body).toBe(body)
    expect(conditionalBody(req({'accept-encoding': 'gzip'}), 'GET', 404, headers, body).body).toBe(body)
    const png: Record<string, string> = {'content-type': 'image/png'}
    conditionalBody(req({'accept-encoding': 'gzip'}), 'GET', 200, png, Buffer.alloc(4096))
    expect(png['content-encoding']).toBeUndefined()
  })
})
