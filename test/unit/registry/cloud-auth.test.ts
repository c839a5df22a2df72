import {createVerify, generateKeyPairSync} from 'node:crypto'
import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

import {afterEach, describe, expect, it} from 'vitest'

import {OperationError} from '../../../src/lib/errors.js'
import {ACR_REFRESH_USER, signV4} from '../../../src/lib/registry/cloud-auth.js'
import {RegistryClient} from '../../../src/lib/registry/client.js'
import {parseImageReference} from '../../../src/lib/registry/reference.js'

/** Loopback fakes of each provider's token endpoint, speaking its documented protocol. */
type Handler = (req: IncomingMessage, res: ServerResponse, url: URL, body: string) => void
let servers: Server[] = []
const clients: RegistryClient[] = []

async function fake(handler: Handler): Promise<{host: string; hits: {path: string; body: string}[]}> {
  const hits: {path: string; body: string}[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString('utf8')))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x')
      hits.push({path: url.pathname, body})
      handler(req, res, url, body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  return {host: `127.0.0.1:${(server.address() as AddressInfo).port}`, hits}
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close()
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  servers = []
})

function client(
  credentials: NonNullable<ConstructorParameters<typeof RegistryClient>[0]>['credentials'],
): RegistryClient {
  const c = new RegistryClient({dockerConfigPath: '/nonexistent', credentials})
  clients.push(c)
  return c
}

const DIGEST = 'sha256:' + 'e'.repeat(64)
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`
const json = (res: ServerResponse, status: number, value: unknown) =>
  res.writeHead(status, {'content-type': 'application/json'}).end(JSON.stringify(value))

/** A registry that challenges with Bearer and trusts tokens from its realm, which checks Basic `user:pass`. */
async function bearerRegistry(user: string, pass: string, realmPath = '/token') {
  const tokens: string[] = []
  const registry = await fake((req, res, url) => {
    if (url.pathname === realmPath) {
      if (req.headers.authorization !== basic(user, pass)) return json(res, 401, {errors: [{code: 'UNAUTHORIZED'}]})
      tokens.push(url.searchParams.get('scope') ?? '')
      return json(res, 200, {token: 'registry-token', expires_in: 300})
    }
    if (req.headers.authorization !== 'Bearer registry-token')
      return res
        .writeHead(401, {
          'www-authenticate': `Bearer realm="http://${registry.host}${realmPath}",service="${registry.host}"`,
        })
        .end()
    res.writeHead(200, {'docker-content-digest': DIGEST}).end()
  })
  return {...registry, tokens}
}

describe('AWS Signature Version 4', () => {
  it('matches the AWS test suite (get-vanilla)', () => {
    const headers = signV4(
      {method: 'GET', url: new URL('https://example.amazonaws.com/'), headers: {}, body: ''},
      {
        accessKeyId: 'AKIDEXAMPLE',
        secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
        region: 'us-east-1',
        service: 'service',
        date: new Date('2015-08-30T12:36:00Z'),
      },
    )
    expect(headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    )
  })
})

describe('registry auth flows', () => {
  it('ECR: signs GetAuthorizationToken, then uses AWS:<token> as Basic credentials, once per run', async () => {
    const now = Date.now()
    const api = await fake((req, res, _url, body) => {
      const auth = String(req.headers.authorization)
      const expected = signV4(
        {
          method: 'POST',
          url: new URL(`http://${req.headers.host}/`),
          headers: {
            'content-type': String(req.headers['content-type']),
            'x-amz-target': String(req.headers['x-amz-target']),
          },
          body,
        },
        {
          accessKeyId: 'AKIAEXAMPLE',
          secretAccessKey: 'ecr-secret-key',
          region: 'eu-west-1',
          service: 'ecr',
          date: new Date(
            String(req.headers['x-amz-date']).replace(
              /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/,
              '$1-$2-$3T$4:$5:$6Z',
            ),
          ),
        },
      ).authorization
      if (
        req.headers['x-amz-target'] !== 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken' ||
        auth !== expected
      )
        return json(res, 403, {__type: 'InvalidSignatureException'})
      json(res, 200, {
        authorizationData: [
          {
            authorizationToken: Buffer.from('AWS:ecr-password-123').toString('base64'),
            expiresAt: Math.floor(now / 1000) + 12 * 3600,
          },
        ],
      })
    })
    const registry = await fake((req, res) =>
      req.headers.authorization === basic('AWS', 'ecr-password-123')
        ? res.writeHead(200, {'docker-content-digest': DIGEST}).end()
        : res
            .writeHead(401, {'www-authenticate': 'Basic realm="https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/"'})
            .end(),
    )
    const c = client([
      {
        host: registry.host,
        type: 'ecr',
        region: 'eu-west-1',
        accessKeyId: 'AKIAEXAMPLE',
        secretAccessKey: 'ecr-secret-key',
        endpoint: `http://${api.host}/`,
      },
    ])
    for (const tag of ['1', '2', '3'])
      expect(await c.manifestDigest(parseImageReference(`${registry.host}/team/app:${tag}`))).toBe(DIGEST)
    expect(api.hits).toHaveLength(1)

    const wrong = client([
      {
        host: registry.host,
        type: 'ecr',
        region: 'eu-west-1',
        accessKeyId: 'AKIAEXAMPLE',
        secretAccessKey: 'nope',
        endpoint: `http://${api.host}/`,
      },
    ])
    const error = await wrong.manifestDigest(parseImageReference(`${registry.host}/team/app:1`)).catch((e) => e)
    expect(error).toBeInstanceOf(OperationError)
    expect(error.message).toBe('AWS ECR GetAuthorizationToken refused the configured credentials (HTTP 403)')
  })

  it('GCR / Artifact Registry: a service-account JWT for an OAuth token, sent as oauth2accesstoken', async () => {
    const {privateKey, publicKey} = generateKeyPairSync('rsa', {modulusLength: 2048})
    const oauth = await fake((_req, res, _url, body) => {
      const form = new URLSearchParams(body)
      const [header, claims, signature] = (form.get('assertion') ?? '').split('.')
      const valid = createVerify('RSA-SHA256')
        .update(`${header}.${claims}`)
        .verify(publicKey, Buffer.from(signature ?? '', 'base64url'))
      const parsed = JSON.parse(Buffer.from(claims ?? '', 'base64url').toString()) as Record<string, unknown>
      if (
        form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer' ||
        !valid ||
        parsed.iss !== 'homeops@project.iam.gserviceaccount.com' ||
        parsed.aud !== `http://${oauth.host}/token`
      )
        return json(res, 400, {error: 'invalid_grant'})
      json(res, 200, {access_token: 'ya29.google-access', expires_in: 3599, token_type: 'Bearer'})
    })
    const registry = await bearerRegistry('oauth2accesstoken', 'ya29.google-access')
    const key = JSON.stringify({
      type: 'service_account',
      client_email: 'homeops@project.iam.gserviceaccount.com',
      private_key: privateKey.export({type: 'pkcs8', format: 'pem'}),
      token_uri: `http://${oauth.host}/token`,
    })
    const c = client([{host: registry.host, type: 'gcr', serviceAccountKey: key}])
    expect(await c.manifestDigest(parseImageReference(`${registry.host}/project/repo/app:1`))).toBe(DIGEST)
    expect(oauth.hits).toHaveLength(1)
    expect(registry.tokens).toEqual(['repository:project/repo/app:pull'])
  })

  it('ACR: service principal → AAD token → refresh token exchange → registry token', async () => {
    const aad = await fake((_req, res, url, body) => {
      const form = new URLSearchParams(body)
      if (
        url.pathname !== '/tenant-1/oauth2/v2.0/token' ||
        form.get('grant_type') !== 'client_credentials' ||
        form.get('client_id') !== 'app-id' ||
        form.get('client_secret') !== 'sp-secret'
      )
        return json(res, 401, {error: 'invalid_client'})
      json(res, 200, {access_token: 'aad-access-token', expires_in: 3600})
    })
    const refresh = `x.${Buffer.from(JSON.stringify({exp: Math.floor(Date.now() / 1000) + 3 * 3600})).toString('base64url')}.y`
    const registry = await fake((req, res, url, body) => {
      if (url.pathname === '/oauth2/exchange') {
        const form = new URLSearchParams(body)
        if (form.get('grant_type') !== 'access_token' || form.get('access_token') !== 'aad-access-token')
          return json(res, 401, {errors: [{code: 'UNAUTHORIZED'}]})
        return json(res, 200, {refresh_token: refresh})
      }
      if (url.pathname === '/oauth2/token')
        return req.headers.authorization === basic(ACR_REFRESH_USER, refresh)
          ? json(res, 200, {access_token: 'acr-access'})
          : json(res, 401, {errors: [{code: 'UNAUTHORIZED'}]})
      if (req.headers.authorization !== 'Bearer acr-access')
        return res
          .writeHead(401, {
            'www-authenticate': `Bearer realm="http://${registry.host}/oauth2/token",service="${registry.host}"`,
          })
          .end()
      res.writeHead(200, {'docker-content-digest': DIGEST}).end()
    })
    const c = client([
      {
        host: registry.host,
        type: 'acr',
        tenantId: 'tenant-1',
        clientId: 'app-id',
        clientSecret: 'sp-secret',
        endpoint: `http://${aad.host}`,
      },
    ])
    expect(await c.manifestDigest(parseImageReference(`${registry.host}/team/app:1`))).toBe(DIGEST)
    expect(aad.hits).toHaveLength(1)
    expect(registry.hits.filter((h) => h.path === '/oauth2/exchange')).toHaveLength(1)
  })

  it('GitLab: a CI job token as gitlab-ci-token at the /jwt/auth realm', async () => {
    const registry = await bearerRegistry('gitlab-ci-token', 'glcbt-job-token', '/jwt/auth')
    const c = client([{host: registry.host, type: 'gitlab', token: 'glcbt-job-token'}])
    expect(await c.manifestDigest(parseImageReference(`${registry.host}/group/project/app:1`))).toBe(DIGEST)
    expect(registry.tokens).toEqual(['repository:group/project/app:pull'])
  })

  it('Quay: an OAuth application token as $oauthtoken, or a robot account as given', async () => {
    const oauth = await bearerRegistry('$oauthtoken', 'quay-app-token', '/v2/auth')
    const c = client([{host: oauth.host, type: 'quay', token: 'quay-app-token'}])
    expect(await c.manifestDigest(parseImageReference(`${oauth.host}/org/app:1`))).toBe(DIGEST)
    const robot = await bearerRegistry('org+builder', 'ROBOTTOKEN', '/v2/auth')
    const r = client([{host: robot.host, type: 'quay', username: 'org+builder', password: 'ROBOTTOKEN'}])
    expect(await r.manifestDigest(parseImageReference(`${robot.host}/org/app:1`))).toBe(DIGEST)
  })

  it('renews an issued credential that is about to expire', async () => {
    let issued = 0
    const api = await fake((_req, res) => {
      issued++
      json(res, 200, {
        authorizationData: [
          {authorizationToken: Buffer.from('AWS:pw').toString('base64'), expiresAt: Math.floor(Date.now() / 1000) + 60},
        ],
      })
    })
    const registry = await fake((req, res) =>
      req.headers.authorization === basic('AWS', 'pw')
        ? res.writeHead(200, {'docker-content-digest': DIGEST}).end()
        : res.writeHead(401, {'www-authenticate': 'Basic realm="ecr"'}).end(),
    )
    const c = client([
      {
        host: registry.host,
        type: 'ecr',
        region: 'us-east-1',
        accessKeyId: 'AKIA',
        secretAccessKey: 'secret-key',
        endpoint: `http://${api.host}/`,
      },
    ])
    await c.manifestDigest(parseImageReference(`${registry.host}/a/b:1`))
    await c.manifestDigest(parseImageReference(`${registry.host}/a/b:2`))
    // Each token expires within the renewal margin (5 min), so each use asks again.
    expect(issued).toBeGreaterThanOrEqual(2)
  })
})
