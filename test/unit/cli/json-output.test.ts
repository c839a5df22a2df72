import {ux} from '@oclif/core'
import {describe, expect, it} from 'vitest'

describe('--json output', () => {
  it('is, without a theme, the text oclif would print: JSON.stringify with two spaces', () => {
    const report = {
      dryRun: false,
      repositories: [
        {url: 'https://git.example.org/a.git', name: 'a', branch: null, commit: 'f'.repeat(40), result: 'ok'},
      ],
      stacks: [
        {stack: 'web', action: 'unchanged', reason: 'hash unchanged', outcome: 'unchanged', hash: 'sha256:00'},
        {stack: 'api', action: 'fail', reason: 'a "quoted" \\ path\nnext line – ünïcode', outcome: 'failed'},
      ],
      images: {removed: [], kept: [{reference: 'x:1', reason: 'in use'}]},
      exitCode: 1,
      durationMs: 12.5,
      nested: [[], {}, [true, false, null, -1.5e-7, 0]],
    }
    expect(ux.colorizeJson(report, {pretty: true})).toBe(JSON.stringify(report, null, 2))
  })
})
