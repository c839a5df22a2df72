import {existsSync, statSync} from 'node:fs'
import {afterEach, describe, expect, it} from 'vitest'

import {ConfigError} from '../../../src/lib/config/load.js'
import {UserError} from '../../../src/lib/errors.js'
import {runPass} from '../../../src/lib/ddns/updater.js'
import {startDyndns2, startEcho} from './fakes.js'
import {ddnsContext, legacyEnv} from './harness.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!()
})

describe('ddns bad input', () => {
  it.each([
    [
      {DDNS_IP_SOURCES_V4: 'ftp://echo.example'},
      /DDNS_IP_SOURCES_V4\): IP source "ftp:\/\/echo.example" is invalid: unsupported scheme/,
    ],
    [{DDNS_SERVER: 'not a url'}, /ddns.server \(DDNS_SERVER\): "not a url" is not a URL/],
    [
      {INFOMANIAK_DDNS_HOSTNAME: 'localhost'},
      /ddns.hostname \(INFOMANIAK_DDNS_HOSTNAME\): "localhost" is not a fully qualified domain name/,
    ],
    [{INFOMANIAK_DDNS_PASSWORD: ''}, /ddns.password \(INFOMANIAK_DDNS_PASSWORD\): required for provider infomaniak/],
  ])('refuses %o with a clear error, sends nothing and keeps the stored state', async (override, message) => {
    const provider = await startDyndns2()
    const echo = await startEcho('84.16.66.10')
    cleanups.push(
      () => provider.close(),
      () => echo.close(),
    )
    const env = legacyEnv(provider.url, {v4: [echo.url]})
    const good = await ddnsContext({env})
    await runPass(good.context)
    await good.context.close()
    const before = statSync(good.dbPath).mtimeMs

    const bad = await ddnsContext({env: {...env, ...override}, dbPath: good.dbPath})
    const error = await runPass(bad.context).catch((e: unknown) => e)
    await bad.context.close()
    expect(error).toBeInstanceOf(UserError)
    expect((error as UserError).exitCode).toBe(2)
    expect((error as Error).message).toMatch(message)
    expect(provider.requests).toHaveLength(1)
    expect(echo.hits).toBe(1)
    expect(statSync(good.dbPath).mtimeMs).toBe(before)
  })

  it('reports schema errors (interval under 15 s) from the config loader with the variable name', async () => {
    await expect(ddnsContext({env: {DDNS_INTERVAL_SECONDS: '5'}})).rejects.toThrow(ConfigError)
    await expect(ddnsContext({env: {DDNS_INTERVAL_SECONDS: '5'}})).rejects.toThrow(
      /environment variable DDNS_INTERVAL_SECONDS: ddns.intervalSeconds: must be at least 15, got 5/,
    )
  })

  it('says clearly when no record is configured, without creating a database', async () => {
    const harness = await ddnsContext({})
    await expect(runPass(harness.context)).rejects.toThrow(/no ddns records are configured/)
    await harness.context.close()
    expect(existsSync(harness.dbPath)).toBe(false)
  })
})
