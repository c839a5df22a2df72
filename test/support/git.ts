import {execFileSync} from 'node:child_process'

/** Real git in `cwd` with a fixed author and committer, for tests that make repositories; returns trimmed stdout. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'hotest',
      GIT_AUTHOR_EMAIL: 'hotest@example.org',
      GIT_COMMITTER_NAME: 'hotest',
      GIT_COMMITTER_EMAIL: 'hotest@example.org',
    },
  }).trim()
}
