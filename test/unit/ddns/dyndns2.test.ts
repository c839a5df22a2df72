import {describe, expect, it} from 'vitest'

import {interpretDyndns2} from '../../../src/lib/ddns/providers/dyndns2.js'

const answer = (status: number, body: string, headers: Record<string, string> = {}) =>
  interpretDyndns2({status, body, headers})

describe('dyndns2 answers', () => {
  it('reads both success forms of the classic protocol and of Infomaniak', () => {
    expect(answer(200, 'good 84.16.66.10')).toMatchObject({kind: 'good', code: 'good', echoedIp: '84.16.66.10'})
    expect(answer(200, 'nochg 84.16.66.10\n')).toMatchObject({kind: 'nochg', code: 'nochg', echoedIp: '84.16.66.10'})
    expect(answer(200, 'successfully_changed 84.16.66.10')).toMatchObject({kind: 'good', echoedIp: '84.16.66.10'})
    expect(answer(200, 'no_change 2A02:1234:0:0::10')).toMatchObject({kind: 'nochg', echoedIp: '2a02:1234::10'})
    expect(answer(200, 'good')).toMatchObject({kind: 'good', echoedIp: undefined})
  })

  it.each(['badauth', 'nohost', 'notfqdn', 'badagent', 'abuse', 'numhost'])(
    'treats %s as fatal, also as HTTP 400',
    (code) => {
      expect(answer(200, code)).toMatchObject({kind: 'fatal', code})
      expect(answer(400, `${code}\n`)).toMatchObject({kind: 'fatal', code, httpStatus: 400})
    },
  )

  it.each(['911', 'dnserr'])('treats %s as transient', (code) => {
    expect(answer(200, code)).toMatchObject({kind: 'transient', code})
  })

  it('treats 5xx and 429 as transient, with Retry-After', () => {
    expect(answer(503, 'Service Unavailable', {'retry-after': '120'})).toMatchObject({
      kind: 'transient',
      code: 'http-503',
      retryAfterSeconds: 120,
    })
    expect(answer(429, '')).toMatchObject({kind: 'transient', code: 'http-429'})
  })

  it('treats a bare 401 as badauth and unknown text as an error, sanitised', () => {
    expect(answer(401, '')).toMatchObject({kind: 'fatal', code: 'badauth'})
    const odd = answer(200, '<html>\u001b[31mhello</html>')
    expect(odd.kind).toBe('error')
    expect(odd.text).not.toContain('\u001b')
  })
})
