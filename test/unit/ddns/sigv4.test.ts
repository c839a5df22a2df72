import {describe, expect, it} from 'vitest'

import {parseRetryAfter} from '../../../src/lib/ddns/providers/provider.js'
import {signV4} from '../../../src/lib/ddns/providers/sigv4.js'

describe('SigV4', () => {
  it('signs the AWS test suite request "get-vanilla" to the published signature', () => {
    const headers = signV4({
      method: 'GET',
      url: new URL('https://example.amazonaws.com/'),
      body: '',
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      region: 'us-east-1',
      service: 'service',
      now: new Date('2015-08-30T12:36:00Z'),
    })
    expect(headers['x-amz-date']).toBe('20150830T123600Z')
    expect(headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    )
  })

  it('signs "get-vanilla-query-order-key-case" (query parameters sorted by key)', () => {
    const headers = signV4({
      method: 'GET',
      url: new URL('https://example.amazonaws.com/?Param2=value2&Param1=value1'),
      body: '',
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      region: 'us-east-1',
      service: 'service',
      now: new Date('2015-08-30T12:36:00Z'),
    })
    expect(headers.authorization).toMatch(/Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500$/)
  })
})

describe('Retry-After', () => {
  const now = Date.parse('2026-01-01T00:00:00Z')
  it.each([
    ['120', {retryAfterSeconds: 120}],
    ['0', {retryAfterSeconds: 0}],
    ['14400', {retryAfterSeconds: 14400}],
    ['14401', {retryAfterSeconds: 14400, retryAfterRaw: '14401'}],
    ['99999999999999', {retryAfterSeconds: 14400, retryAfterRaw: '99999999999999'}],
    ['9'.repeat(400), {retryAfterSeconds: 14400, retryAfterRaw: '9'.repeat(64)}], // cut for the log
    ['Thu, 01 Jan 2026 00:02:00 GMT', {retryAfterSeconds: 120}],
    ['Thu, 01 Jan 2099 00:00:00 GMT', {retryAfterSeconds: 14400, retryAfterRaw: 'Thu, 01 Jan 2099 00:00:00 GMT'}],
    ['Wed, 31 Dec 2025 00:00:00 GMT', {retryAfterSeconds: 0}],
    ['soon', {retryAfterRaw: 'soon'}],
    ['-5', {retryAfterRaw: '-5'}],
    ['', {}],
  ])('reads %j clamped to 0…4 h', (value, expected) => {
    expect(parseRetryAfter(value, now)).toEqual(expected)
  })
})
