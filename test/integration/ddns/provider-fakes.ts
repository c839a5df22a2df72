/**
 * Protocol-faithful fakes of every provider in the registry, behind one loopback server: each answers what
 * the real service documents for success, no change, a refused credential, an unknown host and rate
 * limiting, in its own wire format (dyndns2 text, JSON envelopes, Namecheap XML, Route 53 XML with SigV4
 * checked). The world is one zone, example.org (DuckDNS: duckdns.org), holding A/AAAA records.
 */
import {signV4} from '../../../src/lib/ddns/providers/sigv4.js'
import {type ProviderInfo, providerInfo} from '../../../src/lib/ddns/providers/registry.js'
import type {DdnsProviderName} from '../../../src/lib/ddns/providers/registry.js'
import {type JsonApiFake, type SeenRequest, startApi} from './fakes.js'

export const CREDENTIALS = {
  username: 'user',
  password: 'pass-word-1',
  token: 'tok-en-123',
  secret: 'sec-ret-456',
  zone: 'Z123EXAMPLE',
} as const

export interface World {
  /** `fqdn/A` or `fqdn/AAAA` → address. */
  records: Map<string, string>
  rateLimited: boolean
}

export interface Reply {
  status?: number
  body: unknown
  headers?: Record<string, string>
}

export interface ProviderFake extends JsonApiFake {
  world: World
  /** The `server` a record uses to reach this fake. */
  server: string
}

type Handler = (req: SeenRequest, world: World, info: ProviderInfo) => Reply

const RATE_LIMIT: Reply = {status: 429, body: 'Too Many Requests', headers: {'retry-after': '60'}}
const ZONE = 'example.org'

function key(fqdn: string, type: string): string {
  return `${fqdn.toLowerCase().replace(/\.$/, '')}/${type}`
}

function typeOf(ip: string): 'A' | 'AAAA' {
  return ip.includes(':') ? 'AAAA' : 'A'
}

function fqdnOf(name: string, zone = ZONE): string {
  return name === '' || name === '@' || name === '.' ? zone : `${name}.${zone}`
}

/** Records of the zone as (name-in-zone, type, address). */
function zoneRecords(world: World, zone = ZONE): {name: string; fqdn: string; type: string; content: string}[] {
  return [...world.records.entries()]
    .map(([k, content]) => {
      const [fqdn, type] = k.split('/') as [string, string]
      return {fqdn, type, content, name: fqdn === zone ? '' : fqdn.slice(0, -zone.length - 1)}
    })
    .filter((r) => r.fqdn === zone || r.fqdn.endsWith(`.${zone}`))
}

const dyndns2: Handler = (req, world, info) => {
  const quirks = info.quirks ?? {}
  const host = (req.query[quirks.hostnameParam ?? 'hostname'] ?? '').toLowerCase()
  const expectedUser = info.required.some((k) => k === 'username') ? CREDENTIALS.username : host
  const expectedPassword = info.required.some((k) => k === 'password') ? CREDENTIALS.password : CREDENTIALS.token
  for (const [k, v] of Object.entries(quirks.query ?? {})) {
    if (req.query[k] !== v) return {status: 400, body: 'badrequest'}
  }
  if (req.user !== expectedUser || req.password !== expectedPassword) {
    if (info.name === 'infomaniak') return {status: 400, body: 'badauth'}
    if (info.name === 'changeip') return {status: 200, body: '401 Access Denied'}
    return {status: 401, body: 'badauth'}
  }
  if (world.rateLimited) return RATE_LIMIT
  const v4 = req.query[quirks.ipv4Param ?? 'myip']
  const v6 = req.query[quirks.ipv6Param ?? 'myip']
  const ip = v4 && v4 !== 'preserve' && !v4.includes(':') ? v4 : v6
  if (!ip || ip === 'preserve') return {status: 200, body: 'badrequest'}
  if (!world.records.has(key(host, typeOf(ip)))) return {status: info.name === 'infomaniak' ? 400 : 200, body: 'nohost'}
  const same = world.records.get(key(host, typeOf(ip))) === ip
  world.records.set(key(host, typeOf(ip)), ip)
  if (info.name === 'infomaniak') return {body: `${same ? 'no_change' : 'successfully_changed'} ${ip}`}
  if (info.name === 'changeip') return {body: '200 Successful Update'}
  return {body: `${same ? 'nochg' : 'good'} ${ip}`}
}

const duckdns: Handler = (req, world) => {
  if (req.query.token !== CREDENTIALS.token) return {body: 'KO'}
  if (world.rateLimited) return RATE_LIMIT
  const host = `${req.query.domains}.duckdns.org`
  if (!world.records.has(key(host, 'A'))) return {body: 'KO'}
  let changed = false
  for (const ip of [req.query.ip, req.query.ipv6]) {
    if (!ip) continue
    changed ||= world.records.get(key(host, typeOf(ip))) !== ip
    world.records.set(key(host, typeOf(ip)), ip)
  }
  return {body: `OK\n${req.query.ip ?? ''}\n${req.query.ipv6 ?? ''}\n${changed ? 'UPDATED' : 'NOCHANGE'}`}
}

const cloudflare: Handler = (req, world) => {
  if (req.authorization !== `Bearer ${CREDENTIALS.token}`) {
    return {status: 403, body: {success: false, errors: [{code: 9109, message: 'Invalid access token'}], result: null}}
  }
  if (world.rateLimited) return {...RATE_LIMIT, body: {success: false, errors: [{code: 971, message: 'Please wait'}]}}
  if (req.method === 'GET' && req.path === '/client/v4/zones') {
    return {body: {success: true, errors: [], result: req.query.name === ZONE ? [{id: 'zone1', name: ZONE}] : []}}
  }
  if (req.method === 'GET' && req.path === '/client/v4/zones/zone1/dns_records') {
    const result = zoneRecords(world)
      .filter((r) => r.fqdn === req.query.name && r.type === req.query.type)
      .map((r) => ({id: key(r.fqdn, r.type), name: r.fqdn, type: r.type, content: r.content, proxied: false}))
    return {body: {success: true, errors: [], result}}
  }
  const patch = /^\/client\/v4\/zones\/zone1\/dns_records\/(.+)$/.exec(req.path)
  if (req.method === 'PATCH' && patch) {
    const id = decodeURIComponent(patch[1]!)
    const content = (JSON.parse(req.body!) as {content: string}).content
    world.records.set(id, content)
    return {body: {success: true, errors: [], result: {id, content}}}
  }
  return {status: 404, body: {success: false, errors: [{code: 7003, message: 'Could not route'}]}}
}

const porkbun: Handler = (req, world) => {
  const body = JSON.parse(req.body || '{}') as {apikey?: string; secretapikey?: string; content?: string}
  if (body.apikey !== CREDENTIALS.token || body.secretapikey !== CREDENTIALS.secret) {
    return {status: 400, body: {status: 'ERROR', message: 'Invalid API key. (002)'}}
  }
  if (world.rateLimited) return {...RATE_LIMIT, body: {status: 'ERROR', message: 'Rate limit exceeded'}}
  const m = /^\/api\/json\/v3\/dns\/(retrieveByNameType|editByNameType)\/([^/]+)\/(A|AAAA)(?:\/([^/]+))?$/.exec(
    req.path,
  )
  if (!m) return {status: 404, body: {status: 'ERROR', message: 'Invalid endpoint'}}
  if (m[2] !== ZONE) return {status: 400, body: {status: 'ERROR', message: 'Invalid domain.'}}
  const fqdn = fqdnOf(m[4] ?? '')
  if (m[1] === 'retrieveByNameType') {
    const content = world.records.get(key(fqdn, m[3]!))
    return {
      body: {status: 'SUCCESS', records: content ? [{id: '1001', name: fqdn, type: m[3], content, ttl: '600'}] : []},
    }
  }
  world.records.set(key(fqdn, m[3]!), body.content!)
  return {body: {status: 'SUCCESS'}}
}

const namecheapXml = (ip: string | undefined, error?: string) =>
  `<?xml version="1.0" encoding="utf-16"?>\r\n<interface-response><Command>SETDNSHOST</Command><Language>eng</Language>` +
  (ip ? `<IP>${ip}</IP>` : '') +
  `<ErrCount>${error ? 1 : 0}</ErrCount>` +
  (error ? `<errors><Err1>${error}</Err1></errors>` : '') +
  `<ResponseCount>${error ? 1 : 0}</ResponseCount><Done>true</Done><debug><![CDATA[]]></debug></interface-response>`

const namecheap: Handler = (req, world) => {
  if (req.query.password !== CREDENTIALS.password) return {body: namecheapXml(undefined, 'Passwords do not match')}
  if (world.rateLimited) return RATE_LIMIT
  const fqdn = fqdnOf(req.query.host === '@' ? '' : (req.query.host ?? ''), req.query.domain)
  if (!world.records.has(key(fqdn, 'A')))
    return {body: namecheapXml(undefined, 'No Records updated. A record not Found;')}
  world.records.set(key(fqdn, 'A'), req.query.ip!)
  return {body: namecheapXml(req.query.ip)}
}

const gandi: Handler = (req, world) => {
  if (req.authorization !== `Bearer ${CREDENTIALS.token}`) {
    return {
      status: 401,
      body: {
        code: 401,
        message: 'The server could not verify that you authorized to access the document you requested.',
        object: 'HTTPUnauthorized',
        cause: 'Unauthorized',
      },
    }
  }
  if (world.rateLimited) return RATE_LIMIT
  const m = /^\/v5\/livedns\/domains\/([^/]+)\/records\/([^/]+)\/(A|AAAA)$/.exec(req.path)
  if (!m || m[1] !== ZONE)
    return {status: 404, body: {code: 404, message: 'Unknown domain', object: 'HTTPNotFound', cause: 'Not Found'}}
  const fqdn = fqdnOf(m[2] === '@' ? '' : decodeURIComponent(m[2]!))
  const current = world.records.get(key(fqdn, m[3]!))
  if (req.method === 'GET') {
    if (!current)
      return {status: 404, body: {code: 404, message: 'Unknown record', object: 'HTTPNotFound', cause: 'Not Found'}}
    return {body: {rrset_name: m[2], rrset_type: m[3], rrset_ttl: 300, rrset_values: [current]}}
  }
  const body = JSON.parse(req.body!) as {rrset_values: string[]}
  world.records.set(key(fqdn, m[3]!), body.rrset_values[0]!)
  return {status: 201, body: {message: 'DNS Record Created'}}
}

const hetzner: Handler = (req, world) => {
  if (req.headers['auth-api-token'] !== CREDENTIALS.token)
    return {status: 401, body: {message: 'Invalid authentication credentials'}}
  if (world.rateLimited) return RATE_LIMIT
  if (req.path === '/api/v1/zones') {
    return {
      body: {
        zones: req.query.name === ZONE ? [{id: 'zoneA', name: ZONE, ttl: 86400}] : [],
        meta: {pagination: {page: 1}},
      },
    }
  }
  const records = zoneRecords(world).map((r, i) => ({
    id: `a1b2c3d4e5f6${i}`,
    type: r.type,
    name: r.name || '@',
    value: r.content,
    zone_id: 'zoneA',
    ttl: 60,
    key: key(r.fqdn, r.type),
  }))
  if (req.path === '/api/v1/records' && req.query.zone_id === 'zoneA') {
    return {body: {records: records.map(({key: _k, ...r}) => r)}}
  }
  const m = /^\/api\/v1\/records\/(.+)$/.exec(req.path)
  const record = m && records.find((r) => r.id === m[1])
  if (req.method === 'PUT' && record) {
    const body = JSON.parse(req.body!) as {value: string; name: string; type: string; zone_id: string}
    if (body.zone_id !== 'zoneA' || body.name !== record.name || body.type !== record.type) {
      return {status: 422, body: {error: {message: 'invalid record', code: 422}}}
    }
    world.records.set(record.key, body.value)
    return {body: {record: {id: record.id, ...body}}}
  }
  return {status: 404, body: {error: {message: 'not found', code: 404}}}
}

const digitalocean: Handler = (req, world) => {
  if (req.authorization !== `Bearer ${CREDENTIALS.token}`)
    return {status: 401, body: {id: 'Unauthorized', message: 'Unable to authenticate you'}}
  if (world.rateLimited) return {...RATE_LIMIT, body: {id: 'too_many_requests', message: 'API Rate limit exceeded.'}}
  const m = /^\/v2\/domains\/([^/]+)\/records(?:\/(\d+))?$/.exec(req.path)
  if (!m || m[1] !== ZONE)
    return {status: 404, body: {id: 'not_found', message: 'The resource you were accessing could not be found.'}}
  const records = zoneRecords(world).map((r, i) => ({
    id: 100 + i,
    type: r.type,
    name: r.name || '@',
    data: r.content,
    ttl: 1800,
    key: key(r.fqdn, r.type),
  }))
  if (req.method === 'GET') {
    const found = records.filter(
      (r) => r.type === req.query.type && fqdnOf(r.name === '@' ? '' : r.name) === req.query.name,
    )
    return {body: {domain_records: found.map(({key: _k, ...r}) => r), links: {}, meta: {total: found.length}}}
  }
  const record = records.find((r) => String(r.id) === m[2])
  if (!record) return {status: 404, body: {id: 'not_found', message: 'not found'}}
  world.records.set(record.key, (JSON.parse(req.body!) as {data: string}).data)
  return {body: {domain_record: {...record, data: (JSON.parse(req.body!) as {data: string}).data}}}
}

const linode: Handler = (req, world) => {
  if (req.authorization !== `Bearer ${CREDENTIALS.token}`)
    return {status: 401, body: {errors: [{reason: 'Invalid Token'}]}}
  if (world.rateLimited) return {...RATE_LIMIT, body: {errors: [{reason: 'Too Many Requests'}]}}
  if (req.path === '/v4/domains') {
    const filter = JSON.parse(req.headers['x-filter'] || '{}') as {domain?: string}
    const data = [{id: 1234, domain: ZONE, type: 'master'}].filter((d) => !filter.domain || d.domain === filter.domain)
    return {body: {data, page: 1, pages: 1, results: data.length}}
  }
  const records = zoneRecords(world).map((r, i) => ({
    id: 500 + i,
    type: r.type,
    name: r.name,
    target: r.content,
    ttl_sec: 0,
    key: key(r.fqdn, r.type),
  }))
  if (req.path === '/v4/domains/1234/records') {
    return {body: {data: records.map(({key: _k, ...r}) => r), page: 1, pages: 1, results: records.length}}
  }
  const m = /^\/v4\/domains\/1234\/records\/(\d+)$/.exec(req.path)
  const record = m && records.find((r) => String(r.id) === m[1])
  if (req.method === 'PUT' && record) {
    const target = (JSON.parse(req.body!) as {target: string}).target
    world.records.set(record.key, target)
    return {body: {...record, target}}
  }
  return {status: 404, body: {errors: [{reason: 'Not found'}]}}
}

const godaddy: Handler = (req, world) => {
  if (req.authorization !== `sso-key ${CREDENTIALS.token}:${CREDENTIALS.secret}`) {
    return {status: 401, body: {code: 'UNABLE_TO_AUTHENTICATE', message: 'Unable to authenticate the request'}}
  }
  if (world.rateLimited)
    return {
      status: 429,
      body: {code: 'TOO_MANY_REQUESTS', message: 'Too many requests', retryAfterSec: 60},
      headers: {'retry-after': '60'},
    }
  const m = /^\/v1\/domains\/([^/]+)\/records\/(A|AAAA)\/([^/]+)$/.exec(req.path)
  if (!m || m[1] !== ZONE)
    return {
      status: 404,
      body: {code: 'UNKNOWN_DOMAIN', message: 'The given domain is not registered, or does not have a zone file'},
    }
  const fqdn = fqdnOf(m[3] === '@' ? '' : m[3]!)
  if (req.method === 'GET') {
    const data = world.records.get(key(fqdn, m[2]!))
    return {body: data ? [{data, name: m[3], ttl: 600, type: m[2]}] : []}
  }
  const body = JSON.parse(req.body!) as {data: string}[]
  world.records.set(key(fqdn, m[2]!), body[0]!.data)
  return {status: 200, body: ''}
}

const njalla: Handler = (req, world) => {
  const host = (req.query.h ?? '').toLowerCase()
  if (req.query.k !== CREDENTIALS.token || !world.records.has(key(host, 'A')))
    return {status: 401, body: {status: 401, message: 'invalid key'}}
  if (world.rateLimited) return {...RATE_LIMIT, body: {status: 429, message: 'rate limited'}}
  const ip = req.query.a ?? req.query.aaaa!
  world.records.set(key(host, typeOf(ip)), ip)
  return {body: {status: 200, message: 'record updated', value: {[typeOf(ip)]: ip}}}
}

function awsError(status: number, code: string, message: string): Reply {
  return {
    status,
    body: `<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>0b2d2a21-2d39-4d5f-9e4a-1f2f5f7a8f00</RequestId></ErrorResponse>`,
    headers: {'content-type': 'text/xml'},
  }
}

const route53: Handler = (req, world) => {
  // Check the SigV4 signature the way AWS does: recompute it with the secret it knows.
  const date = req.headers['x-amz-date'] ?? ''
  const now = new Date(
    `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
  )
  const url = new URL(`http://${req.headers.host}${req.path}`)
  for (const [k, v] of Object.entries(req.query)) url.searchParams.set(k, v)
  const expected = Number.isNaN(now.getTime())
    ? undefined
    : signV4({
        method: req.method,
        url,
        body: req.body ?? '',
        accessKeyId: CREDENTIALS.token,
        secretAccessKey: CREDENTIALS.secret,
        region: 'us-east-1',
        service: 'route53',
        now,
      })
  if (!req.authorization?.includes(`Credential=${CREDENTIALS.token}/`))
    return awsError(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.')
  if (req.authorization !== expected?.authorization)
    return awsError(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided.',
    )
  if (world.rateLimited) return awsError(400, 'Throttling', 'Rate exceeded')
  const m = /^\/2013-04-01\/hostedzone\/([^/]+)\/rrset\/?$/.exec(req.path)
  if (!m || m[1] !== CREDENTIALS.zone)
    return awsError(404, 'NoSuchHostedZone', `No hosted zone found with ID: ${m?.[1]}`)
  if (req.method === 'GET') {
    // Route 53 lists record sets in (name, type) order, starting at the asked name and type.
    const wanted = `${(req.query.name ?? '').replace(/\.$/, '')} ${req.query.type ?? ''}`
    const sets = zoneRecords(world)
      .filter((r) => `${r.fqdn} ${r.type}` >= wanted)
      .sort((a, b) => (`${a.fqdn} ${a.type}` < `${b.fqdn} ${b.type}` ? -1 : 1))
      .slice(0, 1)
      .map(
        (r) =>
          `<ResourceRecordSet><Name>${r.fqdn}.</Name><Type>${r.type}</Type><TTL>120</TTL><ResourceRecords><ResourceRecord><Value>${r.content}</Value></ResourceRecord></ResourceRecords></ResourceRecordSet>`,
      )
    return {
      body: `<?xml version="1.0"?>\n<ListResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ResourceRecordSets>${sets.join('')}</ResourceRecordSets><IsTruncated>false</IsTruncated><MaxItems>1</MaxItems></ListResourceRecordSetsResponse>`,
    }
  }
  const name = /<Name>([^<]+)<\/Name>/.exec(req.body ?? '')?.[1] ?? ''
  const type = /<Type>([^<]+)<\/Type>/.exec(req.body ?? '')?.[1] ?? ''
  const value = /<Value>([^<]+)<\/Value>/.exec(req.body ?? '')?.[1] ?? ''
  if (!/<Action>UPSERT<\/Action>/.test(req.body ?? '') || !/<TTL>120<\/TTL>/.test(req.body ?? ''))
    return awsError(400, 'InvalidChangeBatch', 'bad batch')
  world.records.set(key(name, type), value)
  return {
    body: `<?xml version="1.0"?>\n<ChangeResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeInfo><Id>/change/C2682N5HXP0BZ4</Id><Status>PENDING</Status><SubmittedAt>2026-01-01T00:00:00.000Z</SubmittedAt></ChangeInfo></ChangeResourceRecordSetsResponse>`,
  }
}

const desecApi: Handler = (req, world) => {
  if (req.authorization !== `Token ${CREDENTIALS.token}`) return {status: 401, body: {detail: 'Invalid token.'}}
  if (world.rateLimited)
    return {
      status: 429,
      body: {detail: 'Request was throttled. Expected available in 60 seconds.'},
      headers: {'retry-after': '60'},
    }
  const m = /^\/api\/v1\/domains\/([^/]+)\/rrsets\/([^/]+)\/(A|AAAA)\/$/.exec(req.path)
  if (!m || m[1] !== ZONE) return {status: 404, body: {detail: 'Not found.'}}
  const fqdn = fqdnOf(m[2] === '@' ? '' : m[2]!)
  const current = world.records.get(key(fqdn, m[3]!))
  if (!current) return {status: 404, body: {detail: 'Not found.'}}
  if (req.method === 'PATCH')
    world.records.set(key(fqdn, m[3]!), (JSON.parse(req.body!) as {records: string[]}).records[0]!)
  return {
    body: {
      domain: ZONE,
      subname: m[2],
      name: `${fqdn}.`,
      type: m[3],
      ttl: 3600,
      records: [world.records.get(key(fqdn, m[3]!))],
    },
  }
}

const infomaniakApi: Handler = (req, world) => {
  if (req.authorization !== `Bearer ${CREDENTIALS.token}`)
    return {
      status: 401,
      body: {result: 'error', error: {code: 'not_authorized', description: 'Authorization required'}},
    }
  if (world.rateLimited)
    return {
      status: 429,
      body: {result: 'error', error: {code: 'too_many_request', description: 'Too many requests'}},
      headers: {'retry-after': '60'},
    }
  const m = /^\/2\/zones\/([^/]+)\/records(?:\/(\d+))?$/.exec(req.path)
  if (!m || m[1] !== ZONE)
    return {status: 404, body: {result: 'error', error: {code: 'not_found', description: 'Zone not found'}}}
  const records = zoneRecords(world).map((r, i) => ({
    id: 70 + i,
    source: r.name || '.',
    type: r.type,
    target: r.content,
    ttl: 300,
    key: key(r.fqdn, r.type),
  }))
  if (req.method === 'GET') return {body: {result: 'success', data: records.map(({key: _k, ...r}) => r)}}
  const record = records.find((r) => String(r.id) === m[2])
  if (!record)
    return {status: 404, body: {result: 'error', error: {code: 'not_found', description: 'Record not found'}}}
  const target = (JSON.parse(req.body!) as {target: string}).target
  world.records.set(record.key, target)
  return {body: {result: 'success', data: {...record, target}}}
}

const vultr: Handler = (req, world) => {
  if (req.authorization !== `Bearer ${CREDENTIALS.token}`)
    return {status: 401, body: {error: 'Invalid API token.', status: 401}}
  if (world.rateLimited)
    return {status: 429, body: {error: 'Rate limit reached', status: 429}, headers: {'retry-after': '60'}}
  const m = /^\/v2\/domains\/([^/]+)\/records(?:\/([^/]+))?$/.exec(req.path)
  if (!m || m[1] !== ZONE) return {status: 404, body: {error: 'Domain not found', status: 404}}
  const records = zoneRecords(world).map((r) => ({
    id: `rec-${r.name || 'apex'}-${r.type}`,
    type: r.type,
    name: r.name,
    data: r.content,
    ttl: 300,
    key: key(r.fqdn, r.type),
  }))
  if (req.method === 'GET') return {body: {records: records.map(({key: _k, ...r}) => r), meta: {total: records.length}}}
  const record = records.find((r) => r.id === m[2])
  if (!record) return {status: 404, body: {error: 'Record not found', status: 404}}
  world.records.set(record.key, (JSON.parse(req.body!) as {data: string}).data)
  return {status: 204, body: ''}
}

const dynv6: Handler = (req, world) => {
  if (req.query.token !== CREDENTIALS.token) return {status: 401, body: 'invalid authentication token'}
  if (world.rateLimited) return RATE_LIMIT
  const host = (req.query.zone ?? '').toLowerCase()
  if (!world.records.has(key(host, 'A'))) return {status: 404, body: 'zone not found'}
  const ip = req.query.ipv4 ?? req.query.ipv6!
  const same = world.records.get(key(host, typeOf(ip))) === ip
  world.records.set(key(host, typeOf(ip)), ip)
  return {body: same ? 'addresses unchanged' : 'addresses updated'}
}

/** FreeDNS tokens name one record: the test's token is home.example.org's. */
const freedns: Handler = (req, world) => {
  const m = /^\/u\/([^/]+)\/$/.exec(req.path)
  if (!m || m[1] !== CREDENTIALS.token) return {body: 'ERROR: Unable to locate this record'}
  if (world.rateLimited) return RATE_LIMIT
  const ip = req.query.ip!
  const host = 'home.example.org'
  if (world.records.get(key(host, typeOf(ip))) === ip)
    return {body: `No IP change detected for ${host} with IP ${ip}, skipping update`}
  world.records.set(key(host, typeOf(ip)), ip)
  return {body: `Updated 1 host(s) ${host} to ${ip} in 0.16 seconds`}
}

const freemyip: Handler = (req, world) => {
  const host = (req.query.domain ?? '').toLowerCase()
  if (req.query.token !== CREDENTIALS.token || !world.records.has(key(host, 'A'))) return {body: 'ERROR\n'}
  if (world.rateLimited) return RATE_LIMIT
  world.records.set(key(host, typeOf(req.query.myip!)), req.query.myip!)
  return {body: 'OK\n'}
}

const ionos: Handler = (req, world) => {
  if (req.headers['x-api-key'] !== CREDENTIALS.token)
    return {status: 401, body: [{code: 'UNAUTHORIZED', message: 'Missing or invalid API key.'}]}
  if (world.rateLimited)
    return {
      status: 429,
      body: [{code: 'TOO_MANY_REQUESTS', message: 'Too many requests'}],
      headers: {'retry-after': '60'},
    }
  if (req.path === '/dns/v1/zones') return {body: [{id: 'z-1', name: ZONE, type: 'NATIVE'}]}
  const records = zoneRecords(world).map((r) => ({
    id: `r-${r.name || 'apex'}-${r.type}`,
    name: r.fqdn,
    rootName: ZONE,
    type: r.type,
    content: r.content,
    ttl: 3600,
    prio: 0,
    disabled: false,
    key: key(r.fqdn, r.type),
  }))
  if (req.path === '/dns/v1/zones/z-1') {
    const found = records
      .filter((r) => r.name === req.query.recordName && r.type === req.query.recordType)
      .map(({key: _k, ...r}) => r)
    return {body: {id: 'z-1', name: ZONE, type: 'NATIVE', records: found}}
  }
  const m = /^\/dns\/v1\/zones\/z-1\/records\/(.+)$/.exec(req.path)
  const record = m && records.find((r) => r.id === m[1])
  if (req.method === 'PUT' && record) {
    const body = JSON.parse(req.body!) as {content: string; ttl: number; disabled: boolean}
    if (body.ttl !== 3600 || body.disabled !== false)
      return {status: 400, body: [{code: 'INVALID_RECORD', message: 'fields lost'}]}
    world.records.set(record.key, body.content)
    return {body: {...record, content: body.content}}
  }
  return {status: 404, body: [{code: 'NOT_FOUND', message: 'not found'}]}
}

const HANDLERS: Record<ProviderInfo['module'], Handler> = {
  dyndns2,
  duckdns,
  cloudflare,
  porkbun,
  namecheap,
  gandi,
  hetzner,
  digitalocean,
  linode,
  godaddy,
  njalla,
  route53,
  'desec-api': desecApi,
  'infomaniak-api': infomaniakApi,
  vultr,
  dynv6,
  freedns,
  freemyip,
  ionos,
}

/** The path of the provider's default endpoint, kept on the fake so the module's own path building is tested. */
export async function startProviderFake(name: DdnsProviderName): Promise<ProviderFake> {
  const info = providerInfo(name)
  const world: World = {records: new Map(), rateLimited: false}
  const handler = HANDLERS[info.module]
  const api = await startApi((req) => handler(req, world, info))
  const path = info.server ? new URL(info.server).pathname.replace(/\/$/, '') : '/nic/update'
  const keepSlash = info.server?.endsWith('/') && path !== '' ? '/' : ''
  return {...api, world, server: `${api.url}${path}${keepSlash}`}
}
