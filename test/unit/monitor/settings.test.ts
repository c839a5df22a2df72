import {mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {UserError} from '../../../src/lib/errors.js'
import {Logger} from '../../../src/lib/log/logger.js'
import {redact} from '../../../src/lib/log/redact.js'
import {MASK, type MonitorSettings, SettingsStore} from '../../../src/lib/monitor/settings.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})

function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hotest-monitor-settings-'))
  dirs.push(dir)
  return dir
}

const lines: string[] = []
const logger = new Logger({level: 'debug', sink: {write: (l: string) => lines.push(l)}})
const defaults: MonitorSettings = {
  apiEnabled: false,
  guiEnabled: true,
  authEnabled: false,
  apiKey: undefined,
  allowedCidrs: ['127.0.0.1/32', '::1/128'],
}

describe('SettingsStore', () => {
  it('starts from config/env, and the file wins over them', async () => {
    const path = join(tmp(), 'settings.json')
    expect((await SettingsStore.load({path, defaults, logger})).current).toEqual(defaults)
    writeFileSync(path, JSON.stringify({api_enabled: true, allowed_cidrs: ['10.0.0.0/8']}), {mode: 0o600})
    const store = await SettingsStore.load({path, defaults: {...defaults, apiEnabled: false}, logger})
    expect(store.current).toMatchObject({apiEnabled: true, allowedCidrs: ['10.0.0.0/8'], guiEnabled: true})
  })

  it('writes atomically with mode 0600 and leaves no temporary file', async () => {
    const dir = tmp()
    const path = join(dir, 'sub', 'settings.json')
    const store = await SettingsStore.load({path, defaults, logger})
    const change = await store.update({auth_enabled: true, allowed_cidrs: '127.0.0.1, 192.168.0.0/16'}, '127.0.0.1')
    expect(change.changed.sort()).toEqual(['allowed_cidrs', 'api_key', 'auth_enabled'])
    expect(change.generated_api_key).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(readdirSync(join(dir, 'sub'))).toEqual(['settings.json'])
    const saved = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
    expect(saved).toMatchObject({
      auth_enabled: true,
      api_key: change.generated_api_key,
      allowed_cidrs: ['127.0.0.1', '192.168.0.0/16'],
    })
    // The generated key is a secret: never logged.
    expect(redact(`key=${change.generated_api_key}`)).toBe('key=***')
    expect(lines.join('\n')).not.toContain(change.generated_api_key)
  })

  it('masks the key while auth is on, shows it while auth is off', async () => {
    const store = await SettingsStore.load({
      path: join(tmp(), 's.json'),
      defaults: {...defaults, apiKey: 'abcdefgh12345678'},
      logger,
    })
    expect(store.view().api_key).toBe('abcdefgh12345678')
    await store.update({auth_enabled: true})
    expect(store.view().api_key).toBe(MASK)
    // A form that sends the mask back changes nothing.
    expect((await store.update({api_key: MASK})).changed).toEqual([])
    expect(store.current.apiKey).toBe('abcdefgh12345678')
  })

  it('rejects bad changes with a clear message and changes nothing, in memory or on disk', async () => {
    const path = join(tmp(), 'settings.json')
    const store = await SettingsStore.load({path, defaults, logger})
    await store.update({api_enabled: true})
    const before = readFileSync(path, 'utf8')
    const cases: [unknown, RegExp][] = [
      [{allowed_cidrs: '10.0.0.0/40'}, /"10.0.0.0\/40" is not an address or CIDR range/],
      [{allowed_cidrs: 'nonsense'}, /not an address/],
      [{allowed_cidrs: ''}, /must not be empty/],
      [{allowed_cidrs: 12}, /list of CIDR ranges or a comma-separated string/],
      [{api_enabled: 'perhaps'}, /api_enabled must be true or false/],
      [{api_key: 'short'}, /at least 16 characters/],
      [{api_key: 'has space in it'}, /must not contain spaces/],
      [{colour: 'blue'}, /unknown setting "colour"/],
      [[1, 2], /must be a JSON object/],
      [{allowed_cidrs: '10.0.0.0/8'}, /would exclude your own address 127.0.0.1/],
    ]
    for (const [body, message] of cases) {
      const error = await store.update(body, '127.0.0.1').catch((e: unknown) => e)
      expect(error, JSON.stringify(body)).toBeInstanceOf(UserError)
      expect((error as Error).message).toMatch(message)
    }
    expect(readFileSync(path, 'utf8')).toBe(before)
    expect(store.current).toMatchObject({apiEnabled: true, allowedCidrs: defaults.allowedCidrs})
  })

  it('accepts the allow-list as a list or a comma string, IPv4 and IPv6', async () => {
    const store = await SettingsStore.load({path: join(tmp(), 's.json'), defaults, logger})
    await store.update({allowed_cidrs: ['10.0.0.0/8', 'fd00::/8', '::1']}, '::1')
    expect(store.allowList().allows('10.1.2.3')).toBe(true)
    expect(store.allowList().allows('::ffff:10.1.2.3')).toBe(true)
    expect(store.allowList().allows('fd00::5')).toBe(true)
    expect(store.allowList().allows('192.168.1.1')).toBe(false)
  })

  it('refuses to start from a broken file, naming it', async () => {
    const path = join(tmp(), 'settings.json')
    writeFileSync(path, '{"api_enabled": tru')
    await expect(SettingsStore.load({path, defaults, logger})).rejects.toThrow(
      `monitor settings file ${path} is not valid JSON`,
    )
    writeFileSync(path, '{"allowed_cidrs": ["300.1.1.1"]}')
    await expect(SettingsStore.load({path, defaults, logger})).rejects.toThrow(/300.1.1.1/)
    // BlockList aborts the process on these; the strict parser refuses them with the file's name.
    writeFileSync(path, '{"allowed_cidrs": ["127.0.0.1/-0"]}')
    await expect(SettingsStore.load({path, defaults, logger})).rejects.toThrow(/settings\.json: .*127\.0\.0\.1\/-0/)
    writeFileSync(path, '{"api_key": "short-old-key"}')
    await expect(SettingsStore.load({path, defaults, logger})).rejects.toThrow(/settings\.json: api_key: .*at least 16/)
  })

  it('tightens a settings file readable by others', async () => {
    const path = join(tmp(), 'settings.json')
    writeFileSync(path, '{"api_key": "abcdefgh12345678"}')
    chmodSync(path, 0o644)
    await SettingsStore.load({path, defaults, logger})
    expect(statSync(path).mode & 0o777).toBe(0o600)
  })

  it('does not start with auth on and no key', async () => {
    await expect(
      SettingsStore.load({path: join(tmp(), 's.json'), defaults: {...defaults, authEnabled: true}, logger}),
    ).rejects.toThrow(/auth is enabled but no API key/)
  })
})
