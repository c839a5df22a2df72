import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {parseAllowList, secretsEqual} from '../../../src/lib/http/access.js'
import {parseListen} from '../../../src/lib/http/address.js'
import {HttpError, Router, json} from '../../../src/lib/http/router.js'
import {type RunningHttpServer, startHttpServer} from '../../../src/lib/http/server.js'
import {staticFiles} from '../../../src/lib/http/static-files.js'
import {Logger} from '../../../src/lib/log/logger.js'

const lines: string[] = []
const logger = new Logger({format: 'text', sink: {write: (l: string) => lines.push(l)}})
let server: RunningHttpServer
let apiEnabled = true
const parent = mkdtempSync(join(tmpdir(), 'homeops-web-'))

beforeAll(async () => {
  const web = join(parent, 'web')
  mkdirSync(web)
  writeFileSync(join(web, 'index.html'), '<h1>hi</h1>')
  mkdirSync(join(web, 'css'))
  writeFileSync(join(web, 'css', 'a.css'), 'body{}')
  writeFileSync(join(parent, 'homeops-secret-outside.txt'), 'outside') // beside web/: a traversal's target
  const router = new Router()
    .get('/items/:name', (req) => json({name: req.params.name, q: req.query.get('q')}))
    .post('/echo', async (req) => json({got: await req.json()}), {bodyLimit: 100})
    .get('/teapot', () => {
      throw new HttpError(418, {error: 'teapot'})
    })
    .get('/boom', () => {
      throw new Error('kaboom')
    })
    .get('/private', () => json({ok: true}), {
      access: {
        enabled: () => apiEnabled,
        apiKey: () => 'sekret-key',
        allowList: () => parseAllowList(['127.0.0.1/32']),
      },
    })
    .get('/v6only', () => json({ok: true}), {access: {allowList: () => parseAllowList(['::1/128'])}})
    .get('/web/*', staticFiles(web))
  server = await startHttpServer({listen: parseListen('127.0.0.1:0'), router, logger, accessLog: true})
})

afterAll(async () => {
  await server.close()
  rmSync(parent, {recursive: true, force: true})
})

async function call(path: string, init?: RequestInit): Promise<{status: number; body: unknown}> {
  const res = await fetch(server.url + path, init)
  const text = await res.text()
  return {status: res.status, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text}
}

describe('http server', () => {
  it('routes with params and query', async () => {
    expect(await call('/items/a%20b?q=1')).toEqual({status: 200, body: {name: 'a b', q: '1'}})
  })

  it('answers JSON errors for unknown routes, wrong methods and thrown errors', async () => {
    expect(await call('/nope')).toEqual({status: 404, body: {error: 'not_found'}})
    expect(await call('/items/x', {method: 'POST'})).toEqual({
      status: 405,
      body: {error: 'method_not_allowed', allowed: ['GET']},
    })
    expect(await call('/teapot')).toEqual({status: 418, body: {error: 'teapot'}})
    expect(await call('/boom')).toEqual({status: 500, body: {error: 'kaboom'}})
  })

  it('parses JSON bodies, refuses invalid JSON and bodies over the limit', async () => {
    const post = (body: string) => call('/echo', {method: 'POST', body, headers: {'content-type': 'application/json'}})
    expect(await post('{"a":1}')).toEqual({status: 200, body: {got: {a: 1}}})
    expect(await post('{nope')).toEqual({status: 400, body: {error: 'invalid_json'}})
    expect((await post(JSON.stringify({x: 'y'.repeat(200)}))).status).toBe(413)
  })

  it('requires the API key by query, bearer or X-API-Key header', async () => {
    expect(await call('/private')).toEqual({status: 401, body: {error: 'unauthorized'}})
    expect(await call('/private?key=wrong')).toEqual({status: 401, body: {error: 'unauthorized'}})
    expect((await call('/private?key=sekret-key')).status).toBe(200)
    expect((await call('/private', {headers: {authorization: 'Bearer sekret-key'}})).status).toBe(200)
    expect((await call('/private', {headers: {'x-api-key': 'sekret-key'}})).status).toBe(200)
  })

  it('answers api_disabled when the API is switched off', async () => {
    apiEnabled = false
    try {
      expect(await call('/private?key=sekret-key')).toEqual({status: 403, body: {error: 'api_disabled'}})
    } finally {
      apiEnabled = true
    }
  })

  it('refuses an address outside the allow-list with 403 JSON', async () => {
    const res = await call('/v6only')
    expect(res.status).toBe(403)
    expect(res.body).toMatchObject({error: 'forbidden'})
  })

  it('serves static files and never a path outside the folder', async () => {
    expect(await call('/web/')).toEqual({status: 200, body: '<h1>hi</h1>'})
    expect(await call('/web/css/a.css')).toEqual({status: 200, body: 'body{}'})
    expect((await call('/web/../homeops-secret-outside.txt')).status).toBe(404)
    expect((await call('/web/%2e%2e/%2e%2e/homeops-secret-outside.txt')).status).toBe(404)
  })

  it('writes one access log line per request, with status', () => {
    expect(
      lines.some((l) =>
        / info http method=GET path=\/items\/a%20b status=200 ms=\d+ remote=127\.0\.0\.1$/.test(l.trim()),
      ),
    ).toBe(true)
  })
})

describe('address and allow-list parsing', () => {
  it('parses listen addresses', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({host: '127.0.0.1', port: 8080})
    expect(parseListen('[::1]:53')).toEqual({host: '::1', port: 53})
    expect(parseListen('5000')).toEqual({host: '127.0.0.1', port: 5000})
    expect(() => parseListen('localhost')).toThrow(/is not an address/)
  })

  it('matches IPv4, IPv6 and IPv4-mapped addresses, and refuses garbage entries', () => {
    const list = parseAllowList(['192.168.1.0/24', '::1/128', '10.0.0.5'])
    expect(list.allows('192.168.1.77')).toBe(true)
    expect(list.allows('::ffff:192.168.1.77')).toBe(true)
    expect(list.allows('192.168.2.1')).toBe(false)
    expect(list.allows('::1')).toBe(true)
    expect(list.allows('10.0.0.5')).toBe(true)
    expect(list.allows('10.0.0.6')).toBe(false)
    expect(() => parseAllowList(['300.1.1.1/8'])).toThrow(/"300.1.1.1\/8" is not an address or CIDR range/)
    expect(() => parseAllowList(['10.0.0.0/33'])).toThrow(/is not an address or CIDR range/)
  })

  it('compares secrets of any length', () => {
    expect(secretsEqual('abc', 'abc')).toBe(true)
    expect(secretsEqual('abc', 'abcd')).toBe(false)
  })
})
