import {readFileSync, readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {withEnvTable} from '../../../src/lib/config/env-docs.js'
import {isKnownHomeopsEnv, unknownEnvMessage, unknownHomeopsEnv} from '../../../src/lib/config/known-env.js'
import {loadConfig} from '../../../src/lib/config/load.js'

const root = join(import.meta.dirname, '../../..')
const noFile = {XDG_CONFIG_HOME: '/nonexistent-homeops-config'}

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return files(path, ext)
    return ext.test(name) ? [path] : []
  })
}

describe('environment variable names', () => {
  it('reads a key from its snake-case name and from the key as written', () => {
    for (const name of ['HOMEOPS_SWARM_PULL_POLICY', 'HOMEOPS_SWARM_PULLPOLICY']) {
      const {config} = loadConfig({env: {...noFile, [name]: 'always'}, isRoot: false})
      expect(config.swarm.pullPolicy, name).toBe('always')
    }
    const {config} = loadConfig({
      env: {
        ...noFile,
        HOMEOPS_SWARM_CONVERGETIMEOUTSECONDS: '120',
        HOMEOPS_SWARM_RECONCILE_INTERVAL_SECONDS: '600',
        HOMEOPS_SWARM_CACHEDIR: '/srv/clones',
        HOMEOPS_SWARM_DOCKER_CLI: '/usr/bin/docker',
        HOMEOPS_SWARM_GITHUBTOKENHOSTS: 'github.com,git.example.org',
        HOMEOPS_IMAGES_CONCURRENCYPERREGISTRY: '3',
      },
      isRoot: false,
    })
    expect(config.swarm.convergeTimeoutSeconds).toBe(120)
    expect(config.swarm.reconcileIntervalSeconds).toBe(600)
    expect(config.swarm.cacheDir).toBe('/srv/clones')
    expect(config.swarm.dockerCli).toBe('/usr/bin/docker')
    expect(config.swarm.githubTokenHosts).toEqual(['github.com', 'git.example.org'])
    expect(config.images.concurrencyPerRegistry).toBe(3)
  })

  it('names an unknown HOMEOPS_ variable with the closest documented one', () => {
    const unknown = unknownHomeopsEnv({
      HOMEOPS_SWARM_PULL_POLCY: 'always',
      HOMEOPS_SWARM_PULL_POLICY: 'always',
      HOMEOPS_CONFIG: '/etc/homeops/config.yaml',
      HOMEOPS_TESTENV_DIR: '/tmp/x',
      PATH: '/usr/bin',
    })
    expect(unknown).toEqual([{name: 'HOMEOPS_SWARM_PULL_POLCY', suggestion: 'HOMEOPS_SWARM_PULL_POLICY'}])
    expect(unknownEnvMessage(unknown[0]!)).toBe(
      'environment variable HOMEOPS_SWARM_PULL_POLCY is not a homeops setting and is ignored (did you mean HOMEOPS_SWARM_PULL_POLICY?)',
    )
  })

  it('knows every HOMEOPS_ variable the sources read (process.env, flag env names, scripts)', () => {
    const sources = [
      ...files(join(root, 'src'), /\.ts$/),
      ...files(join(root, 'scripts'), /\.(mjs|sh|ts)$/),
      ...files(join(root, 'deploy'), /./),
      ...files(join(root, 'bin'), /\.js$/),
      join(root, 'install.sh'),
      join(root, 'Dockerfile'),
      join(root, 'compose.yaml'),
    ]
    const unknown = new Set<string>()
    for (const file of sources) {
      for (const [name] of readFileSync(file, 'utf8').matchAll(/HOMEOPS_[A-Z0-9_]*[A-Z0-9](?![A-Za-z0-9_])/g)) {
        if (!isKnownHomeopsEnv(name)) unknown.add(`${name} (${file.slice(root.length + 1)})`)
      }
    }
    expect([...unknown]).toEqual([])
  })

  it('documents no variable that does not exist (README.md and docs/*.md)', () => {
    const unknown = new Set<string>()
    for (const file of [join(root, 'README.md'), ...files(join(root, 'docs'), /\.md$/)]) {
      for (const [name] of readFileSync(file, 'utf8').matchAll(/HOMEOPS_[A-Z0-9_]*[A-Z0-9](?![A-Za-z0-9_])/g)) {
        if (!isKnownHomeopsEnv(name)) unknown.add(`${name} (${file.slice(root.length + 1)})`)
      }
    }
    expect([...unknown]).toEqual([])
  })

  it('docs/environment.md holds the table generated from the schema (npm run docs)', () => {
    const committed = readFileSync(join(root, 'docs/environment.md'), 'utf8')
    expect(withEnvTable(committed)).toBe(committed)
  })
})
