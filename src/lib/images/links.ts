import {createHmac, randomBytes, timingSafeEqual} from 'node:crypto'

import {getSetting, setSetting, type Database} from '../state/database.js'
import {registerSecret} from '../log/redact.js'

/**
 * One-time, expiring apply links (docs/architecture.md "images"): the token is
 * `base64url(payload).base64url(HMAC-SHA256(key, payload))` where the payload
 * names the workload, the exact target version, the expiry and a random
 * nonce. The key lives in the state database's settings; a nonce is stored
 * when the link is used, so a replay is refused.
 */
export interface ApplyLinkPayload {
  /** Workload name. */
  w: string
  /** Target version (tag, or digest for digest-only updates). */
  v: string
  /** Expiry, seconds since the epoch. */
  e: number
  /** Random nonce. */
  n: string
}

const KEY_SETTING = 'images.apply_link_key'

export type LinkCheck =
  | {ok: true; payload: ApplyLinkPayload}
  | {ok: false; reason: 'malformed' | 'bad_signature' | 'expired' | 'used'; message: string}

/** The signing key, created on first use. */
export function linkKey(db: Database): Buffer {
  let hex = getSetting(db, KEY_SETTING)
  if (!hex || !/^[0-9a-f]{64}$/.test(hex)) {
    hex = randomBytes(32).toString('hex')
    setSetting(db, KEY_SETTING, hex)
  }
  // A slot, not a new hold per call: the key is read on every link made or checked.
  registerSecret(hex, {slot: KEY_SETTING})
  return Buffer.from(hex, 'hex')
}

function sign(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(payload).digest()
}

export function createApplyToken(
  key: Buffer,
  workload: string,
  version: string,
  ttlMs: number,
  now = Date.now(),
): {token: string; expiresAt: Date; payload: ApplyLinkPayload} {
  const payload: ApplyLinkPayload = {
    w: workload,
    v: version,
    e: Math.floor((now + ttlMs) / 1000),
    n: randomBytes(16).toString('base64url'),
  }
  const encoded = Buffer.from(JSON.stringify(payload)).toString('base64url')
  return {
    token: `${encoded}.${sign(key, encoded).toString('base64url')}`,
    expiresAt: new Date(payload.e * 1000),
    payload,
  }
}

/** Checks signature (constant time), shape and expiry; not the nonce (see `nonceUsed`). */
export function verifyApplyToken(key: Buffer, token: string, now = Date.now()): LinkCheck {
  const malformed = {ok: false as const, reason: 'malformed' as const, message: 'this link is not a valid apply link'}
  if (typeof token !== 'string' || token.length > 2048) return malformed
  const parts = token.split('.')
  if (parts.length !== 2 || !/^[A-Za-z0-9_-]+$/.test(parts[0]!) || !/^[A-Za-z0-9_-]+$/.test(parts[1]!)) return malformed
  const given = Buffer.from(parts[1]!, 'base64url')
  const expected = sign(key, parts[0]!)
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return {ok: false, reason: 'bad_signature', message: 'this link was not issued by this homeops (bad signature)'}
  let payload: ApplyLinkPayload
  try {
    payload = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as ApplyLinkPayload
  } catch {
    return malformed
  }
  if (
    typeof payload.w !== 'string' ||
    typeof payload.v !== 'string' ||
    typeof payload.e !== 'number' ||
    typeof payload.n !== 'string'
  )
    return malformed
  if (payload.e * 1000 <= now)
    return {ok: false, reason: 'expired', message: `this link expired on ${new Date(payload.e * 1000).toISOString()}`}
  return {ok: true, payload}
}

export function nonceUsed(db: Database, nonce: string): boolean {
  return db.prepare('SELECT 1 FROM images_link_nonces WHERE nonce = ?').get(nonce) !== undefined
}

/** Marks the link used; false when it already was (a concurrent or replayed use). */
export function consumeNonce(db: Database, payload: ApplyLinkPayload, now = new Date()): boolean {
  const result = db
    .prepare('INSERT OR IGNORE INTO images_link_nonces (nonce, workload, version, used_at) VALUES (?, ?, ?, ?)')
    .run(payload.n, payload.w, payload.v, now.toISOString())
  return result.changes === 1
}

/** Gives a consumed link back (the update it was for could not start: another one held the lock). */
export function releaseNonce(db: Database, nonce: string): void {
  db.prepare('DELETE FROM images_link_nonces WHERE nonce = ?').run(nonce)
}
