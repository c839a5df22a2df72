import {createHash, createHmac, createSign} from 'node:crypto'

import {OperationError, TransientError, UserError} from '../errors.js'
import {requestText} from '../http/client.js'
import {registerSecret} from '../log/redact.js'
import type {CloudAuthInput} from './config.js'
import {isPlainHttp} from './client.js'

/**
 * The registry auth flows that differ from plain username/password (docs/architecture.md "The shared core"):
 * each turns what the user configured into a short-lived username/password that the generic OCI challenge flow
 * then uses (Basic for ECR, the registry's own Bearer realm for the others). Every secret produced is registered
 * for log redaction. Answers are bounded (64 KiB) and a failure names the provider, never the secret.
 */
export interface IssuedCredential {
  username: string
  password: string
  /** Renew before this (ms since epoch). */
  expiresAt?: number
  source: string
}

const TIMEOUT = 15_000
const MAX_ANSWER = 64 * 1024

/** Credentials for one registry entry of the config, exchanging cloud credentials where the type asks. */
export async function issueCredential(
  input: CloudAuthInput,
  env: NodeJS.ProcessEnv = process.env,
  now = Date.now(),
): Promise<IssuedCredential | undefined> {
  switch (input.type) {
    case 'ecr':
      return ecrCredential(input, env, now)
    case 'gcr':
      return gcrCredential(input, now)
    case 'acr':
      return acrCredential(input, now)
    case 'gitlab':
      // CI job tokens go with the fixed user name gitlab-ci-token; deploy and personal tokens with their own.
      return secretPair(input, input.username ?? 'gitlab-ci-token', input.token ?? input.password, 'gitlab')
    case 'quay':
      // Quay takes an OAuth application token with the user name `$oauthtoken`; robots use `org+name`.
      return input.token
        ? secretPair(input, '$oauthtoken', input.token, 'quay')
        : secretPair(input, input.username, input.password, 'quay')
    default:
      if (!input.username && !input.password) return undefined
      return {username: input.username ?? '', password: input.password ?? '', source: 'config registries'}
  }
}

function secretPair(
  input: CloudAuthInput,
  username: string | undefined,
  password: string | undefined,
  type: string,
): IssuedCredential {
  if (!username || !password)
    throw new UserError(
      `registries: ${input.host} (type ${type}) needs ${type === 'gitlab' ? 'token' : 'token, or username and password'}`,
    )
  return {username, password, source: `config registries (${type})`}
}

// ---- AWS ECR ---------------------------------------------------------------

const ECR_HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/

async function ecrCredential(input: CloudAuthInput, env: NodeJS.ProcessEnv, now: number): Promise<IssuedCredential> {
  const region = input.region ?? ECR_HOST.exec(input.host)?.[2]
  if (!region)
    throw new UserError(`registries: ${input.host} (type ecr) needs region: (the host is not an ECR host name)`)
  const accessKeyId = input.accessKeyId ?? env.AWS_ACCESS_KEY_ID
  const secretAccessKey = input.secretAccessKey ?? env.AWS_SECRET_ACCESS_KEY
  const sessionToken = input.sessionToken ?? env.AWS_SESSION_TOKEN
  if (!accessKeyId || !secretAccessKey)
    throw new UserError(`registries: ${input.host} (type ecr) needs accessKeyId and secretAccessKey`, {
      hint: 'set them in the config or as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY',
    })
  registerSecret(secretAccessKey)
  if (sessionToken) registerSecret(sessionToken)
  const url = new URL(input.endpoint ?? `https://api.ecr.${region}.amazonaws.com/`)
  const body = '{}'
  const headers: Record<string, string> = {
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken',
  }
  if (sessionToken) headers['x-amz-security-token'] = sessionToken
  const signed = signV4(
    {method: 'POST', url, headers, body},
    {accessKeyId, secretAccessKey, region, service: 'ecr', date: new Date(now)},
  )
  const answer = await call(url.toString(), 'AWS ECR GetAuthorizationToken', {method: 'POST', headers: signed, body})
  const data = answer.json as {authorizationData?: {authorizationToken?: unknown; expiresAt?: unknown}[]}
  const entry = data.authorizationData?.[0]
  if (typeof entry?.authorizationToken !== 'string')
    throw new OperationError('AWS ECR GetAuthorizationToken answered without an authorizationToken')
  const decoded = Buffer.from(entry.authorizationToken, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon <= 0) throw new OperationError('AWS ECR GetAuthorizationToken answered a malformed authorizationToken')
  registerSecret(entry.authorizationToken)
  const password = decoded.slice(colon + 1)
  registerSecret(password)
  // ECR tokens last 12 h; `expiresAt` is epoch seconds in the JSON protocol.
  const expiresAt = typeof entry.expiresAt === 'number' ? entry.expiresAt * 1000 : now + 12 * 3_600_000
  return {username: decoded.slice(0, colon), password, expiresAt, source: 'AWS ECR'}
}

export interface SigV4Request {
  method: string
  url: URL
  headers: Record<string, string>
  body: string
}

export interface SigV4Key {
  accessKeyId: string
  secretAccessKey: string
  region: string
  service: string
  date: Date
}

/** AWS Signature Version 4: the request's headers with `host`, `x-amz-date` and `authorization` added. */
export function signV4(request: SigV4Request, key: SigV4Key): Record<string, string> {
  const amzDate = key.date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')
  const day = amzDate.slice(0, 8)
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(request.headers)) headers[k.toLowerCase()] = v
  headers.host = request.url.host
  headers['x-amz-date'] = amzDate
  const names = Object.keys(headers).sort()
  const canonicalHeaders = names.map((n) => `${n}:${headers[n]!.trim().replace(/\s+/g, ' ')}\n`).join('')
  const query = [...request.url.searchParams.entries()]
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&')
  const canonical = [
    request.method,
    request.url.pathname || '/',
    query,
    canonicalHeaders,
    names.join(';'),
    sha256(request.body),
  ].join('\n')
  const scope = `${day}/${key.region}/${key.service}/aws4_request`
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n')
  let signingKey = hmac(`AWS4${key.secretAccessKey}`, day)
  for (const part of [key.region, key.service, 'aws4_request']) signingKey = hmac(signingKey, part)
  const signature = createHmac('sha256', signingKey).update(toSign).digest('hex')
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${key.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`
  return headers
}

function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

function hmac(key: string | Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text).digest()
}

// ---- Google Artifact Registry / GCR ------------------------------------------

interface ServiceAccountKey {
  client_email?: unknown
  private_key?: unknown
  token_uri?: unknown
}

async function gcrCredential(input: CloudAuthInput, now: number): Promise<IssuedCredential> {
  if (!input.serviceAccountKey)
    throw new UserError(`registries: ${input.host} (type gcr) needs serviceAccountKey (or serviceAccountKeyFile)`)
  let key: ServiceAccountKey
  try {
    key = JSON.parse(input.serviceAccountKey) as ServiceAccountKey
  } catch {
    throw new UserError(`registries: ${input.host}: serviceAccountKey is not JSON`, {
      hint: 'use the JSON key file Google Cloud gives for the service account',
    })
  }
  if (typeof key.client_email !== 'string' || typeof key.private_key !== 'string')
    throw new UserError(`registries: ${input.host}: serviceAccountKey lacks client_email or private_key`)
  registerSecret(key.private_key)
  const tokenUri = typeof key.token_uri === 'string' ? key.token_uri : 'https://oauth2.googleapis.com/token'
  const iat = Math.floor(now / 1000)
  const assertion = signJwt(
    {
      iss: key.client_email,
      scope: 'https://www.googleapis.com/auth/cloud-platform',
      aud: tokenUri,
      iat,
      exp: iat + 3600,
    },
    key.private_key,
    input.host,
  )
  const answer = await call(tokenUri, 'Google OAuth token service', {
    method: 'POST',
    headers: {'content-type': 'application/x-www-form-urlencoded'},
    body: new URLSearchParams({grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion}).toString(),
  })
  const data = answer.json as {access_token?: unknown; expires_in?: unknown}
  if (typeof data.access_token !== 'string' || data.access_token === '')
    throw new OperationError('the Google OAuth token service answered without an access_token')
  registerSecret(data.access_token)
  const lifetime = typeof data.expires_in === 'number' && data.expires_in > 0 ? data.expires_in : 3600
  return {
    username: 'oauth2accesstoken',
    password: data.access_token,
    expiresAt: now + lifetime * 1000,
    source: `Google service account ${key.client_email}`,
  }
}

function signJwt(claims: Record<string, unknown>, privateKey: string, host: string): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const unsigned = `${part({alg: 'RS256', typ: 'JWT'})}.${part(claims)}`
  try {
    return `${unsigned}.${createSign('RSA-SHA256').update(unsigned).sign(privateKey).toString('base64url')}`
  } catch {
    throw new UserError(`registries: ${host}: the private_key of serviceAccountKey is not a usable RSA key`)
  }
}

// ---- Azure Container Registry ----------------------------------------------

/** The user name ACR expects with a refresh token (as `az acr login` uses). */
export const ACR_REFRESH_USER = '00000000-0000-0000-0000-000000000000'

async function acrCredential(input: CloudAuthInput, now: number): Promise<IssuedCredential> {
  if (!input.tenantId || !input.clientId || !input.clientSecret)
    throw new UserError(`registries: ${input.host} (type acr) needs tenantId, clientId and clientSecret`)
  registerSecret(input.clientSecret)
  const authority = (input.endpoint ?? 'https://login.microsoftonline.com').replace(/\/+$/, '')
  const aad = await call(`${authority}/${encodeURIComponent(input.tenantId)}/oauth2/v2.0/token`, 'Azure AD', {
    method: 'POST',
    headers: {'content-type': 'application/x-www-form-urlencoded'},
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: input.clientId,
      client_secret: input.clientSecret,
      scope: 'https://containerregistry.azure.net/.default',
    }).toString(),
  })
  const accessToken = (aad.json as {access_token?: unknown}).access_token
  if (typeof accessToken !== 'string' || accessToken === '')
    throw new OperationError('Azure AD answered without an access_token')
  registerSecret(accessToken)
  const scheme = isPlainHttp(input.host) ? 'http' : 'https'
  const exchange = await call(`${scheme}://${input.host}/oauth2/exchange`, `the token exchange of ${input.host}`, {
    method: 'POST',
    headers: {'content-type': 'application/x-www-form-urlencoded'},
    body: new URLSearchParams({
      grant_type: 'access_token',
      service: input.host,
      tenant: input.tenantId,
      access_token: accessToken,
    }).toString(),
  })
  const refresh = (exchange.json as {refresh_token?: unknown}).refresh_token
  if (typeof refresh !== 'string' || refresh === '')
    throw new OperationError(`the token exchange of ${input.host} answered without a refresh_token`)
  registerSecret(refresh)
  return {
    username: ACR_REFRESH_USER,
    password: refresh,
    expiresAt: jwtExpiry(refresh) ?? now + 3_600_000,
    source: `Azure service principal ${input.clientId}`,
  }
}

function jwtExpiry(token: string): number | undefined {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {exp?: unknown}
    return typeof claims.exp === 'number' ? claims.exp * 1000 : undefined
  } catch {
    return undefined
  }
}

// ---- transport -------------------------------------------------------------

async function call(
  url: string,
  service: string,
  request: {method: 'POST' | 'GET'; headers: Record<string, string>; body?: string},
): Promise<{json: unknown}> {
  const answer = await requestText(url, service, {...request, timeoutMs: TIMEOUT, maxChars: MAX_ANSWER})
  if (answer.status === 429 || answer.status >= 500)
    throw new TransientError(`${service} answered HTTP ${answer.status}`)
  if (answer.status < 200 || answer.status >= 300)
    throw new OperationError(`${service} refused the configured credentials (HTTP ${answer.status})`, {
      hint: 'check the registries: entry in the config',
    })
  try {
    return {json: JSON.parse(answer.text) as unknown}
  } catch {
    throw new OperationError(`${service} answered with something that is not JSON`)
  }
}
