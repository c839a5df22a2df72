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
    ['1.0.0-alpine', {prefix: '', parts: [1, 0, 0], variant: 'alpine', variantKey: 'alpine'}],
    ['1.25-bookworm-slim', {prefix: '', parts: [1, 25], variant: 'bookworm-slim', variantKey: 'bookworm-slim'}],
    ['2.0.0-rc.1', {prefix: '', parts: [2, 0, 0], prerelease: 'rc.1'}],
    [
      '2.0.0-beta2-alpine',
      {prefix: '', parts: [2, 0, 0], prerelease: 'beta2', variant: 'alpine', variantKey: 'alpine'},
    ],
    ['4.0.10-ls45', {prefix: '', parts: [4, 0, 10], variant: 'ls45', variantKey: 'ls#', build: [45]}],
    ['1.25.3-r1', {prefix: '', parts: [1, 25, 3], variant: 'r1', variantKey: 'r#', build: [1]}],
    [
      '20.10.0-alpine3.18',
      {prefix: '', parts: [20, 10, 0], variant: 'alpine3.18', variantKey: 'alpine3.#', build: [18]},
    ],
    ['2.4.1-1', {prefix: '', parts: [2, 4, 1], variant: '1', variantKey: '#', build: [1]}],
    ['17.0.2-jdk17', {prefix: '', parts: [17, 0, 2], variant: 'jdk17', variantKey: 'jdk17'}],
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
    expect(findCandidates('latest', tags, 'ALL')).toEqual({
      allowed: [],
      reason: '"latest" is not a version tag: followed by digest',
    })
    expect(findCandidates('1.2.3', [], 'ALL')).toMatchObject({newestAllowed: undefined, allowed: []})
  })

  it('handles a tag list of 100 000 tags', () => {
    const many = Array.from({length: 100_000}, (_, i) => `${Math.floor(i / 1000)}.${i % 1000}.0`)
    const result = findCandidates('1.5.0', many, 'MINOR')
    expect(result.newestAllowed).toBe('1.999.0')
    expect(result.newestOverall).toBe('99.999.0')
  })
})

describe('build-number and revision suffixes', () => {
  it('moves a linuxserver.io build to the newest build of the newest version', () => {
    const tags = ['4.0.10-ls44', '4.0.10-ls45', '4.0.10-ls46', '4.0.11-ls47', '4.0.11', 'latest', '5.0.0-ls1']
    expect(findCandidates('4.0.10-ls45', tags, 'ALL').allowed).toEqual(['4.0.10-ls46', '4.0.11-ls47', '5.0.0-ls1'])
    expect(findCandidates('4.0.10-ls45', tags, 'MINOR').newestAllowed).toBe('4.0.11-ls47')
    expect(findCandidates('4.0.10-ls45', tags, 'PATCH').allowed).toEqual(['4.0.10-ls46', '4.0.11-ls47'])
    // A plain 4.0.11 is another format: never offered to an -ls tag (and the other way round).
    expect(findCandidates('4.0.10', tags, 'ALL').allowed).toEqual(['4.0.11'])
  })

  it('orders distro revisions (-r1 < -r2 < -r10) within one version and across versions', () => {
    const tags = ['1.25.3-r0', '1.25.3-r1', '1.25.3-r2', '1.25.3-r10', '1.25.4-r0', '1.26.0-r1']
    expect(findCandidates('1.25.3-r1', tags, 'PATCH').allowed).toEqual(['1.25.3-r2', '1.25.3-r10', '1.25.4-r0'])
    expect(findCandidates('1.25.3-r1', tags, 'ALL').newestAllowed).toBe('1.26.0-r1')
    expect(changeLevel('1.25.3-r1', '1.25.3-r2')).toBe('patch')
  })

  it('moves alpine3.18 to alpine3.19 but never to alpine4 or another distro', () => {
    const tags = [
      '20.10.0-alpine3.18',
      '20.11.0-alpine3.18',
      '20.11.0-alpine3.19',
      '20.12.0-bookworm',
      '20.12.0-alpine4.0',
      '20.12.0-alpine',
      '21.0.0-alpine3.19',
    ]
    expect(findCandidates('20.10.0-alpine3.18', tags, 'MINOR').allowed).toEqual([
      '20.11.0-alpine3.18',
      '20.11.0-alpine3.19',
    ])
    expect(findCandidates('20.10.0-alpine3.18', tags, 'ALL').newestAllowed).toBe('21.0.0-alpine3.19')
    expect(findCandidates('20.10.0-alpine', tags, 'ALL').allowed).toEqual(['20.12.0-alpine'])
  })

  it('never crosses variants: -alpine, -debian, -jdk17 and -jdk21 stay apart', () => {
    const tags = ['1.0.1-debian', '1.0.1-alpine', '1.0.2-jdk21', '1.0.2-jdk17', '1.0.3-ls5']
    expect(findCandidates('1.0.0-alpine', tags, 'ALL').allowed).toEqual(['1.0.1-alpine'])
    expect(findCandidates('1.0.0-debian', tags, 'ALL').allowed).toEqual(['1.0.1-debian'])
    expect(findCandidates('1.0.0-jdk17', tags, 'ALL').allowed).toEqual(['1.0.2-jdk17'])
  })

  it('says why there is no candidate', () => {
    expect(findCandidates('4.0.10-ls45', ['4.0.10-ls45', '4.0.9-ls50'], 'ALL').reason).toBe(
      'no newer tag in the format N.N.N-ls<N> among 2 tags',
    )
    expect(findCandidates('1.2.3', ['1.2.3', '2.0.0'], 'MINOR').reason).toBe(
      '1 newer (up to 2.0.0) not allowed by strategy MINOR',
    )
    expect(findCandidates('1.2.3-alpine', ['1.3.0-debian'], 'ALL').reason).toBe(
      'newer only in another format or variant (e.g. 1.3.0-debian)',
    )
    expect(findCandidates('1.2.3', ['1.3.0', '1.4.0-rc.1'], 'ALL', {exclude: /^1\.3/}).reason).toBe(
      '1 newer left out by the include/exclude labels; 1 newer pre-release ignored',
    )
    expect(findCandidates('1.2.3', ['1.3.0'], 'ALL').reason).toBeUndefined()
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
