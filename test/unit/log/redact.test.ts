import {afterEach, describe, expect, it} from 'vitest'

import {Logger} from '../../../src/lib/log/logger.js'
import {
  MAX_FORM_CHARS,
  MAX_SECRETS,
  clearSecrets,
  redact,
  redactDeep,
  redactText,
  registerSecret,
  registerSecrets,
  secretCount,
  secretFormChars,
  setSecretClock,
} from '../../../src/lib/log/redact.js'

afterEach(() => {
  clearSecrets()
  setSecretClock(undefined)
})

/** Secrets as users write them: plain, non-ASCII in several scripts, and with every character that gets escaped. */
const SECRETS: Record<string, string> = {
  ascii: 'hunter2-Secret_99',
  latin: 'pässwörd-ÄÖÜ-é',
  cyrillic: 'пароль-секрет',
  cjk: '密码秘密口令钥匙',
  emoji: 'key-🔑-🗝️-vault',
  newline: 'multi\nline-secret-ABC',
  tab: 'tab\tsecret-XYZ',
  quotes: 'say "open" sesame',
  single: "it's <b>&amp;",
  backslash: 'C:\\Users\\me\\token',
  control: 'esc\x1b[0m-bell\x07-cr\r',
  spaces: 'pass word with spaces+plus',
  mixed: 'ünï "q" \\ \n\t-end',
}

// Each echo form written independently of src/lib/log/echo-forms.ts, the way the remote writes it.
const json = (s: string): string => JSON.stringify({message: `rejected ${s}`})
const pythonJson = (s: string): string => json(s).replace(/[\u0080-\uffff]/g, (c) => `\\u${hex4(c.charCodeAt(0))}`)
const javaJson = (s: string): string =>
  pythonJson(s).replace(/\\u([0-9a-f]{4})/g, (_m, h: string) => `\\u${h.toUpperCase()}`)
const hex4 = (n: number): string => n.toString(16).padStart(4, '0')

/** Go's strconv.Quote (`%q`), written out character by character. */
function goQuoted(s: string, ascii = false): string {
  let out = '"'
  for (const ch of s) {
    const n = ch.codePointAt(0)!
    if (ch === '"') out += '\\"'
    else if (ch === '\\') out += '\\\\'
    else if (ch === '\n') out += '\\n'
    else if (ch === '\t') out += '\\t'
    else if (ch === '\r') out += '\\r'
    else if (n === 7) out += '\\a'
    else if (n < 0x20 || n === 0x7f) out += '\\x' + n.toString(16).padStart(2, '0')
    else if (ascii && n > 0xffff) out += '\\U' + n.toString(16).padStart(8, '0')
    else if (ascii && n > 0x7e) out += '\\u' + hex4(n)
    else out += ch
  }
  return out + '"'
}

const ECHOES: Record<string, (s: string) => string> = {
  raw: (s) => `badauth ${s}`,
  'JSON body': json,
  'JSON, ASCII-only (Python)': pythonJson,
  'JSON, ASCII-only upper-case hex': javaJson,
  'Go %q (docker CLI)': (s) => `failed to parse: parsing ${goQuoted(s)}: invalid`,
  'Go %+q': (s) => `parsing ${goQuoted(s, true)}`,
  'Go %q inside a JSON error (Engine API)': (s) => JSON.stringify({message: `parsing ${goQuoted(s)}`}),
  'URL query': (s) => `GET /nic/update?password=${encodeURIComponent(s)}&x=1`,
  'URL query, lower-case hex': (s) =>
    `GET /?p=${encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase())}`,
  'form body': (s) => `user=me&${new URLSearchParams({password: s}).toString()}`,
  'HTML page': (s) =>
    `<p>bad password ${s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')}</p>`,
  'YAML single-quoted (rendered compose)': (s) => `      DB_PASSWORD: '${s.replace(/'/g, "''")}'`,
  'UTF-8 read as Latin-1': (s) => `badauth ${Buffer.from(s, 'utf8').toString('latin1')}`,
  'Unicode NFD': (s) => `badauth ${s.normalize('NFD')}`,
  'sanitised for a log line (non-printable as ?)': (s) =>
    `answered ${JSON.stringify(s.replace(/[^\x20-\x7e]/g, '?'))}: not an address`,
  'base64 alone': (s) => `value: ${Buffer.from(s).toString('base64')}`,
  'Basic user:pass (1-char user)': (s) => `Authorization: Basic ${Buffer.from(`u:${s}`).toString('base64')}`,
  'Basic user:pass (2-char user)': (s) => `Authorization: Basic ${Buffer.from(`us:${s}`).toString('base64')}`,
  'Basic user:pass (3-char user)': (s) => `Authorization: Basic ${Buffer.from(`bob:${s}`).toString('base64')}`,
}

describe('redact: every secret in every form a remote echoes it', () => {
  for (const [secretName, secret] of Object.entries(SECRETS)) {
    for (const [echoName, echo] of Object.entries(ECHOES)) {
      it(`${secretName} × ${echoName}`, () => {
        registerSecret(secret)
        const echoed = echo(secret)
        const out = redactText(`before ${echoed} after`)
        // A sanitiser that leaves almost nothing of the secret (CJK, Cyrillic) leaves nothing to mask either.
        const readable = secret.replace(/[^\x20-\x7e]/g, '').replace(/\?/g, '').length
        if (echoName.startsWith('sanitised') && readable < 4) return expect(out).toBe(`before ${echoed} after`)
        expect(out).toContain('***')
        expect(out.startsWith('before ') && out.endsWith(' after'), out).toBe(true)
        // Neither the secret as the remote wrote it, nor the secret itself, nor a long part of it.
        const encodedSecret = echoed.replace(/^.*?(?=\S*$)/s, '')
        expect(out).not.toContain(secret)
        expect(visiblePart(secret, out), 'a third of the secret or more is still there').toBeUndefined()
        if (echoName.startsWith('Basic') || echoName === 'base64 alone') expect(out).not.toContain(encodedSecret)
      })
    }
  }

  it('masks the quoted message of issue 17 as the docker CLI prints it', () => {
    registerSecret('multi\nline-secret-ABC')
    const stderr = 'failed to create secret: Error response from daemon: parsing "multi\\nline-secret-ABC": invalid'
    expect(redact(stderr)).toBe('failed to create secret: Error response from daemon: parsing "***": invalid')
  })

  it('masks a non-ASCII password echoed by a dyndns2 provider', () => {
    registerSecret('Grüße-Zürich')
    expect(redact('badauth Grüße-Zürich')).toBe('badauth ***')
    expect(redact('{"detail":"badauth Gr\\u00fc\\u00dfe-Z\\u00fcrich"}')).toBe('{"detail":"badauth ***"}')
  })

  it('masks the whole Basic value when the username is known', () => {
    registerSecret('s3cret-pw', {username: 'alice'})
    const basic = Buffer.from('alice:s3cret-pw').toString('base64')
    expect(redact(`Authorization: Basic ${basic}`)).toBe('Authorization: Basic ***')
  })

  it('leaves text without a secret, and values too short to be secrets, alone', () => {
    registerSecret('abc')
    registerSecret('hunter2-Secret_99')
    const text = 'image ghcr.io/a/b:1.2.3 digest sha256:0123abcd "quoted" \\ path ünïcode abc'
    expect(redact(text)).toBe(text)
    expect(redact('')).toBe('')
  })

  it('hides overlapping secrets completely', () => {
    registerSecret('abcdef-1234')
    registerSecret('1234-xyzw')
    expect(redact('[abcdef-1234-xyzw]')).toBe('[***]')
    expect(redact('abcdef-1234 and 1234-xyzw')).toBe('*** and ***')
  })

  it('redacts every string of a JSON value, keys included, keeping its shape', () => {
    registerSecret('tok-123456')
    const value = {a: ['x tok-123456', 1, null, true], 'tok-123456': {at: new Date(0), deep: [{s: 'tok-123456'}]}}
    expect(redactDeep(value)).toEqual({
      a: ['x ***', 1, null, true],
      '***': {at: '1970-01-01T00:00:00.000Z', deep: [{s: '***'}]},
    })
    // The input is not changed, and a value without a secret is returned as it is.
    expect(value.a[0]).toBe('x tok-123456')
    const clean = {a: ['tok-12345', 'quoted "tok-123456" is not here'.replace('123456', '12345')]}
    expect(redactDeep(clean)).toBe(clean)
    // A secret with characters JSON escapes, inside a nested string, is still found.
    registerSecret('multi\nline "q" \\ end')
    expect(redactDeep({deep: [{s: 'x multi\nline "q" \\ end y'}]})).toEqual({deep: [{s: 'x *** y'}]})
  })
})

describe('redact: a bounded set that drops secrets no longer in use', () => {
  it('keeps at most MAX_SECRETS values however many short-lived tokens are registered, config secrets first', () => {
    let clock = 1_000_000
    setSecretClock(() => clock)
    registerSecret('config-password-1')
    for (let i = 0; i < 20 * MAX_SECRETS; i++) {
      registerSecret(`registry-token-${i}-${'x'.repeat(20)}`, {ttlMs: 300_000})
      clock += 10
      expect(secretCount()).toBeLessThanOrEqual(MAX_SECRETS)
    }
    expect(secretCount()).toBe(MAX_SECRETS)
    // The config secret outlived the flood; the newest token is masked, the oldest was dropped.
    expect(redact('config-password-1')).toBe('***')
    const last = `registry-token-${20 * MAX_SECRETS - 1}-${'x'.repeat(20)}`
    expect(redact(last)).toBe('***')
    expect(redact(`registry-token-0-${'x'.repeat(20)}`)).not.toBe('***')
  })

  it('bounds the memory of long secrets too, and masks a huge one as it is', () => {
    registerSecret('config-password-1', {pinned: true})
    // 50 kB non-ASCII secrets have many long forms (JSON, Go quotes, NFC/NFD): about a megabyte each.
    for (let i = 0; i < 40; i++) registerSecret(`${i}-${'é\n"ü'.repeat(12_500)}`)
    expect(secretFormChars()).toBeLessThanOrEqual(MAX_FORM_CHARS)
    expect(secretCount()).toBeLessThan(40)
    expect(redact('config-password-1')).toBe('***')
    const huge = 'x"\n'.repeat(400_000)
    registerSecret(huge)
    expect(redact(`a ${huge} b`)).toBe('a *** b')
    expect(redactDeep({pem: `a ${huge} b`})).toEqual({pem: 'a *** b'})
    expect(secretFormChars()).toBeLessThanOrEqual(MAX_FORM_CHARS)
  })

  it('forgets a token after its lifetime (plus a minute of grace), not before', () => {
    let clock = 5_000_000
    setSecretClock(() => clock)
    registerSecret('bearer-token-abcdef', {ttlMs: 300_000})
    clock += 300_000 + 59_000
    expect(redact('bearer-token-abcdef')).toBe('***')
    clock += 2_000
    expect(redact('bearer-token-abcdef')).toBe('bearer-token-abcdef')
    expect(secretCount()).toBe(0)
  })

  it('a long-running process that fetches a token a minute holds only the live ones', () => {
    let clock = 0
    setSecretClock(() => clock)
    registerSecret('config-password-1')
    for (let minute = 0; minute < 24 * 60; minute++) {
      registerSecret(`token-${minute}-abcdefgh`, {ttlMs: 300_000})
      clock += 60_000
    }
    // Config secret + tokens of the last 5 minutes + the grace minute.
    expect(secretCount()).toBeLessThanOrEqual(1 + 7)
    expect(redact('config-password-1')).toBe('***')
  })

  it('keeps config secrets and the values slots hold when values that never expire flood the set', () => {
    registerSecret('config-password-1', {pinned: true})
    registerSecret('current-api-key-1', {slot: 'monitor.apiKey'})
    // e.g. a credential helper handing out a new secret on every call, for months.
    for (let i = 0; i < 3 * MAX_SECRETS; i++) registerSecret(`rotating-secret-${i}-abcdefgh`)
    expect(secretCount()).toBeLessThanOrEqual(MAX_SECRETS)
    expect(redact('config-password-1 current-api-key-1')).toBe('*** ***')
    expect(redact(`rotating-secret-${3 * MAX_SECRETS - 1}-abcdefgh`)).toBe('***')
    expect(redact('rotating-secret-0-abcdefgh')).toBe('rotating-secret-0-abcdefgh')
  })

  it('replaces the set of values a slot holds as a whole', () => {
    registerSecrets(['first-value-1', 'shared-value-1'], {slot: 'repo a'})
    registerSecrets(['shared-value-1', 'second-value-2', undefined, 'x'], {slot: 'repo a'})
    expect(redact('first-value-1 shared-value-1 second-value-2')).toBe('first-value-1 *** ***')
    registerSecrets([], {slot: 'repo a'})
    expect(secretCount()).toBe(0)
  })

  it('expires a leased value on time once the other registration of it is released', () => {
    let clock = 0
    setSecretClock(() => clock)
    const held = registerSecret('token-and-config-1')
    registerSecret('token-and-config-1', {ttlMs: 10_000})
    // Another token expiring first makes the set look for the next expiry while the value is still held.
    registerSecret('short-token-1', {ttlMs: 0})
    clock += 60_001
    expect(redact('short-token-1 token-and-config-1')).toBe('short-token-1 ***')
    held.release()
    expect(redact('token-and-config-1')).toBe('***')
    clock += 10_000
    expect(redact('token-and-config-1')).toBe('token-and-config-1')
  })

  it('releases a handle, and keeps a value another registration still holds', () => {
    const first = registerSecret('shared-secret-1')
    const second = registerSecret('shared-secret-1')
    first.release()
    first.release()
    expect(redact('shared-secret-1')).toBe('***')
    second.release()
    expect(redact('shared-secret-1')).toBe('shared-secret-1')
    expect(secretCount()).toBe(0)
  })

  it('replaces the value of a slot (an API key changed in the settings)', () => {
    registerSecret('old-api-key-123', {slot: 'monitor.apiKey'})
    registerSecret('new-api-key-456', {slot: 'monitor.apiKey'})
    expect(redact('old-api-key-123 new-api-key-456')).toBe('old-api-key-123 ***')
    // The same value again keeps it masked; clearing the slot drops it.
    registerSecret('new-api-key-456', {slot: 'monitor.apiKey'})
    expect(redact('new-api-key-456')).toBe('***')
    registerSecret(undefined, {slot: 'monitor.apiKey'})
    expect(secretCount()).toBe(0)
  })
})

describe('logger', () => {
  function capture(format: 'text' | 'json'): {lines: string[]; logger: Logger} {
    const lines: string[] = []
    const logger = new Logger({format, sink: {write: (l: string) => lines.push(l)}})
    return {lines, logger}
  }

  for (const format of ['text', 'json'] as const) {
    it(`never prints a secret with quotes, backslashes, newlines or non-ASCII (${format})`, () => {
      for (const secret of Object.values(SECRETS)) registerSecret(secret)
      const {lines, logger} = capture(format)
      for (const secret of Object.values(SECRETS)) {
        logger.warn(`provider said: badauth ${secret}`, {answer: `badauth ${secret}`, pin: 12345678})
      }
      const out = lines.join('')
      for (const secret of Object.values(SECRETS)) {
        expect(out).not.toContain(secret)
        expect(out).not.toContain(JSON.stringify(secret).slice(1, -1))
        expect(out).not.toContain(secret.replace(/\n/g, ' ⏎ '))
      }
      expect(out.match(/\*\*\*/g)?.length).toBe(2 * Object.keys(SECRETS).length)
    })
  }

  it('masks a numeric field equal to a secret', () => {
    registerSecret('12345678')
    const {lines, logger} = capture('json')
    logger.info('pin', {pin: 12345678, other: 7})
    expect(JSON.parse(lines[0]!)).toMatchObject({pin: '***', other: 7})
  })
})

/** A run of a third of the secret (4 characters at least) still readable in `out`. */
function visiblePart(secret: string, out: string): string | undefined {
  const size = Math.max(4, Math.ceil(secret.length / 3))
  for (let i = 0; i + size <= secret.length; i++) {
    const part = secret.slice(i, i + size)
    if (out.includes(part)) return part
  }
  return undefined
}
