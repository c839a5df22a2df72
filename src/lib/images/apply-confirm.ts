import {esc} from './apply-page.js'
import {expandReleaseUrl, githubRepository} from './release-notes.js'

/** What the page knows of the workload from the last check (all optional: the link alone is enough). */
export interface ApplyFacts {
  image?: string | null
  currentTag?: string | null
  kind?: string | null
  source?: string | null
  releaseUrl?: string | null
}

/** The release notes of `version`: the label's template, else the GitHub release of the image's source. */
export function releaseNotesLink(facts: ApplyFacts, version: string): string | undefined {
  const url = facts.releaseUrl
    ? expandReleaseUrl(facts.releaseUrl, version)
    : (() => {
        const repo = githubRepository(facts.source ?? undefined)
        return repo
          ? `https://github.com/${repo.owner}/${repo.repo}/releases/tag/${encodeURIComponent(version)}`
          : undefined
      })()
  return url && /^https?:\/\//i.test(url) ? url : undefined
}

/** The confirmation: current → new version, image, release notes, expiry, and the Apply button. */
export function confirmBody(
  workload: string,
  version: string,
  expires: number,
  token: string,
  facts: ApplyFacts,
): string {
  const notes = releaseNotesLink(facts, version)
  return `<dl><dt>Workload</dt><dd><code>${esc(workload)}</code>${facts.kind ? ` <span class="muted">(${esc(facts.kind)})</span>` : ''}</dd>
${facts.image ? `<dt>Image</dt><dd><code>${esc(facts.image)}</code></dd>` : ''}
<dt>Version</dt><dd><code>${esc(facts.currentTag ?? '?')}</code> → <strong><code>${esc(version)}</code></strong></dd>
${notes ? `<dt>Release notes</dt><dd><a href="${esc(notes)}" rel="noopener noreferrer" target="_blank">${esc(notes)}</a></dd>` : ''}
<dt>Link expires</dt><dd>${esc(new Date(expires * 1000).toISOString().slice(0, 16).replace('T', ' '))} UTC (works once)</dd></dl>
<form method="post" action=""><input type="hidden" name="token" value="${esc(token)}"><button type="submit">Apply ${esc(version)}</button></form>
<div id="progress" hidden><div class="progress" aria-hidden="true"><span></span></div><p role="status">Pulling the image and restarting ${esc(workload)}; this can take a minute. Keep this page open.</p></div>`
}
