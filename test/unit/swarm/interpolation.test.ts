import {describe, expect, it} from 'vitest'

import {references, undefinedReferences} from '../../../src/lib/swarm/interpolation.js'

describe('compose interpolation references', () => {
  it('finds required and optional references, and skips $$', () => {
    const text =
      'a: ${DB_PASSWORD}\nb: $HOST_NAME\nc: ${PORT:-80}\nd: ${X-1}\ne: $${NOT_ME}\nf: ${REQ:?set it}\ng: ${P:+on}'
    expect(references(text)).toEqual([
      {name: 'DB_PASSWORD', optional: false},
      {name: 'HOST_NAME', optional: false},
      {name: 'P', optional: true},
      {name: 'PORT', optional: true},
      {name: 'REQ', optional: false},
      {name: 'X', optional: true},
    ])
  })

  it('lists the required names that are not defined (a typo of a secret)', () => {
    const text = 'environment:\n  PASSWORD: ${DB_PASWORD}\n  USER: ${DB_USER}\n  TOKEN: ${GITHUB_TOKEN:-}\n'
    expect(undefinedReferences(text, new Set(['DB_PASSWORD', 'DB_USER']))).toEqual(['DB_PASWORD'])
  })
})
