import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll} from 'vitest'

import {type Dyndns2Fake, type EchoFake, startDyndns2, startEcho} from '../integration/ddns/fakes.js'

/** The address the echo source answers. */
export const V4 = '84.16.66.10'

export interface DdnsE2e {
  /** A loopback Infomaniak-flavoured dyndns2 provider (ready from beforeAll on). */
  readonly provider: Dyndns2Fake
  /** A loopback IPv4 echo source answering {@link V4}. */
  readonly source: EchoFake
  /** A fresh state directory and the legacy single-record environment of the original tool, plus `extra`. */
  env: (extra?: Record<string, string>) => Record<string, string>
  /** The state directory of the last env(). */
  stateDir: () => string
}

/** The provider, the echo source and a temporary directory for one e2e file, removed after it. */
export function ddnsE2e(prefix: string, base: Record<string, string> = {}): DdnsE2e {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  let n = 0
  let provider: Dyndns2Fake | undefined
  let source: EchoFake | undefined
  beforeAll(async () => {
    provider = await startDyndns2({flavour: 'infomaniak'})
    source = await startEcho(V4)
  })
  afterAll(async () => {
    await provider?.close()
    await source?.close()
    rmSync(dir, {recursive: true, force: true})
  })
  const fixture: DdnsE2e = {
    get provider() {
      if (!provider) throw new Error('the ddns fake provider starts in beforeAll')
      return provider
    },
    get source() {
      if (!source) throw new Error('the echo source starts in beforeAll')
      return source
    },
    env: (extra = {}) => {
      n++
      return {
        HOMEOPS_DB_PATH: join(dir, `s${n}`, 'homeops.db'),
        XDG_CONFIG_HOME: join(dir, 'no-config'),
        INFOMANIAK_DDNS_HOSTNAME: 'home.example.org',
        INFOMANIAK_DDNS_USERNAME: 'user',
        INFOMANIAK_DDNS_PASSWORD: 'pass-word-1',
        DDNS_SERVER: fixture.provider.url,
        DDNS_IP_SOURCES_V4: fixture.source.url,
        DDNS_REQUEST_TIMEOUT: '2',
        ...base,
        ...extra,
      }
    },
    stateDir: () => join(dir, `s${n}`),
  }
  return fixture
}

/** Timestamps, durations, state paths and pids differ between two runs; everything else must not. */
export function stable(text: string): string {
  return text
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z/g, 'TIME')
    .replace(/"durationMs": \d+/g, '"durationMs": N')
    .replace(/"ms": \d+/g, '"ms": N')
    .replace(/s\d+\/homeops\.db/g, 'DB')
    .replace(/\(node:\d+\)/g, '(node:PID)')
}
