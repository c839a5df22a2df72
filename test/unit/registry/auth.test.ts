import {describe, expect, it} from 'vitest'

import {nextLink, parseRateLimit, parseRetryAfter, parseWwwAuthenticate} from '../../../src/lib/registry/auth.js'

describe('parseWwwAuthenticate', () => {
  it('reads a Docker Hub bearer challenge', () => {
    expect(
      parseWwwAuthenticate(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/nginx:pull',
        },
      },
    ])
  })
  it('reads basic, unquoted values, escapes, commas inside quotes and several challenges', () => {
    expect(parseWwwAuthenticate('Basic realm="homeops-test"')).toEqual([
      {scheme: 'basic', params: {realm: 'homeops-test'}},
    ])
    const [a, b] = parseWwwAuthenticate(
      'Bearer realm="https://x/t?a=1,b=2", scope="repository:a:pull,push", error=insufficient_scope, Basic realm="r \\"q\\""',
    )
    expect(a).toEqual({
      scheme: 'bearer',
      params: {realm: 'https://x/t?a=1,b=2', scope: 'repository:a:pull,push', error: 'insufficient_scope'},
    })
    expect(b).toEqual({scheme: 'basic', params: {realm: 'r "q"'}})
    expect(parseWwwAuthenticate(undefined)).toEqual([])
    expect(parseWwwAuthenticate('')).toEqual([])
  })
})

describe('parseRetryAfter / parseRateLimit', () => {
  it('reads seconds and dates', () => {
    expect(parseRetryAfter('3')).toBe(3000)
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000)
    expect(parseRetryAfter('soon')).toBeUndefined()
    expect(parseRetryAfter(undefined)).toBeUndefined()
  })
  it('reads ratelimit-remaining', () => {
    expect(parseRateLimit('97;w=21600')).toEqual({remaining: 97, windowSeconds: 21600})
    expect(parseRateLimit('0')).toEqual({remaining: 0, windowSeconds: undefined})
    expect(parseRateLimit('x')).toBeUndefined()
  })
})

describe('nextLink', () => {
  const base = 'http://127.0.0.1:5801/v2/a/tags/list?n=2'
  it('resolves relative next links', () => {
    expect(nextLink('</v2/a/tags/list?n=2&last=b>; rel="next"', base)).toBe(
      'http://127.0.0.1:5801/v2/a/tags/list?n=2&last=b',
    )
    expect(nextLink('<https://other/x>; rel=next', base)).toBe('https://other/x')
    expect(nextLink('</p>; rel="prev", </n>; rel="next"', base)).toBe('http://127.0.0.1:5801/n')
  })
  it('ignores missing or non-next links', () => {
    expect(nextLink(undefined, base)).toBeUndefined()
    expect(nextLink('</p>; rel="prev"', base)).toBeUndefined()
  })
})
