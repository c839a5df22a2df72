import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, afterEach, describe, expect, it} from 'vitest'

import {loadConfig} from '../../../src/lib/config/load.js'
import {type Context, createContext} from '../../../src/lib/context.js'
import {LockedError} from '../../../src/lib/errors.js'
import {Logger} from '../../../src/lib/log/logger.js'
import {
  MAX_FORM_CHARS,
  MAX_SECRETS,
  clearSecrets,
  redact,
  registerSecret,
  registerSecrets,
  secretCount,
  secretFormChars,
  setSecretClock,
} from '../../../src/lib/log/redact.js'

/** What a `homeops serve` running for months does over and over, in fast motion. */
const dir = mkdtempSync(join(tmpdir(), 'hotest-areas-leaks-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))
afterEach(() => {
  clearSecrets()
  setSecretClock(undefined)
})

async function context(): Promise<Context> {
  return createContext({
    config: loadConfig({env: {HOMEOPS_DB_PATH: join(dir, 'homeops.db')}}).config,
    logger: new Logger({level: 'error', format: 'text', sink: {write: () => {}}}),
    terminal: {interactive: false, color: false},
    version: '1.0.0',
    env: {},
  })
}

describe('locks taken at every pass of a serve loop', () => {
  it('leave no cleanup behind once released: closing the context later cannot drop a lock someone else holds', async () => {
    const loop = await context()
    for (let pass = 0; pass < 200; pass++) (await loop.lock('swarm')).release()
    // Another holder in this process (`images update` committing to git takes the swarm lock).
    const other = await context()
    const held = await other.lock('swarm')
    // Before: each pass left `release` of its old lock in the loop's cleanups; close() ran them all,
    // and the first one removed the lock file the other holder had just written (same pid).
    await loop.close()
    expect(existsSync(held.path)).toBe(true)
    await expect(loop.lock('swarm')).rejects.toBeInstanceOf(LockedError)
    await other.close()
    expect(existsSync(held.path)).toBe(false)
    const again = await context()
    await expect(again.lock('swarm')).resolves.toMatchObject({path: held.path})
    await again.close()
    expect(existsSync(held.path)).toBe(false)
  })

  it('still releases at close a lock that was never released', async () => {
    const run = await context()
    const lock = await run.lock('ddns')
    expect(existsSync(lock.path)).toBe(true)
    await run.close()
    expect(existsSync(lock.path)).toBe(false)
  })
})

describe('the process-wide redaction set', () => {
  it('stays bounded over months of passes: tokens, per-pass secrets, rotated keys and reloads', () => {
    let clock = Date.UTC(2026, 0, 1)
    setSecretClock(() => clock)
    const config = 'config-api-key-0123456789'
    registerSecret(config, {pinned: true})
    const passes = 8 * MAX_SECRETS
    for (let pass = 0; pass < passes; pass++) {
      clock += 300_000 // the swarm loop's 5 minutes
      registerSecret(`registry-token-${pass}-abcdefgh`, {ttlMs: 300_000}) // a bearer token with a lifetime
      registerSecret(`git-token-${pass}-abcdefgh`) // a value registered without a lifetime, every pass
      registerSecrets([`stack-secret-${pass}-abcdefgh`, `stack-db-${pass}-abcdefgh`], {slot: 'stack web'})
      registerSecret(`monitor-key-${pass}-abcdefgh`, {slot: 'monitor.apiKey'})
      if (pass % 100 === 0) registerSecret(config, {pinned: true}) // a SIGHUP reload registers it again
      expect(secretCount()).toBeLessThanOrEqual(MAX_SECRETS)
      expect(secretFormChars()).toBeLessThanOrEqual(MAX_FORM_CHARS)
    }
    const last = passes - 1
    // Bounded, yet what is in use now is still masked, the config's secret first of all.
    expect(redact(`key ${config}`)).toBe('key ***')
    expect(redact(`monitor-key-${last}-abcdefgh`)).toBe('***')
    expect(redact(`stack-secret-${last}-abcdefgh`)).toBe('***')
    expect(redact(`git-token-${last}-abcdefgh`)).toBe('***')
    // Replaced slot values and expired tokens are gone, not merely outnumbered.
    expect(redact(`monitor-key-${last - 1}-abcdefgh`)).toBe(`monitor-key-${last - 1}-abcdefgh`)
    expect(redact(`stack-secret-${last - 1}-abcdefgh`)).toBe(`stack-secret-${last - 1}-abcdefgh`)
    expect(redact(`registry-token-${last - 10}-abcdefgh`)).toBe(`registry-token-${last - 10}-abcdefgh`)
  })
})
