import {describe, expect, it} from 'vitest'

import {configFrom} from '../serve/fakes.js'
import {apiKeyCheck} from '../../../src/lib/doctor/checks.js'

describe('doctor: API key check', () => {
  it('passes when every server listens on loopback, with or without a key', () => {
    expect(apiKeyCheck(configFrom('{}\n').config).ok).toBe(true)
    expect(apiKeyCheck(configFrom('serve:\n  listen: localhost:8080\n').config).ok).toBe(true)
  })

  it('fails for a server listening beyond loopback without a key, naming it and the setting', () => {
    const check = apiKeyCheck(
      configFrom('serve:\n  listen: 0.0.0.0:8080\nmonitor:\n  listen: 192.168.1.2:5000\n').config,
    )
    expect(check.ok).toBe(false)
    expect(check.detail).toContain('homeops serve on 0.0.0.0:8080')
    expect(check.detail).toContain('monitor serve on 192.168.1.2:5000')
    expect(check.hint).toContain('serve.apiKey')
    expect(check.hint).toContain('monitor.apiKey')
  })

  it('passes once the exposed servers have keys', () => {
    const yaml =
      'serve:\n  listen: "[::]:8080"\n  apiKey: 0123456789abcdef\nmonitor:\n  listen: 0.0.0.0:5000\n  auth: true\n  apiKey: fedcba9876543210\n'
    expect(apiKeyCheck(configFrom(yaml).config)).toMatchObject({ok: true})
  })
})
