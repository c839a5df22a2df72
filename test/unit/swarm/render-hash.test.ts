import {symlinkSync} from 'node:fs'
import {join} from 'node:path'
import {parse} from 'yaml'
import {afterEach, describe, expect, it} from 'vitest'

import {MAX_SECRETS, clearSecrets, redact, registerSecret, secretCount} from '../../../src/lib/log/redact.js'
import {readLayout} from '../../../src/lib/swarm/layout.js'
import {prepareStack} from '../../../src/lib/swarm/prepare.js'
import {CONTENT_LABEL, normaliseImage, renderStack, withServiceLabels} from '../../../src/lib/swarm/render.js'
import {changedParts, hashOfParts, secretsHmac, stackHash} from '../../../src/lib/swarm/stack-hash.js'
import {Fixture} from './fixtures.js'

let fx: Fixture
afterEach(() => fx?.cleanup())

const KEY = 'k'.repeat(64)

function webFixture(compose: string): Fixture {
  return new Fixture()
    .nfsYaml()
    .write('stacks.yaml', '- name: web\n- name: api\n')
    .write(
      'volumes.yaml',
      '- id: conf\n  type: binding\n  path: config/web\n- id: data\n  type: volume\n  path: data/web\n- id: cache\n  type: volume\n',
    )
    .write('config/web/index.html', 'hello\n')
    .stack('web', compose)
    .stack('api')
}

const WEB = `services:
  app:
    image: registry.test/app
    command: ["sleep", "3600"]
    environment:
      PASSWORD: \${DB_PASSWORD}
    volumes:
      - conf:/etc/web:ro
      - data:/data
      - type: volume
        source: cache
        target: /cache
volumes:
  conf: {}
  data: {}
`

describe('renderStack', () => {
  it('rewrites binding ids to the NFS path and keeps volume names', () => {
    fx = webFixture(WEB)
    const layout = readLayout(fx.repo)
    const rendered = renderStack(layout, layout.stacks[0]!)
    const doc = parse(rendered.compose) as {services: {app: {volumes: unknown[]}}; volumes: Record<string, unknown>}
    expect(doc.services.app.volumes[0]).toBe(`${join(fx.nfs, 'config/web')}:/etc/web:ro`)
    expect(doc.services.app.volumes[1]).toBe('data:/data')
    expect(doc.volumes.conf).toBeUndefined()
    expect(doc.volumes.data).toEqual({
      driver: 'local',
      driver_opts: {type: 'none', o: 'bind', device: join(fx.nfs, 'data/web')},
      name: expect.stringMatching(/^repo_data_[0-9a-f]{8}$/),
    })
    expect(doc.volumes.cache).toEqual({name: 'repo_cache'})
    expect(rendered.images).toEqual(['registry.test/app:latest'])
    // The secret is interpolated by docker stack deploy, never written into the compose.
    expect(rendered.compose).toContain('${DB_PASSWORD}')
  })

  it('names volumes per repository, and after their options (a moved path is a new volume)', () => {
    fx = webFixture(WEB)
    const layout = readLayout(fx.repo)
    const names = (l: typeof layout) =>
      Object.fromEntries(renderStack(l, l.stacks[0]!).volumeSpecs.map((v) => [v.id, v.name]))
    const mine = names({...layout, namespace: 'homelab'})
    const theirs = names({...layout, namespace: 'other'})
    expect(mine.data).toMatch(/^homelab_data_/)
    expect(theirs.data).toMatch(/^other_data_/)
    expect(mine.cache).toBe('homelab_cache')
    const moved = {
      ...layout,
      namespace: 'homelab',
      volumes: layout.volumes.map((v) => (v.id === 'data' ? {...v, path: 'data/elsewhere'} : v)),
    }
    expect(names(moved).data).not.toBe(mine.data)
    expect(names(moved).data).toMatch(/^homelab_data_/)
    // A pathless volume an older homeops created under its bare id keeps it (its data lives there).
    const legacy = names({...layout, namespace: 'homelab', legacyVolumes: ['cache', 'data']})
    expect(legacy.cache).toBe('cache')
    expect(legacy.data).toBe(mine.data)
  })

  it('refuses a relative host path that leaves the repository', () => {
    fx = webFixture(`services:\n  app:\n    image: x:1\n    volumes:\n      - ../../../etc:/host-etc\n`)
    const layout = readLayout(fx.repo)
    expect(() => renderStack(layout, layout.stacks[0]!)).toThrow(/web\/compose\.yaml: service "app" volume .* escapes/)
  })

  it('refuses a relative bind mount through a symlink out of the repository', () => {
    fx = webFixture(`services:\n  app:\n    image: x:1\n    volumes:\n      - ./link:/x\n`)
    symlinkSync('/etc', join(fx.repo, 'web', 'link'))
    const layout = readLayout(fx.repo)
    expect(() => renderStack(layout, layout.stacks[0]!)).toThrow(/escapes .*resolves to \/etc/)
  })

  it.each([
    ['short syntax', '      - ./data:/data\n'],
    ['long syntax', '      - type: bind\n        source: data\n        target: /data\n'],
  ])('refuses a relative bind mount (%s), pointing at type: binding', (_form, volume) => {
    fx = webFixture(`services:\n  app:\n    image: x:1\n    volumes:\n${volume}`)
    const layout = readLayout(fx.repo)
    expect(() => renderStack(layout, layout.stacks[0]!)).toThrow(
      /web\/compose\.yaml: service "app" volume .*: relative bind mounts are refused: .*cached clone.*`type: binding`/,
    )
  })

  it('allows absolute host paths such as the Docker socket', () => {
    fx = webFixture(
      `services:\n  app:\n    image: x:1\n    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock\n`,
    )
    const layout = readLayout(fx.repo)
    expect(renderStack(layout, layout.stacks[0]!).compose).toContain('/var/run/docker.sock:/var/run/docker.sock')
  })

  it('refuses a service name Docker would reject', () => {
    fx = webFixture(`services:\n  "bad name":\n    image: x:1\n`)
    const layout = readLayout(fx.repo)
    expect(() => renderStack(layout, layout.stacks[0]!)).toThrow(/service "bad name": Docker would reject/)
  })

  it('reports malformed compose YAML with its position', () => {
    fx = webFixture(`services:\n  app:\n    image: [x\n`)
    const layout = readLayout(fx.repo)
    expect(() => renderStack(layout, layout.stacks[0]!)).toThrow(/^web\/compose\.yaml:\d+:\d+: malformed YAML/)
  })

  it('normalises image references', () => {
    expect(normaliseImage('nginx')).toBe('nginx:latest')
    expect(normaliseImage('127.0.0.1:5000/a/b')).toBe('127.0.0.1:5000/a/b:latest')
    expect(normaliseImage('127.0.0.1:5000/a/b:1.2')).toBe('127.0.0.1:5000/a/b:1.2')
    expect(normaliseImage('a@sha256:abc')).toBe('a@sha256:abc')
  })

  it('adds container labels in both label forms', () => {
    const out = parse(
      withServiceLabels(
        'services:\n  a:\n    image: x\n    labels: ["k=v"]\n  b:\n    image: y\n    labels: {k: v}\n',
        {
          [CONTENT_LABEL]: 'abc',
        },
      ),
    ) as {services: Record<string, {labels: unknown}>}
    expect(out.services.a!.labels).toEqual(['k=v', `${CONTENT_LABEL}=abc`])
    expect(out.services.b!.labels).toEqual({k: 'v', [CONTENT_LABEL]: 'abc'})
  })
})

describe('stack hash', () => {
  function prepared(f: Fixture, key = KEY) {
    const layout = readLayout(f.repo)
    return {web: prepareStack(layout, layout.stacks[0]!, key), api: prepareStack(layout, layout.stacks[1]!, key)}
  }

  it('is stable for the same inputs', () => {
    fx = webFixture(WEB).write('web/secrets.yaml', '- id: db\n  env: DB_PASSWORD\n').secret('db', 'pw-1\n')
    expect(prepared(fx).web.hash).toBe(prepared(fx).web.hash)
    expect(prepared(fx).web.secrets).toEqual({DB_PASSWORD: 'pw-1'})
  })

  it('is the same when computed again from its parts as stored in the database', () => {
    const input = {
      name: 'web',
      compose: 'services: {}\n',
      volumesText: '- id: web\n',
      nfsText: 'path: /mnt/nfs\n',
      secrets: {DB_PASSWORD: 'pw'},
      bindings: [
        {id: 'web', path: 'config/web', digest: 'd1'},
        {id: '10', path: 'config/10', digest: 'd2'},
        {id: '2', path: 'config/2', digest: 'd3'},
      ],
    }
    const {hash, parts} = stackHash(input, KEY)
    expect(hashOfParts('web', JSON.parse(JSON.stringify(parts)) as typeof parts)).toBe(hash)
    expect(hashOfParts('api', parts)).not.toBe(hash)
  })

  it('changes only for the stack whose binding content changed', () => {
    fx = webFixture(WEB).write('web/secrets.yaml', '- id: db\n  env: DB_PASSWORD\n').secret('db', 'pw')
    const before = prepared(fx)
    fx.write('config/web/index.html', 'changed\n')
    const after = prepared(fx)
    expect(after.web.hash).not.toBe(before.web.hash)
    expect(after.api.hash).toBe(before.api.hash)
    expect(changedParts(before.web.parts, after.web.parts)).toEqual(['binding conf'])
  })

  it('changes when a secret value changes, without containing it', () => {
    fx = webFixture(WEB).write('web/secrets.yaml', '- id: db\n  env: DB_PASSWORD\n').secret('db', 'first-secret')
    const before = prepared(fx)
    fx.secret('db', 'second-secret')
    const after = prepared(fx)
    expect(after.web.hash).not.toBe(before.web.hash)
    expect(after.api.hash).toBe(before.api.hash)
    expect(changedParts(before.web.parts, after.web.parts)).toEqual(['secrets'])
    expect(JSON.stringify(after.web.parts)).not.toContain('second-secret')
    expect(after.web.hash).not.toContain('second-secret')
  })

  it('depends on the HMAC key, so the stored hash reveals nothing about the values', () => {
    expect(secretsHmac('a', {X: 'v'})).not.toBe(secretsHmac('b', {X: 'v'}))
    expect(secretsHmac('a', {X: 'v'})).toBe(secretsHmac('a', {X: 'v'}))
  })

  it('changes with volumes.yaml and nfs.yaml', () => {
    const input = {name: 's', compose: 'c', bindings: [], volumesText: 'v', nfsText: 'n', secrets: {}}
    const base = stackHash(input, KEY).hash
    expect(stackHash({...input, volumesText: 'v2'}, KEY).hash).not.toBe(base)
    expect(stackHash({...input, nfsText: 'n2'}, KEY).hash).not.toBe(base)
    expect(stackHash({...input, compose: 'c2'}, KEY).hash).not.toBe(base)
  })

  it('holds one registration per stack: a rotated value is forgotten, the live one outlasts a full set', () => {
    fx = webFixture(WEB).write('web/secrets.yaml', '- id: db\n  env: DB_PASSWORD\n').secret('db', 'first-secret')
    const layout = readLayout(fx.repo)
    clearSecrets()
    for (let run = 0; run < 3; run++) prepareStack(layout, layout.stacks[0]!, KEY)
    expect(secretCount()).toBe(1)
    fx.secret('db', 'second-secret')
    prepareStack(layout, layout.stacks[0]!, KEY)
    expect(redact('first-secret second-secret')).toBe('first-secret ***')
    // Short-lived values (registry tokens) fill the set: the stack's live value is not the one evicted.
    for (let i = 0; i < MAX_SECRETS + 50; i++) registerSecret(`token-${i}-xyz`, {ttlMs: 60_000})
    expect(redact('second-secret')).toBe('***')
    clearSecrets()
  })

  it('fails a stack whose secret file is missing, naming the entry and the file', () => {
    fx = webFixture(WEB).write('web/secrets.yaml', '- id: db\n  env: DB_PASSWORD\n')
    const layout = readLayout(fx.repo)
    expect(() => prepareStack(layout, layout.stacks[0]!, KEY)).toThrow(
      new RegExp(
        `web/secrets.yaml entry "db" \\(env DB_PASSWORD\\): secret file ${join(fx.nfs, 'secret', 'db')} is missing`,
      ),
    )
    expect(() => prepareStack(layout, layout.stacks[1]!, KEY)).not.toThrow()
  })

  it('refuses a secret file that is a symlink out of the NFS root', () => {
    fx = webFixture(WEB).write('web/secrets.yaml', '- id: db\n  env: DB_PASSWORD\n')
    symlinkSync('/etc/hostname', join(fx.nfs, 'secret', 'db'))
    const layout = readLayout(fx.repo)
    expect(() => prepareStack(layout, layout.stacks[0]!, KEY)).toThrow(/escapes/)
  })

  it('refuses a compose that interpolates a variable the stack does not declare (a typo, or homeops own env)', () => {
    fx = webFixture(WEB.replace('${DB_PASSWORD}', '${DB_PASWORD}'))
      .write('web/secrets.yaml', '- id: db\n  env: DB_PASSWORD\n')
      .secret('db', 'pw')
    expect(() => prepared(fx)).toThrow(
      /web\/compose\.yaml: \$\{DB_PASWORD\} is not defined: a compose file interpolates only its stack's secrets \(DB_PASSWORD in web\/secrets\.yaml\)/,
    )
  })

  it('hashes the non-secret variables a compose interpolates, with the values the CLI will see', () => {
    fx = webFixture(WEB.replace('${DB_PASSWORD}', '${DOCKER_CONFIG}'))
    const layout = readLayout(fx.repo)
    const a = prepareStack(layout, layout.stacks[0]!, KEY, {DOCKER_CONFIG: '/root/.docker'})
    const b = prepareStack(layout, layout.stacks[0]!, KEY, {DOCKER_CONFIG: '/var/lib/homeops/.docker'})
    expect(a.hash).not.toBe(b.hash)
    expect(changedParts(a.parts, b.parts)).toEqual(['environment'])
    // A compose that interpolates nothing but secrets hashes as before (no redeploy on upgrade).
    fx.write('web/compose.yaml', 'services:\n  app:\n    image: x:1\n')
    const plain = readLayout(fx.repo)
    expect(prepareStack(plain, plain.stacks[0]!, KEY, {HOME: '/a'}).parts.env).toBeUndefined()
  })

  it('refuses an empty secret file and one too large for the environment', () => {
    fx = webFixture(WEB).write('web/secrets.yaml', '- id: db\n  env: DB_PASSWORD\n').secret('db', '\n')
    expect(() => prepared(fx)).toThrow(/secret file .*db is empty; refusing to deploy an empty value/)
    fx.secret('db', 'x'.repeat(1024 * 1024))
    expect(() => prepared(fx)).toThrow(
      /secret file .*db holds 1048576 bytes, too large for the environment of docker stack deploy \(Linux allows at most 131072 bytes per variable, E2BIG\)/,
    )
  })

  it('hashes the files a compose references and names configs and secrets by their content', () => {
    const compose = `services:\n  app:\n    image: x:1\n    env_file: [app.env]\n    configs: [conf]\n    secrets: [key]\nconfigs:\n  conf: {file: ./app.conf}\nsecrets:\n  key: {file: ./key.pem}\n  kept: {external: true}\n`
    fx = webFixture(compose).write('web/app.env', 'A=1\n').write('web/app.conf', 'one\n').write('web/key.pem', 'k\n')
    const before = prepared(fx).web
    const doc = parse(before.rendered.compose) as {configs: {conf: {name: string}}; secrets: {key: {name: string}}}
    expect(doc.configs.conf.name).toMatch(/^web_conf_[0-9a-f]{12}$/)
    expect(doc.secrets.key.name).toMatch(/^web_key_[0-9a-f]{12}$/)
    fx.write('web/app.conf', 'two\n').write('web/app.env', 'A=2\n')
    const after = prepared(fx).web
    expect(changedParts(before.parts, after.parts)).toEqual(['compose', 'file web/app.conf', 'file web/app.env'])
    const renamed = parse(after.rendered.compose) as typeof doc
    expect(renamed.configs.conf.name).not.toBe(doc.configs.conf.name)
    expect(renamed.secrets.key.name).toBe(doc.secrets.key.name)
  })
})
