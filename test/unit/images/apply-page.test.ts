import {describe, expect, it} from 'vitest'

import {confirmBody, releaseNotesLink} from '../../../src/lib/images/apply-confirm.js'
import {applyPage} from '../../../src/lib/images/apply-page.js'

describe('the apply-link page', () => {
  const facts = {
    image: 'ghcr.io/acme/web:1.2.0',
    currentTag: '1.2.0',
    kind: 'container',
    source: 'https://github.com/acme/web',
  }

  it('shows current → new version, the image, the release notes and a way back, in the dashboard look', () => {
    const page = applyPage(200, 'Apply 1.3.0 to web?', confirmBody('web', '1.3.0', 1_900_000_000, 'tok', facts))
    const html = String(page.body)
    expect(html).toContain('<code>1.2.0</code> → <strong><code>1.3.0</code></strong>')
    expect(html).toContain('ghcr.io/acme/web:1.2.0')
    expect(html).toContain('href="https://github.com/acme/web/releases/tag/1.3.0"')
    expect(html).toContain('<a href="/">← Back to the homeops dashboard</a>')
    expect(html).toContain('prefers-color-scheme:dark')
    // The progress script runs under a per-page nonce, nothing else inline.
    const nonce = /script-src 'nonce-([^']+)'/.exec(page.headers!['content-security-policy']!)![1]
    expect(html).toContain(`<script nonce="${nonce}">`)
  })

  it('escapes what it shows and never links a non-http release URL', () => {
    const html = confirmBody('<b>x</b>', '1"2', 1_900_000_000, 't', {releaseUrl: 'javascript:alert(1)//${tag}'})
    expect(html).not.toContain('<b>x</b>')
    expect(html).toContain('&lt;b&gt;x&lt;/b&gt;')
    expect(releaseNotesLink({releaseUrl: 'javascript:alert(1)'}, '1')).toBeUndefined()
  })
})
