import {describe, expect, it} from 'vitest'

import {UserError} from '../../../src/lib/errors.js'
import {authFor as authForUrl, gitEnv as gitEnvOf} from '../../../src/lib/swarm/git.js'
import {RepositoryUrl} from '../../../src/lib/swarm/repository-url.js'
import {git as gitIn} from './fixtures.js'

// The URL is parsed once (RepositoryUrl); these take the parsed form.
const parse = (url: string) => RepositoryUrl.parse(url)
const authFor = (url: string, t: Parameters<typeof authForUrl>[1]) => authForUrl(parse(url), t)
const gitEnv = (url: string, ...rest: [Parameters<typeof gitEnvOf>[1], number?]) => gitEnvOf(parse(url), ...rest)
const checkRepositoryUrl = (url: string) => void parse(url)
const repositoryName = (url: string) => parse(url).name
const normaliseUrl = (url: string) => parse(url).value

const tokens = {
  githubToken: 'ghp_globaltoken123',
  githubTokenHosts: ['github.com'],
  repositories: [{url: 'https://git.example.org/ops/stacks.git', token: 'own-token-456', username: 'deploy'}],
}

describe('repository auth', () => {
  it('sends the per-repository token to that repository only', () => {
    expect(authFor('https://git.example.org/ops/stacks.git', tokens)).toEqual({
      username: 'deploy',
      token: 'own-token-456',
    })
    expect(authFor('https://git.example.org/ops/other.git', tokens)).toBeUndefined()
  })

  it('sends GITHUB_TOKEN only to the GitHub hosts', () => {
    expect(authFor('https://github.com/me/homelab.git', tokens)).toEqual({
      username: 'x-access-token',
      token: 'ghp_globaltoken123',
    })
    expect(authFor('https://gitlab.com/me/homelab.git', tokens)).toBeUndefined()
    expect(authFor('https://github.com.evil.example/me/x.git', tokens)).toBeUndefined()
    expect(authFor('/srv/git/homelab', tokens)).toBeUndefined()
  })

  it('scopes the header to the origin and keeps the token out of argv and the URL', () => {
    const env = gitEnv('https://git.example.org/ops/stacks.git', {username: 'deploy', token: 'own-token-456'})
    expect(env.GIT_CONFIG_KEY_0).toBe('http.https://git.example.org/.extraHeader')
    expect(env.GIT_CONFIG_VALUE_0).toBe(
      `Authorization: Basic ${Buffer.from('deploy:own-token-456').toString('base64')}`,
    )
    expect(env.GIT_TERMINAL_PROMPT).toBe('0')
    const anonymous = gitEnv('https://git.example.org/x', undefined, 30)
    expect(anonymous.GIT_CONFIG_COUNT).toBe('2')
    expect(Object.values(anonymous).join('\n')).not.toMatch(/Authorization/)
    expect([anonymous.GIT_CONFIG_KEY_1, anonymous.GIT_CONFIG_VALUE_1]).toEqual(['http.lowSpeedTime', '30'])
  })

  it('refuses URLs with credentials, without echoing them', () => {
    try {
      checkRepositoryUrl('https://me:sekret-token@github.com/me/homelab.git')
      throw new Error('accepted')
    } catch (error) {
      expect(error).toBeInstanceOf(UserError)
      expect((error as Error).message).toBe(
        'the repository URL carries credentials; watch https://github.com/me/homelab.git instead',
      )
    }
    expect(() => checkRepositoryUrl('https://github.com/me/homelab.git')).not.toThrow()
    expect(() => checkRepositoryUrl('/srv/git/homelab')).not.toThrow()
  })

  it('derives names and absolute local paths', () => {
    expect(repositoryName('https://github.com/me/homelab.git')).toBe('homelab')
    expect(repositoryName('/srv/git/my stacks/')).toBe('my-stacks')
    expect(normaliseUrl('https://github.com/me/homelab.git/')).toBe('https://github.com/me/homelab.git')
    expect(normaliseUrl('/srv/git/homelab/')).toBe('/srv/git/homelab')
    expect(normaliseUrl('relative/repo')).toBe(`${process.cwd()}/relative/repo`)
  })
})

describe('readRefs', () => {
  it('reads loose refs, packed refs and the symbolic HEAD like git does', async () => {
    const {mkdtempSync, rmSync, writeFileSync} = await import('node:fs')
    const {tmpdir} = await import('node:os')
    const path = await import('node:path')
    const {readRefs} = await import('../../../src/lib/swarm/git.js')
    const dir = mkdtempSync(path.join(tmpdir(), 'hotest-swarm-refs-'))
    const git = (...args: string[]) => gitIn(dir, ...args)
    try {
      git('init', '-q', '-b', 'main')
      writeFileSync(path.join(dir, 'a'), 'a')
      git('add', 'a')
      git('commit', '-q', '-m', 'a')
      const sha = git('rev-parse', 'HEAD')
      git('update-ref', 'refs/remotes/origin/main', sha)
      expect(await readRefs(dir, 'refs/remotes/origin/main')).toEqual({head: sha, tip: sha, current: 'refs/heads/main'})
      git('pack-refs', '--all')
      expect(await readRefs(dir, 'refs/remotes/origin/main')).toEqual({head: sha, tip: sha, current: 'refs/heads/main'})
      expect((await readRefs(dir, 'refs/remotes/origin/other')).tip).toBeUndefined()
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
