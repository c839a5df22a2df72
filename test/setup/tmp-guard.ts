import {chmodSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/**
 * Vitest global setup of every project: the run gets a temporary directory of its own (TMPDIR, which the
 * test workers and every process they start inherit), and the run fails when a test left a `homeops-*` or
 * `hotest-*` entry in it. Its own directory keeps the check exact while other runs share /tmp. The
 * directory is removed afterwards either way, so nothing stays behind even when the check fails.
 */
export default function setup(): () => void {
  // Every project lists this setup; the first one to run owns the directory, the others share it.
  if (process.env.VITEST_HOMEOPS_TMPDIR) return () => {}
  const outer = tmpdir()
  // Short: unix socket paths made under it must stay below 108 bytes.
  const dir = mkdtempSync(join(outer, 'hov-'))
  // As /tmp itself: tests run processes as other users (nobody, dnsmasq) that must reach their files.
  chmodSync(dir, 0o1777)
  process.env.TMPDIR = dir
  process.env.VITEST_HOMEOPS_TMPDIR = dir
  return () => {
    process.env.TMPDIR = outer
    delete process.env.VITEST_HOMEOPS_TMPDIR
    let left: string[] = []
    try {
      const entries = readdirSync(dir)
      left = entries
        .filter((name) => name.startsWith('homeops-') || name.startsWith('hotest-'))
        .map((n) => join(dir, n))
      const others = entries.filter((name) => !name.startsWith('homeops-') && !name.startsWith('hotest-'))
      // Made by a tool a test ran (a browser profile…): named, not failed, removed with the rest.
      if (others.length > 0) console.warn(`tmp-guard: other temporary entries left: ${others.join(', ')}`)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
    if (left.length > 0) {
      process.exitCode = 1 // vitest reports an error thrown here but would still exit 0
      throw new Error(
        `tests left ${left.length} temporary entr${left.length === 1 ? 'y' : 'ies'} behind (removed now; clean up in afterAll/afterEach with rmSync(path, {recursive: true, force: true})):\n${left.map((p) => `  ${p}`).join('\n')}`,
      )
    }
  }
}
