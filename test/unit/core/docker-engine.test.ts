import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'
import {createServer as createTlsServer} from 'node:https'
import type {AddressInfo} from 'node:net'
import type {TLSSocket} from 'node:tls'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {EngineError, connectEngine, createEngine, enginePath} from '../../../src/lib/docker/engine.js'
import {OperationError} from '../../../src/lib/errors.js'

/** A fake Engine API on a unix socket: records what it was asked, answers like dockerd. */
const dir = mkdtempSync(join(tmpdir(), 'hotest-engine-'))
const socket = join(dir, 'docker.sock')
const seen: {method?: string; url?: string}[] = []
const handle = (req: IncomingMessage, res: ServerResponse) => {
  seen.push({method: req.method, url: req.url})
  if (req.url === '/_ping') return void res.writeHead(200, {'content-type': 'text/plain'}).end('OK')
  if (req.url?.startsWith('/services?')) return void res.writeHead(200).end('[{"ID":"s1"}]')
  if (req.url?.startsWith('/images/')) {
    return void res
      .writeHead(404, {'content-type': 'application/json'})
      .end('{"message":"No such image: 127.0.0.1:5801/hotest/app:9"}')
  }
  res.writeHead(500).end('boom')
}
const servers: Server[] = []
async function listen(target: string | 0): Promise<Server> {
  const server = createServer(handle)
  await new Promise<void>((resolve) =>
    typeof target === 'string' ? server.listen(target, resolve) : server.listen(0, '127.0.0.1', resolve),
  )
  servers.push(server)
  return server
}

afterAll(async () => {
  for (const server of servers) await new Promise((resolve) => server.close(resolve))
  rmSync(dir, {recursive: true, force: true})
})

describe('Docker Engine API without dockerode', () => {
  it('pings, sends filters as JSON and parses the answer, over a unix socket', async () => {
    await listen(socket)
    const engine = await connectEngine(`unix://${socket}`)
    expect(engine.address).toBe(`unix://${socket}`)
    const services = await engine.get<{ID: string}[]>('/services', {filters: {label: ['com.docker.stack.namespace']}})
    expect(services).toEqual([{ID: 's1'}])
    expect(seen.at(-2)).toEqual({method: 'GET', url: '/_ping'})
    expect(new URL(seen.at(-1)!.url!, 'http://x').searchParams.get('filters')).toBe(
      '{"label":["com.docker.stack.namespace"]}',
    )
  })

  it('keeps the slashes of an image reference in the path and reports the status of a refusal', async () => {
    const engine = createEngine(`unix://${socket}`)
    const path = enginePath('/images', '127.0.0.1:5801/hotest/app:9', 'json')
    expect(path).toBe('/images/127.0.0.1%3A5801/hotest/app%3A9/json')
    const attempt = engine.get(path)
    await expect(attempt).rejects.toBeInstanceOf(EngineError)
    await expect(attempt).rejects.toMatchObject({
      statusCode: 404,
      message: `Docker API GET ${path}: HTTP 404: No such image: 127.0.0.1:5801/hotest/app:9`,
    })
  })

  it('talks plain HTTP to a tcp:// address', async () => {
    const server = await listen(0)
    const {port} = server.address() as AddressInfo
    const engine = await connectEngine(`tcp://127.0.0.1:${port}`)
    expect(engine.address).toBe(`tcp://127.0.0.1:${port}`)
    expect(await engine.get('/services', {all: true})).toEqual([{ID: 's1'}])
  })

  it('names the socket it tried when the daemon cannot be reached', async () => {
    const missing = join(dir, 'nothing.sock')
    const attempt = connectEngine(`unix://${missing}`)
    await expect(attempt).rejects.toBeInstanceOf(OperationError)
    await expect(attempt).rejects.toThrow(`cannot reach the Docker daemon at unix://${missing}: no socket there`)
  })

  it('over https presents the client certificate of DOCKER_CERT_PATH and checks the daemon against its ca.pem', async () => {
    const certs = join(dir, 'certs')
    const openssl = (...args: string[]) => execFileSync('openssl', args, {cwd: dir, stdio: 'ignore'})
    mkdirSync(certs)
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    openssl(
      'req',
      '-x509',
      ...ec,
      '-days',
      '1',
      '-subj',
      '/CN=hotest-ca',
      '-keyout',
      'ca-key.pem',
      '-out',
      join(certs, 'ca.pem'),
    )
    writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1\n')
    for (const [name, subject, extra] of [
      ['server', '/CN=dockerd', ['-extfile', 'san.cnf']],
      ['client', '/CN=homeops-client', []],
    ] as const) {
      openssl('req', ...ec, '-subj', subject, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`)
      openssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        join(certs, 'ca.pem'),
        '-CAkey',
        'ca-key.pem',
        '-CAcreateserial',
        '-days',
        '1',
        '-out',
        `${name}.pem`,
        ...extra,
      )
    }
    writeFileSync(join(certs, 'cert.pem'), readFileSync(join(dir, 'client.pem')))
    writeFileSync(join(certs, 'key.pem'), readFileSync(join(dir, 'client-key.pem')))
    const clients: string[] = []
    const server = createTlsServer(
      {
        key: readFileSync(join(dir, 'server-key.pem')),
        cert: readFileSync(join(dir, 'server.pem')),
        ca: readFileSync(join(certs, 'ca.pem')),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        clients.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN))
        handle(req, res)
      },
    )
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    servers.push(server)
    const address = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
    const engine = await connectEngine(address, {DOCKER_CERT_PATH: certs})
    expect(engine.address).toBe(address)
    expect(await engine.get('/services', {all: true})).toEqual([{ID: 's1'}])
    expect(clients).toEqual(['homeops-client', 'homeops-client'])
    // Without the certificates the daemon is not trusted (and would not accept us): named, not a stack trace.
    await expect(connectEngine(address, {})).rejects.toThrow(`cannot reach the Docker daemon at ${address}: `)
    await expect(connectEngine(address, {DOCKER_CERT_PATH: join(dir, 'nowhere')})).rejects.toThrow(
      /cannot read .*nowhere\/ca.pem \(DOCKER_CERT_PATH\)/,
    )
  })
})
