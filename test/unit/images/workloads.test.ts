import {describe, expect, it} from 'vitest'

import {UserError} from '../../../src/lib/errors.js'
import {imageLabel, resolveSettings} from '../../../src/lib/images/workloads.js'

describe('resolveSettings', () => {
  it('defaults to NOTIFICATION / ALL', () => {
    expect(resolveSettings({})).toMatchObject({mode: 'NOTIFICATION', strategy: 'ALL'})
  })
  it('reads homeops.images.* labels, any case, and the image-watcher/* aliases', () => {
    expect(resolveSettings({'homeops.images.mode': 'auto_update', 'homeops.images.strategy': 'minor'})).toMatchObject({
      mode: 'AUTO_UPDATE',
      strategy: 'MINOR',
    })
    const s = resolveSettings({
      'image-watcher/mode': 'DISABLED',
      'image-watcher/strategy': 'PATCH',
      'image-watcher/release-url': 'https://x/${tag}',
      'image-watcher/include': '^1\\.',
      'image-watcher/exclude': 'rc',
    })
    expect(s).toMatchObject({mode: 'DISABLED', strategy: 'PATCH', releaseUrl: 'https://x/${tag}'})
    expect(s.include!.test('1.2')).toBe(true)
    expect(s.exclude!.test('1.2-rc')).toBe(true)
    expect(imageLabel({'homeops.images.mode': 'A', 'image-watcher/mode': 'B'}, 'mode')).toEqual({
      name: 'homeops.images.mode',
      value: 'A',
    })
  })
  it('lets IMAGE_WATCHER_MODE / _STRATEGY override labels, except an explicit DISABLED', () => {
    expect(
      resolveSettings({'homeops.images.strategy': 'PATCH'}, {mode: 'AUTO_UPDATE', strategy: 'MAJOR'}),
    ).toMatchObject({
      mode: 'AUTO_UPDATE',
      strategy: 'MAJOR',
    })
    expect(resolveSettings({'homeops.images.mode': 'DISABLED'}, {mode: 'AUTO_UPDATE'}).mode).toBe('DISABLED')
    // An override also hides a bad label of the same key.
    expect(resolveSettings({'homeops.images.strategy': 'BOGUS'}, {strategy: 'MINOR'}).strategy).toBe('MINOR')
  })
  it('refuses an invalid strategy, mode or regex with the label name', () => {
    expect(() => resolveSettings({'homeops.images.strategy': 'NEWEST'})).toThrow(UserError)
    expect(() => resolveSettings({'homeops.images.strategy': 'NEWEST'})).toThrow(
      'label homeops.images.strategy="NEWEST" is not one of ALL, MAJOR, MINOR, PATCH',
    )
    expect(() => resolveSettings({'image-watcher/mode': 'ON'})).toThrow('label image-watcher/mode="ON"')
    expect(() => resolveSettings({'homeops.images.include': '(unclosed'})).toThrow(
      /label homeops.images.include is not a valid regular expression/,
    )
  })
})
