import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'
import {createServer as createTlsServer} from 'node:https'
import type {AddressInfo} from 'node:net'
import type {TLSSocket} from 'node:tls'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {DockerApiError, connectDocker, createDocker} from '../../../src/lib/docker/client.js'
import {OperationError} from '../../../src/lib/errors.js'
import {imageExists, stackServices} from '../../../src/lib/swarm/docker.js'

/**
 * The one Docker client (dockerode, as `context.docker()` builds it) against a fake Engine API on a
 * unix socket: records what it was asked, answers like dockerd. What `swarm` needs from it.
 */
const dir = mkdtempSync(join(tmpdir(), 'hotest-engine-'))
const socket = join(dir, 'docker.sock')
const seen: {method?: string; url?: string}[] = []
const handle = (req: IncomingMessage, res: ServerResponse) => {
  seen.push({method: req.method, url: req.url})
  if (req.url === '/_ping') return void res.writeHead(200, {'content-type': 'text/plain'}).end('OK')
  if (req.url?.startsWith('/services?')) return void res.writeHead(200).end('[{"ID":"s1"}]')
  if (req.url?.startsWith('/images/hotest-refused/')) {
    return void res
      .writeHead(400, {'content-type': 'application/json'})
      .end('{"message":"invalid reference format: repository name must be lowercase"}')
  }
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

describe('the Docker client (dockerode) as swarm uses it', () => {
  it('pings, sends filters as JSON and parses the answer, over a unix socket', async () => {
    await listen(socket)
    const engine = await connectDocker(`unix://${socket}`)
    expect(engine.address).toBe(`unix://${socket}`)
    const services = await stackServices(engine.docker)
    expect(services).toEqual([{ID: 's1'}])
    expect(seen.at(-2)).toEqual({method: 'GET', url: '/_ping'})
    expect(new URL(seen.at(-1)!.url!, 'http://x').searchParams.get('filters')).toBe(
      '{"label":["com.docker.stack.namespace"]}',
    )
  })

  it('keeps the slashes of an image reference in the path and reports the status of a refusal', async () => {
    const {docker} = await createDocker(`unix://${socket}`)
    expect(await imageExists(docker, '127.0.0.1:5801/hotest/app:9')).toBe(false)
    const path = '/images/127.0.0.1%3A5801/hotest/app%3A9/json'
    expect(seen.at(-1)).toEqual({method: 'GET', url: path})
    const attempt = imageExists(docker, 'hotest-refused')
    await expect(attempt).rejects.toBeInstanceOf(DockerApiError)
    await expect(attempt).rejects.toMatchObject({
      statusCode: 400,
      message: `Docker API GET /images/hotest-refused/json: HTTP 400: invalid reference format: repository name must be lowercase`,
    })
  })

  it('talks plain HTTP to a tcp:// address', async () => {
    const server = await listen(0)
    const {port} = server.address() as AddressInfo
    const engine = await connectDocker(`tcp://127.0.0.1:${port}`)
    expect(engine.address).toBe(`tcp://127.0.0.1:${port}`)
    expect(await stackServices(engine.docker)).toEqual([{ID: 's1'}])
  })

  it('names the socket it tried when the daemon cannot be reached', async () => {
    const missing = join(dir, 'nothing.sock')
    const attempt = connectDocker(`unix://${missing}`)
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
    const engine = await connectDocker(address, {env: {DOCKER_CERT_PATH: certs}})
    expect(engine.address).toBe(address)
    expect(await stackServices(engine.docker)).toEqual([{ID: 's1'}])
    expect(clients).toEqual(['homeops-client', 'homeops-client'])
    // Without the certificates the daemon is not trusted (and would not accept us): named, not a stack trace.
    await expect(connectDocker(address, {env: {}})).rejects.toThrow(`cannot reach the Docker daemon at ${address}: `)
    await expect(connectDocker(address, {env: {DOCKER_CERT_PATH: join(dir, 'nowhere')}})).rejects.toThrow(
      /cannot read .*nowhere\/ca.pem \(DOCKER_CERT_PATH\)/,
    )
  })
})

describe('the Docker client: bounded answers and a light load', () => {
  it('refuses an answer longer than the cap of a call that is not a stream, naming the daemon', async () => {
    const bigSocket = join(dir, 'big.sock')
    const server = createServer((req, res) => {
      if (req.url === '/_ping') return void res.end('OK')
      res.writeHead(200, {'content-type': 'application/json'})
      // 3 MiB of one service list, in chunks, as a runaway or hostile daemon would send it
      res.write('[')
      for (let i = 0; i < 3 * 1024; i++) res.write(`${'{"ID":"x"},'.repeat(93)}{"ID":"y"},`)
      res.end('{"ID":"z"}]')
    })
    await new Promise<void>((resolve) => server.listen(bigSocket, resolve))
    servers.push(server)
    const {docker, address} = await connectDocker(`unix://${bigSocket}`, {maxAnswerBytes: 1024 * 1024})
    const attempt = stackServices(docker)
    await expect(attempt).rejects.toBeInstanceOf(OperationError)
    await expect(attempt).rejects.toThrow(`the Docker daemon at ${address} sent an answer longer than 1 MiB`)
  })

  it('streams (events, stats, pulls, logs) are not capped; listings and inspects are', async () => {
    const {isStreamAnswer} = await import('../../../src/lib/docker/idle-timeout.js')
    expect(isStreamAnswer('/v1.41/events?filters=%7B%7D')).toBe(true)
    expect(isStreamAnswer('/containers/abc/stats?stream=true')).toBe(true)
    expect(isStreamAnswer('/containers/abc/stats?stream=false')).toBe(false)
    expect(isStreamAnswer('/images/create?fromImage=a&tag=1')).toBe(true)
    expect(isStreamAnswer('/containers/abc/logs?follow=1')).toBe(true)
    expect(isStreamAnswer('/services?filters=%7B%7D')).toBe(false)
    expect(isStreamAnswer('/images/127.0.0.1:5000/a/b:1/json')).toBe(false)
  })

  it('defers ssh2 and gRPC until an ssh:// client or a BuildKit session needs them', async () => {
    const {createRequire} = await import('node:module')
    const require = createRequire(import.meta.url)
    const {loadDockerode} = await import('../../../src/lib/docker/client.js')
    const Dockerode = await loadDockerode()
    const loaded = () => Object.keys(require.cache).filter((k) => /node_modules\/(ssh2|@grpc)\//.test(k))
    expect(loaded()).toEqual([])
    // The deferred transport still works: an ssh:// client reaches ssh2, which reports the refused connection.
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const ssh = new Dockerode({protocol: 'ssh', host: '127.0.0.1', port, username: 'hotest'})
    await expect(ssh.ping()).rejects.toThrow(/ECONNREFUSED/)
    expect(loaded().some((k) => k.includes('/ssh2/'))).toBe(true)
  })
})
