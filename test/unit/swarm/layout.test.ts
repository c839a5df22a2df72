import {symlinkSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {UserError} from '../../../src/lib/errors.js'
import {LayoutError, readLayout} from '../../../src/lib/swarm/layout.js'
import {Fixture} from './fixtures.js'

let fx: Fixture
afterEach(() => fx?.cleanup())

function layoutError(f: Fixture): LayoutError {
  try {
    readLayout(f.repo)
  } catch (error) {
    expect(error).toBeInstanceOf(LayoutError)
    expect(error).toBeInstanceOf(UserError)
    return error as LayoutError
  }
  throw new Error('readLayout did not fail')
}

describe('readLayout', () => {
  it('reads stacks, their compose files and secrets', () => {
    fx = new Fixture().nfsYaml().write('stacks.yaml', '- name: web\n- api\n').stack('web').stack('api')
    fx.write('web/secrets.yaml', '- id: db\n  env: DB_PASSWORD\n')
    const layout = readLayout(fx.repo)
    expect(layout.stacks.map((s) => s.name)).toEqual(['web', 'api'])
    expect(layout.stacks[0]!.composeFile).toBe(join(fx.repo, 'web', 'compose.yaml'))
    expect(layout.stacks[0]!.secrets).toEqual([{id: 'db', env: 'DB_PASSWORD'}])
    expect(layout.stacks.every((s) => s.error === undefined)).toBe(true)
  })

  it('accepts every compose file name', () => {
    fx = new Fixture().write('stacks.yaml', '- name: a\n- name: b\n- name: c\n- name: d\n')
    fx.write('a/docker-compose.yml', 'services: {}').write('b/docker-compose.yaml', 'services: {}')
    fx.write('c/compose.yml', 'services: {}').write('d/compose.yaml', 'services: {}')
    expect(readLayout(fx.repo).stacks.map((s) => s.composeFile?.split('/').pop())).toEqual([
      'docker-compose.yml',
      'docker-compose.yaml',
      'compose.yml',
      'compose.yaml',
    ])
  })

  it('reports malformed YAML with file, line and column', () => {
    fx = new Fixture().write('stacks.yaml', '- name: web\n- name: [api\n')
    expect(layoutError(fx).message).toMatch(/^stacks\.yaml:\d+:\d+: malformed YAML/)
  })

  it('reports malformed YAML in volumes.yaml with its position', () => {
    fx = new Fixture().nfsYaml().write('stacks.yaml', '- name: web\n').stack('web')
    fx.write('volumes.yaml', '- id: data\n  type: binding\n   path: x\n')
    expect(layoutError(fx).message).toMatch(/^volumes\.yaml:2:9: malformed YAML/)
  })

  it('fails only the stack that has no compose file', () => {
    fx = new Fixture().write('stacks.yaml', '- name: web\n- name: api\n').stack('web')
    fx.write('api/README.md', 'no compose here')
    const layout = readLayout(fx.repo)
    expect(layout.stacks[0]!.error).toBeUndefined()
    expect(layout.stacks[1]!.error).toMatch(
      /api\/: stack "api" has no compose file \(expected one of docker-compose.yml/,
    )
  })

  it('fails only the stack whose folder is missing', () => {
    fx = new Fixture().write('stacks.yaml', '- name: web\n- name: ghost\n').stack('web')
    expect(readLayout(fx.repo).stacks[1]!.error).toMatch(/stack "ghost" has no folder ghost\//)
  })

  it('refuses a duplicate stack name, naming both positions', () => {
    fx = new Fixture().write('stacks.yaml', '- name: web\n- name: api\n- name: web\n').stack('web').stack('api')
    expect(layoutError(fx).message).toBe(
      'stacks.yaml:3:3: duplicate stack name "web" (first listed at stacks.yaml:1:3)',
    )
  })

  it.each(['-web', 'web app', 'web/app', 'a'.repeat(51), 'web.', 'wéb'])('refuses the stack name %j', (name) => {
    fx = new Fixture().write('stacks.yaml', `- name: ${JSON.stringify(name)}\n`)
    expect(layoutError(fx).message).toMatch(/^stacks\.yaml:1:3: stack name .* is not one Docker accepts/)
  })

  it('refuses volumes.yaml without nfs.yaml', () => {
    fx = new Fixture()
      .write('stacks.yaml', '- name: web\n')
      .stack('web')
      .write('volumes.yaml', '- id: a\n  type: volume\n')
    expect(layoutError(fx).message).toMatch(/^volumes\.yaml: needs nfs\.yaml/)
  })

  it.each([
    ['../outside', /escapes/],
    ['config/../../outside', /escapes/],
    ['/etc', /must be relative/],
  ])('refuses the binding path %j', (path, message) => {
    fx = new Fixture().nfsYaml().write('stacks.yaml', '- name: web\n').stack('web')
    fx.write('volumes.yaml', `- id: conf\n  type: binding\n  path: ${path}\n`)
    const error = layoutError(fx)
    expect(error.message).toMatch(/volumes\.yaml entry "conf"/)
    expect(error.message).toMatch(message)
  })

  it('refuses a binding path that is a symlink out of the repository', () => {
    fx = new Fixture().nfsYaml().write('stacks.yaml', '- name: web\n').stack('web')
    symlinkSync('/etc', join(fx.repo, 'conf'))
    fx.write('volumes.yaml', '- id: conf\n  type: binding\n  path: conf\n')
    expect(layoutError(fx).message).toMatch(
      /volumes\.yaml entry "conf" \(in the repository\): path "conf" escapes .* \(resolves to \/etc\)/,
    )
  })

  it('refuses a binding path that leaves the NFS root through a symlink there', () => {
    fx = new Fixture().nfsYaml().write('stacks.yaml', '- name: web\n').stack('web').write('conf/a.txt', 'x')
    symlinkSync('/tmp', join(fx.nfs, 'conf'))
    fx.write('volumes.yaml', '- id: conf\n  type: binding\n  path: conf\n')
    expect(layoutError(fx).message).toMatch(/\(under the NFS root\): path "conf" escapes/)
  })

  it('refuses a secret id that is a path', () => {
    fx = new Fixture().nfsYaml().write('stacks.yaml', '- name: web\n').stack('web')
    fx.write('web/secrets.yaml', '- id: ../../etc/shadow\n  env: X\n')
    expect(readLayout(fx.repo).stacks[0]!.error).toMatch(
      /web\/secrets\.yaml:1:3: secret id .* must be a plain file name/,
    )
  })

  it('requires nfs.yaml for secrets', () => {
    fx = new Fixture()
      .write('stacks.yaml', '- name: web\n')
      .stack('web')
      .write('web/secrets.yaml', '- id: a\n  env: A\n')
    expect(readLayout(fx.repo).stacks[0]!.error).toMatch(/nfs\.yaml is missing/)
  })

  it('refuses an nfs.yaml path that does not exist', () => {
    fx = new Fixture().write('stacks.yaml', '- name: web\n').stack('web').write('nfs.yaml', 'path: /nonexistent/nfs\n')
    expect(layoutError(fx).message).toMatch(/nfs\.yaml: path \/nonexistent\/nfs does not exist/)
  })

  it('says what is missing when there is no stacks.yaml', () => {
    fx = new Fixture()
    expect(layoutError(fx).message).toMatch(/stacks\.yaml: not found/)
  })
})
