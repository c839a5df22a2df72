import {describe, expect, it} from 'vitest'

import {configSchema} from '../../../src/lib/config/root-schema.js'
import {effectiveRecords} from '../../../src/lib/ddns/records.js'

function ddns(raw: Record<string, unknown>) {
  const issues: unknown[] = []
  const config = configSchema.decode({ddns: raw}, [], {issues: issues as never[], readSecretFile: () => undefined})
  expect(issues).toEqual([])
  return config.ddns
}

describe('effective ddns records', () => {
  it('merges the legacy Infomaniak record (first) with ddns.records', () => {
    const records = effectiveRecords(
      ddns({
        hostname: 'home.example.org',
        username: 'u',
        password: 'secret-1',
        ipv6: true,
        records: [
          {
            name: 'nas',
            provider: 'dyndns2',
            hostname: 'nas.example.net',
            username: 'a',
            password: 'b',
            server: 'https://dyn.example',
          },
        ],
      }),
    )
    expect(records.map((r) => [r.name, r.provider, r.server, r.families])).toEqual([
      ['home.example.org', 'infomaniak', 'https://infomaniak.com/nic/update', [4, 6]],
      ['nas', 'dyndns2', 'https://dyn.example/nic/update', [4, 6]],
    ])
  })

  it('points dyndns2-style records at DDNS_SERVER (ddns.server) and keeps an explicit path', () => {
    const [legacy, other] = effectiveRecords(
      ddns({
        hostname: 'home.example.org',
        username: 'u',
        password: 'p',
        server: 'http://127.0.0.1:8080',
        records: [
          {
            provider: 'dyndns2',
            hostname: 'x.example.org',
            username: 'a',
            password: 'b',
            server: 'https://h/custom/update?x=1',
          },
        ],
      }),
    )
    expect(legacy!.server).toBe('http://127.0.0.1:8080/nic/update')
    expect(other!.server).toBe('https://h/custom/update?x=1')
  })

  it('reports every problem at once, naming the setting', () => {
    expect(() =>
      effectiveRecords(
        ddns({
          records: [
            {provider: 'dyndns2', hostname: 'not a host', username: 'a'},
            {provider: 'cloudflare', hostname: 'a.example.org'},
            {provider: 'duckdns', hostname: 'a.example.org', token: 't'},
          ],
        }),
      ),
    ).toThrow(
      /records\[0\]\.hostname: "not a host" is not a fully qualified[\s\S]*records\[0\]\.password: required for provider dyndns2[\s\S]*records\[0\]\.server: required for provider dyndns2[\s\S]*records\[1\]\.token: required[\s\S]*records\[2\]\.hostname: DuckDNS names end in \.duckdns\.org/,
    )
  })

  it('refuses duplicate names and half-set legacy variables', () => {
    expect(() =>
      effectiveRecords(
        ddns({
          hostname: 'home.example.org',
          username: 'u',
          password: 'p',
          records: [{provider: 'infomaniak', hostname: 'HOME.example.org', username: 'a', password: 'b'}],
        }),
      ),
    ).toThrow(/the name "HOME.example.org" is already used by ddns.hostname/)
    expect(() => effectiveRecords(ddns({username: 'u', password: 'p'}))).toThrow(/INFOMANIAK_DDNS_HOSTNAME\) is not/)
    expect(() => effectiveRecords(ddns({hostname: 'home.example.org', username: 'u'}))).toThrow(
      /ddns.password \(INFOMANIAK_DDNS_PASSWORD\): required for provider infomaniak/,
    )
  })

  it('fingerprints change with the credentials but never contain them; the target ignores credentials', () => {
    const base = {hostname: 'home.example.org', username: 'u', password: 'first-secret'}
    const [a] = effectiveRecords(ddns(base))
    const [b] = effectiveRecords(ddns({...base, password: 'second-secret'}))
    const [c] = effectiveRecords(ddns({...base, hostname: 'other.example.org'}))
    expect(a!.fingerprint).not.toBe(b!.fingerprint)
    expect(a!.target).toBe(b!.target)
    expect(a!.target).not.toBe(c!.target)
    expect(a!.fingerprint).toMatch(/^[0-9a-f]{32}$/)
    expect(a!.fingerprint + a!.target).not.toContain('first-secret')
  })

  it('rejects credentials in the server URL and non-http schemes', () => {
    expect(() =>
      effectiveRecords(
        ddns({hostname: 'h.example.org', username: 'u', password: 'p', server: 'https://u:p@dyn.example'}),
      ),
    ).toThrow(/put credentials in username\/password/)
    expect(() =>
      effectiveRecords(ddns({hostname: 'h.example.org', username: 'u', password: 'p', server: 'ftp://dyn.example'})),
    ).toThrow(/must be an http:\/\/ or https:\/\/ URL/)
  })
})
