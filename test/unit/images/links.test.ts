import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {consumeNonce, createApplyToken, linkKey, nonceUsed, verifyApplyToken} from '../../../src/lib/images/links.js'
import {openState} from '../../../src/lib/state/database.js'
import {allMigrations} from '../../../src/lib/state/registry.js'

const dir = mkdtempSync(join(tmpdir(), 'hotest-images-links-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('apply links', async () => {
  const db = await openState({path: join(dir, 'state.db'), migrations: allMigrations})
  const key = linkKey(db)

  it('keeps one key in the settings', () => {
    expect(linkKey(db).equals(key)).toBe(true)
    expect(key).toHaveLength(32)
  })

  it('round-trips a token for the exact workload and version', () => {
    const {token, payload, expiresAt} = createApplyToken(key, 'web', '1.3.0', 7 * 86_400_000)
    const check = verifyApplyToken(key, token)
    expect(check).toEqual({ok: true, payload})
    expect(expiresAt.getTime()).toBeGreaterThan(Date.now() + 6 * 86_400_000)
  })

  it('refuses a tampered payload, a foreign key and garbage', () => {
    const {token} = createApplyToken(key, 'web', '1.3.0', 60_000)
    const [body, sig] = token.split('.') as [string, string]
    const forged = Buffer.from(
      JSON.stringify({...JSON.parse(Buffer.from(body, 'base64url').toString()), v: '9.9.9'}),
    ).toString('base64url')
    expect(verifyApplyToken(key, `${forged}.${sig}`)).toMatchObject({ok: false, reason: 'bad_signature'})
    expect(verifyApplyToken(Buffer.alloc(32, 1), token)).toMatchObject({ok: false, reason: 'bad_signature'})
    expect(verifyApplyToken(key, `${body}.${sig.slice(0, -2)}`)).toMatchObject({ok: false, reason: 'bad_signature'})
    for (const bad of ['', 'abc', 'a.b.c', '!!.??', 'x'.repeat(5000)])
      expect(verifyApplyToken(key, bad)).toMatchObject({ok: false, reason: 'malformed'})
  })

  it('refuses an expired token', () => {
    const {token} = createApplyToken(key, 'web', '1.3.0', 1000, Date.now() - 10_000)
    expect(verifyApplyToken(key, token)).toMatchObject({ok: false, reason: 'expired'})
  })

  it('consumes a nonce once', () => {
    const {payload} = createApplyToken(key, 'web', '1.3.0', 60_000)
    expect(nonceUsed(db, payload.n)).toBe(false)
    expect(consumeNonce(db, payload)).toBe(true)
    expect(nonceUsed(db, payload.n)).toBe(true)
    expect(consumeNonce(db, payload)).toBe(false)
  })
})
