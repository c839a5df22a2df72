import {chmodSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {stringify} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {OperationError} from '../../../src/lib/errors.js'
import {commitImageBump} from '../../../src/lib/swarm/image-bump.js'
import type {SwarmEnv} from '../../../src/lib/swarm/env.js'
import type {ManagedServiceRow} from '../../../src/lib/swarm/store.js'
import {testEnv} from '../../support/testenv.js'
import {type GitHttpServer, startGitHttp} from './git-http.js'
import {Workspace, git, run} from './harness.js'

/**
 * `images.gitops: commit` against a real smart-HTTP remote whose branch moves while homeops pushes
 * (a pre-receive hook lands "someone else's" commit first): the bump is fetched and applied again once,
 * a remote that keeps moving is reported, and the cached clone is never left dirty or ahead.
 */
const ws = new Workspace()
const TOKEN = `tok-gitops-${run}-secret`
const STACK = `hotest-gitops-${run}-bump`
const image = (tag: string) => `${testEnv().registry.host}/${testEnv().images.app}:${tag}`
let server: GitHttpServer
let env: SwarmEnv
const served = join(ws.root, 'served')

/** Moves main under receive-pack: once (marker file), or on every push. */
function moveOnPush(bare: string, always: boolean): void {
  const hook = join(bare, 'hooks', 'pre-receive')
  writeFileSync(
    hook,
    `#!/bin/sh
${always ? '' : '[ -e "$GIT_DIR/moved" ] && exit 0\ntouch "$GIT_DIR/moved"'}
unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
export GIT_AUTHOR_NAME=other GIT_AUTHOR_EMAIL=other@example.org GIT_COMMITTER_NAME=other GIT_COMMITTER_EMAIL=other@example.org
parent=$(git rev-parse refs/heads/main)
commit=$(git commit-tree "$parent^{tree}" -p "$parent" -m "other change")
git update-ref refs/heads/main "$commit" "$parent"
exit 0
`,
  )
  chmodSync(hook, 0o755)
}

function makeRemote(name: string): {url: string; bare: string} {
  const src = join(ws.root, `src-${name}`)
  mkdirSync(join(src, STACK), {recursive: true})
  git(src, 'init', '-q', '-b', 'main')
  writeFileSync(join(src, 'stacks.yaml'), stringify([{name: STACK}]))
  writeFileSync(
    join(src, STACK, 'compose.yaml'),
    `# the web front\nservices:\n  web:\n    image: "${image('1.0.0')}" # pinned by hand\n`,
  )
  git(src, 'add', '-A')
  git(src, 'commit', '-q', '-m', 'initial')
  const bare = join(served, `${name}.git`)
  git(ws.root, 'clone', '-q', '--bare', src, bare)
  return {url: `${server.url}/${name}.git`, bare}
}

function owner(url: string, name: string): ManagedServiceRow {
  const row = env.store.addRepository({url, name, branch: null, cloneDir: join(ws.root, 'cache', name)})
  return {
    service: `${STACK}_web`,
    composeService: 'web',
    composeFile: `${STACK}/compose.yaml`,
    stack: STACK,
    repositoryId: row.id,
    repositoryUrl: url,
    repositoryName: name,
    cloneDir: row.cloneDir,
  }
}

beforeAll(async () => {
  mkdirSync(served, {recursive: true})
  server = await startGitHttp({projectRoot: served, credentials: `homeops:${TOKEN}`})
  env = await ws.swarm({
    repositories: [
      {url: `${server.url}/moved-once.git`, username: 'homeops', token: TOKEN},
      {url: `${server.url}/always-moving.git`, username: 'homeops', token: TOKEN},
    ],
  })
})

afterAll(async () => {
  await ws.close()
  await server?.close()
  ws.cleanup()
})

describe('commitImageBump (images.gitops: commit)', () => {
  it('applies the bump again on the new tip when the remote moved during the push', async () => {
    const {url, bare} = makeRemote('moved-once')
    moveOnPush(bare, false)
    const result = await commitImageBump(env, {
      owner: owner(url, 'moved-once'),
      runningImage: `${image('1.0.0')}@sha256:${'a'.repeat(64)}`,
      tag: '1.1.0',
      from: '1.0.0',
    })
    expect(result.attempts).toBe(2)
    expect(git(bare, 'log', '--format=%s', '-3').split('\n')).toEqual([
      `chore(images): bump ${STACK}/web image to 1.1.0`,
      'other change',
      'initial',
    ])
    expect(result.commit).toBe(git(bare, 'rev-parse', 'main'))
    // Only the value changed: quoting and comments stay.
    expect(git(bare, 'show', `main:${STACK}/compose.yaml`)).toBe(
      `# the web front\nservices:\n  web:\n    image: "${image('1.1.0')}" # pinned by hand`,
    )
    const clone = join(ws.root, 'cache', 'moved-once')
    expect(git(clone, 'status', '--porcelain')).toBe('')
    expect(git(clone, 'rev-parse', 'HEAD')).toBe(git(clone, 'rev-parse', 'refs/remotes/origin/main'))
  })

  it('reports a remote that keeps moving and leaves the clone on the remote branch, clean', async () => {
    const {url, bare} = makeRemote('always-moving')
    moveOnPush(bare, true)
    const attempt = commitImageBump(env, {
      owner: owner(url, 'always-moving'),
      runningImage: image('1.0.0'),
      tag: '1.1.0',
      from: '1.0.0',
    })
    await expect(attempt).rejects.toThrow(OperationError)
    await expect(attempt).rejects.toThrow(/was rejected twice: the remote keeps moving; nothing was changed/)
    expect(git(bare, 'log', '--format=%s', 'main')).not.toContain('chore(images)')
    const clone = join(ws.root, 'cache', 'always-moving')
    expect(git(clone, 'status', '--porcelain')).toBe('')
    expect(git(clone, 'log', '--format=%s', 'HEAD')).not.toContain('chore(images)')
    expect(ws.logs.join('\n')).not.toContain(TOKEN)
  })
})
