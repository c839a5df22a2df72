import {describe, expect, it} from 'vitest'

import {UserError} from '../../../src/lib/errors.js'
import {
  familiarName,
  formatReference,
  isImageId,
  normalizeRegistryHost,
  parseImageReference,
} from '../../../src/lib/registry/reference.js'

const D = 'sha256:' + 'a'.repeat(64)

describe('parseImageReference', () => {
  it.each([
    ['nginx', {registry: 'registry-1.docker.io', repository: 'library/nginx'}],
    ['nginx:1.27-alpine', {registry: 'registry-1.docker.io', repository: 'library/nginx', tag: '1.27-alpine'}],
    ['docker.io/nginx:1', {registry: 'registry-1.docker.io', repository: 'library/nginx', tag: '1'}],
    ['index.docker.io/library/nginx', {registry: 'registry-1.docker.io', repository: 'library/nginx'}],
    ['linuxserver/sonarr:4', {registry: 'registry-1.docker.io', repository: 'linuxserver/sonarr', tag: '4'}],
    ['ghcr.io/org/team/app:v2.1', {registry: 'ghcr.io', repository: 'org/team/app', tag: 'v2.1'}],
    ['127.0.0.1:5801/hotest/app:1.0.0', {registry: '127.0.0.1:5801', repository: 'hotest/app', tag: '1.0.0'}],
    ['localhost/app', {registry: 'localhost', repository: 'app'}],
    ['localhost:5000/app:x', {registry: 'localhost:5000', repository: 'app', tag: 'x'}],
    ['[::1]:5000/app:1', {registry: '[::1]:5000', repository: 'app', tag: '1'}],
    ['Registry.Example.com/app', {registry: 'registry.example.com', repository: 'app'}],
    [`nginx@${D}`, {registry: 'registry-1.docker.io', repository: 'library/nginx', digest: D}],
    [
      `127.0.0.1:5801/hotest/app:1.0.0@${D}`,
      {registry: '127.0.0.1:5801', repository: 'hotest/app', tag: '1.0.0', digest: D},
    ],
    ['my-registry:5000/a__b/c-d.e:tag_1', {registry: 'my-registry:5000', repository: 'a__b/c-d.e', tag: 'tag_1'}],
  ])('parses %s', (text, expected) => {
    expect(parseImageReference(text)).toEqual(expected)
  })

  it.each([
    ['', 'empty'],
    ['   ', 'empty'],
    ['NGINX', 'lowercase'],
    ['org/App:1', 'lowercase'],
    ['nginx:', 'not a valid tag'],
    ['nginx:-bad', 'not a valid tag'],
    ['nginx@sha256:123', 'digest'],
    ['nginx@md5', 'digest'],
    ['https://ghcr.io/org/app', 'scheme'],
    ['a//b', 'empty path component'],
    ['ghcr.io/', 'missing'],
    ['nginx latest', 'white space'],
    [':1.0', 'missing'],
    ['x'.repeat(300), 'longer'],
  ])('refuses %j with a clear UserError', (text, why) => {
    expect(() => parseImageReference(text)).toThrow(UserError)
    expect(() => parseImageReference(text)).toThrow(why)
  })

  it('keeps the digest lowercase and validates sha256 length', () => {
    expect(parseImageReference(`app@${D.toUpperCase().replace('SHA256', 'sha256')}`).digest).toBe(D)
    expect(() => parseImageReference('app@sha256:' + 'a'.repeat(40))).toThrow('64 hexadecimal')
  })
})

describe('formatReference', () => {
  it('writes the familiar form and round-trips', () => {
    for (const text of [
      'nginx',
      'nginx:1.27',
      'linuxserver/sonarr:4',
      'ghcr.io/org/app:v2',
      `127.0.0.1:5801/hotest/app:1.0.0@${D}`,
      `nginx@${D}`,
    ]) {
      expect(formatReference(parseImageReference(text))).toBe(text)
    }
    expect(formatReference(parseImageReference('docker.io/library/redis:7'))).toBe('redis:7')
    expect(familiarName({registry: 'registry-1.docker.io', repository: 'library/a/b'})).toBe('library/a/b')
  })
})

describe('helpers', () => {
  it('normalises registry hosts and docker hub aliases', () => {
    expect(normalizeRegistryHost('https://index.docker.io/v1/')).toBe('registry-1.docker.io')
    expect(normalizeRegistryHost('Docker.IO')).toBe('registry-1.docker.io')
    expect(normalizeRegistryHost('http://127.0.0.1:5802')).toBe('127.0.0.1:5802')
  })
  it('recognises image ids', () => {
    expect(isImageId(D)).toBe(true)
    expect(isImageId('a'.repeat(64))).toBe(true)
    expect(isImageId('nginx')).toBe(false)
  })
})
