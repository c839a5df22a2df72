import {describe, expect, it} from 'vitest'

import {UserError} from '../../../src/lib/errors.js'
import {
  changeLevel,
  compareVersions,
  compileTagPattern,
  findCandidates,
  parseVersionTag,
} from '../../../src/lib/images/versions.js'

const v = (tag: string) => parseVersionTag(tag)!

describe('parseVersionTag', () => {
  it.each([
    ['1.2.3', {prefix: '', parts: [1, 2, 3]}],
    ['v1.2', {prefix: 'v', parts: [1, 2]}],
    ['7', {prefix: '', parts: [7]}],
    ['1.2.3.4', {prefix: '', parts: [1, 2, 3, 4]}],
    ['1.0.0-alpine', {prefix: '', parts: [1, 0, 0], variant: 'alpine'}],
    ['1.25-bookworm-slim', {prefix: '', parts: [1, 25], variant: 'bookworm-slim'}],
    ['2.0.0-rc.1', {prefix: '', parts: [2, 0, 0], prerelease: 'rc.1'}],
    ['2.0.0-beta2-alpine', {prefix: '', parts: [2, 0, 0], prerelease: 'beta2', variant: 'alpine'}],
    ['v3.0.0-alpha', {prefix: 'v', parts: [3, 0, 0], prerelease: 'alpha'}],
  ])('reads %s', (tag, expected) => {
    expect(parseVersionTag(tag)).toEqual({tag, ...expected})
  })
  it.each(['latest', 'stable', 'edge', 'main-abc123', 'sha-1f2e', '1.2.3.4.5', '1..2', 'v', '', '1.2.3-'])(
    'treats %j as not a version',
    (tag) => {
      expect(parseVersionTag(tag)).toBeUndefined()
    },
  )
})

describe('compareVersions', () => {
  it('orders numbers, then releases above pre-releases, then pre-releases as semver', () => {
    const sorted = ['1.10.0', '1.2.0', '1.9.9', '2.0.0-rc.2', '2.0.0-rc.10', '2.0.0', '2.0.0-alpha', '2.0.0-beta']
      .map(v)
      .sort(compareVersions)
      .map((x) => x.tag)
    expect(sorted).toEqual([
      '1.2.0',
      '1.9.9',
      '1.10.0',
      '2.0.0-alpha',
      '2.0.0-beta',
      '2.0.0-rc.2',
      '2.0.0-rc.10',
      '2.0.0',
    ])
    expect(compareVersions(v('2.0.0-rc1'), v('2.0.0-rc2'))).toBeLessThan(0)
    expect(compareVersions(v('1.2.3'), v('1.2.3'))).toBe(0)
  })
})

describe('findCandidates', () => {
  const tags = [
    'latest',
    '1.2.3',
    '1.2.4',
    '1.2.9',
    '1.3.0',
    '1.9.1',
    '2.0.0',
    '2.1.0-rc.1',
    'v1.2.4',
    'v2.0.0',
    '1.2',
    '1.3',
    '2.0',
    '1.2.4-alpine',
    '1.4.0-alpine',
    '3.0.0-alpine',
    '1.2.10-rc.1',
    '1.2.3.1',
    '1.2.4.0',
    'sha256-' + 'a'.repeat(64) + '.sig',
  ]

  it.each([
    ['PATCH', '1.2.9', '2.0.0'],
    ['MINOR', '1.9.1', '2.0.0'],
    ['MAJOR', '2.0.0', '2.0.0'],
    ['ALL', '2.0.0', '2.0.0'],
  ] as const)('strategy %s caps the change: 1.2.3 → %s (newest overall %s)', (strategy, allowed, overall) => {
    const result = findCandidates('1.2.3', tags, strategy)
    expect(result.newestAllowed).toBe(allowed)
    expect(result.newestOverall).toBe(overall)
  })

  it('keeps the v prefix', () => {
    expect(findCandidates('v1.2.3', tags, 'ALL').newestAllowed).toBe('v2.0.0')
    expect(findCandidates('v1.2.3', tags, 'PATCH').newestAllowed).toBe('v1.2.4')
  })

  it('keeps the precision: 1.2 moves to 2.0, never to 1.2.4', () => {
    expect(findCandidates('1.2', tags, 'ALL').allowed).toEqual(['1.3', '2.0'])
    expect(findCandidates('1.2', tags, 'MINOR').newestAllowed).toBe('1.3')
    // PATCH on a two-part tag: nothing to move to (the floating tag is followed by digest).
    expect(findCandidates('1.2', tags, 'PATCH').newestAllowed).toBeUndefined()
    expect(findCandidates('1.2.3.0', tags, 'PATCH').allowed).toEqual(['1.2.3.1', '1.2.4.0'])
  })

  it('keeps the variant suffix', () => {
    expect(findCandidates('1.2.4-alpine', tags, 'MINOR').newestAllowed).toBe('1.4.0-alpine')
    expect(findCandidates('1.2.4-alpine', tags, 'ALL').newestAllowed).toBe('3.0.0-alpine')
    expect(findCandidates('1.2.3', tags, 'ALL').allowed).not.toContain('3.0.0-alpine')
  })

  it('excludes pre-releases unless the current tag is one', () => {
    expect(findCandidates('1.2.3', tags, 'ALL').allowed).not.toContain('2.1.0-rc.1')
    expect(findCandidates('1.2.3', tags, 'PATCH').allowed).not.toContain('1.2.10-rc.1')
    expect(findCandidates('2.1.0-rc.0', ['2.1.0-rc.1', '2.1.0', '2.0.0'], 'ALL').allowed).toEqual([
      '2.1.0-rc.1',
      '2.1.0',
    ])
  })

  it('applies include and exclude regexes', () => {
    expect(findCandidates('1.2.3', tags, 'ALL', {exclude: /^2\./}).newestAllowed).toBe('1.9.1')
    expect(findCandidates('1.2.3', tags, 'ALL', {include: /^1\.2\./}).newestAllowed).toBe('1.2.9')
  })

  it('follows non-version tags by digest (no candidates)', () => {
    expect(findCandidates('latest', tags, 'ALL')).toEqual({allowed: []})
    expect(findCandidates('1.2.3', [], 'ALL')).toMatchObject({newestAllowed: undefined, allowed: []})
  })

  it('handles a tag list of 100 000 tags', () => {
    const many = Array.from({length: 100_000}, (_, i) => `${Math.floor(i / 1000)}.${i % 1000}.0`)
    const result = findCandidates('1.5.0', many, 'MINOR')
    expect(result.newestAllowed).toBe('1.999.0')
    expect(result.newestOverall).toBe('99.999.0')
  })
})

describe('compileTagPattern', () => {
  it('compiles or refuses with the label name', () => {
    expect(compileTagPattern('^1\\.', 'homeops.images.include')!.test('1.2')).toBe(true)
    expect(compileTagPattern(undefined, 'x')).toBeUndefined()
    expect(compileTagPattern('  ', 'x')).toBeUndefined()
    expect(() => compileTagPattern('([', 'homeops.images.include')).toThrow(UserError)
    expect(() => compileTagPattern('([', 'homeops.images.include')).toThrow(
      /homeops.images.include is not a valid regular expression/,
    )
  })
  it('names the change level', () => {
    expect(changeLevel('1.2.3', '2.0.0')).toBe('major')
    expect(changeLevel('1.2.3', '1.3.0')).toBe('minor')
    expect(changeLevel('1.2.3', '1.2.4')).toBe('patch')
    expect(changeLevel('latest', '1.0')).toBe('other')
  })
})
