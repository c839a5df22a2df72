import {spawn} from 'node:child_process'
import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'

/**
 * `git http-backend` behind a small node:http CGI bridge on 127.0.0.1 port 0:
 * the smart HTTP protocol git clients speak to GitHub/Gitea, with basic auth
 * checked here (as a reverse proxy would) and every Authorization header it
 * received recorded, so tests can see which host got a token.
 */
export interface GitHttpServer {
  url: string
  /** Authorization headers received, in order (undefined when absent). */
  authorizations: (string | undefined)[]
  /** Every request, in order: what git (or homeops itself) asked for. */
  requests: {method?: string; path?: string; authorization?: string}[]
  close(): Promise<void>
}

export async function startGitHttp(options: {
  projectRoot: string
  /** `user:password` required for every request; none → anonymous access. */
  credentials?: string
}): Promise<GitHttpServer> {
  const authorizations: (string | undefined)[] = []
  const requests: GitHttpServer['requests'] = []
  const expected = options.credentials ? `Basic ${Buffer.from(options.credentials).toString('base64')}` : undefined

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    authorizations.push(request.headers.authorization)
    requests.push({method: request.method, path: request.url, authorization: request.headers.authorization})
    if (expected && request.headers.authorization !== expected) {
      response.writeHead(401, {'www-authenticate': 'Basic realm="git"', 'content-type': 'text/plain'})
      response.end('authentication required\n')
      return
    }
    const url = new URL(request.url ?? '/', 'http://127.0.0.1')
    const child = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: options.projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        REQUEST_METHOD: request.method ?? 'GET',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: request.headers['content-type'] ?? '',
        CONTENT_LENGTH: request.headers['content-length'] ?? '',
        HTTP_CONTENT_ENCODING: request.headers['content-encoding'] ?? '',
        GIT_PROTOCOL: String(request.headers['git-protocol'] ?? ''),
        REMOTE_USER: expected ? options.credentials!.split(':')[0] : '',
        REMOTE_ADDR: request.socket.remoteAddress ?? '127.0.0.1',
        SERVER_PROTOCOL: 'HTTP/1.1',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    request.pipe(child.stdin)
    let head = Buffer.alloc(0)
    let headersDone = false
    child.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        response.write(chunk)
        return
      }
      head = Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      headersDone = true
      let status = 200
      const headers: Record<string, string> = {}
      for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
        const colon = line.indexOf(':')
        if (colon < 0) continue
        const name = line.slice(0, colon).trim()
        const value = line.slice(colon + 1).trim()
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10)
        else headers[name] = value
      }
      response.writeHead(status, headers)
      response.write(head.subarray(end + 4))
    })
    child.on('close', () => {
      if (!headersDone) response.writeHead(500).end('git http-backend failed\n')
      else response.end()
    })
  }

  const server: Server = createServer(handle)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as {port: number}
  return {
    url: `http://127.0.0.1:${port}`,
    authorizations,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
