import {execFile} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

import {afterAll, describe, expect, it} from 'vitest'

const run = promisify(execFile)
const native = fileURLToPath(new URL('../../../native', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'homeops-dns-fuzz-'))

afterAll(() => rmSync(dir, {recursive: true, force: true}))

// The packet logic of the native answerer (native/dns_core.h), built with the sanitizers: any read past a
// datagram, write past a buffer, overflow or leak makes the run fail with the sanitizer's report.
describe('native answerer packet logic under AddressSanitizer and UndefinedBehaviorSanitizer', () => {
  it('survives a million random, cut and mutated packets and random sources, and answers the valid ones', async () => {
    const binary = join(dir, 'fuzz')
    await run('gcc', [
      '-std=c11',
      '-D_GNU_SOURCE',
      '-g',
      '-O1',
      '-Wall',
      '-Wextra',
      '-Werror',
      '-fsanitize=address,undefined',
      '-fno-sanitize-recover=all',
      join(native, 'fuzz.c'),
      '-o',
      binary,
      '-lm',
      '-lpthread',
    ])
    for (const seed of ['1', '20261204']) {
      const {stdout} = await run(binary, ['1000000', seed], {env: {...process.env, ASAN_OPTIONS: 'detect_leaks=1'}})
      const answered = Number(/(\d+) answered from the table/.exec(stdout)?.[1] ?? 0)
      expect(answered, stdout).toBeGreaterThan(10_000)
    }
  }, 120_000)
})
