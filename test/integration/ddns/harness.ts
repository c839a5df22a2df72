import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll} from 'vitest'

import {loadConfig} from '../../../src/lib/config/load.js'
import {type Context, createContext} from '../../../src/lib/context.js'
import {Logger} from '../../../src/lib/log/logger.js'

const made: string[] = []
// Every directory made here goes when the test file that made it ends.
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, {recursive: true, force: true})
})

export interface Harness {
  context: Context
  logs: string[]
  dbPath: string
}

/** A real context (config loader, state database, logger) over a temporary directory. */
export async function ddnsContext(options: {
  yaml?: string
  env?: Record<string, string>
  dbPath?: string
  signal?: AbortSignal
}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'homeops-ddns-'))
  made.push(dir)
  const dbPath = options.dbPath ?? join(dir, 'homeops.db')
  const configPath = join(dir, 'config.yaml')
  writeFileSync(configPath, options.yaml ?? '')
  const {config} = loadConfig({path: configPath, env: {HOMEOPS_DB_PATH: dbPath, ...options.env}})
  const logs: string[] = []
  const logger = new Logger({level: 'debug', format: 'text', sink: {write: (line: string) => logs.push(line)}})
  const context = await createContext({
    config,
    logger,
    terminal: {interactive: false, color: false},
    version: '0.1.0-test',
    signal: options.signal,
  })
  return {context, logs, dbPath}
}

/** Config for one dyndns2/Infomaniak record against the fakes, through the legacy environment variables. */
export function legacyEnv(server: string, sources: {v4: string[]; v6?: string[]}, extra: Record<string, string> = {}) {
  return {
    INFOMANIAK_DDNS_HOSTNAME: 'home.example.org',
    INFOMANIAK_DDNS_USERNAME: 'user',
    INFOMANIAK_DDNS_PASSWORD: 'pass-word-1',
    DDNS_SERVER: server,
    DDNS_IP_SOURCES_V4: sources.v4.join(','),
    ...(sources.v6 ? {DDNS_IP_SOURCES_V6: sources.v6.join(',')} : {}),
    DDNS_RETRY_BACKOFF: '0',
    DDNS_REQUEST_TIMEOUT: '2',
    ...extra,
  }
}
