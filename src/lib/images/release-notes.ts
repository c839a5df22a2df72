import {errorMessage} from '../errors.js'
import {requestText} from '../http/client.js'
import type {Logger} from '../log/logger.js'

export interface ReleaseNotes {
  /** Where a person reads them. */
  url?: string
  /** The release body (markdown) when GitHub has one. */
  body?: string
}

export interface ReleaseNotesOptions {
  /** `homeops.images.release-url` template with `${tag}`. */
  template?: string
  /** `org.opencontainers.image.source` of the image. */
  source?: string
  githubApiUrl?: string
  githubToken?: string
  timeoutMs?: number
  logger: Logger
}

/** `https://github.com/owner/repo(.git)` (or `git@github.com:owner/repo`) → owner/repo. */
export function githubRepository(source: string | undefined): {owner: string; repo: string} | undefined {
  if (!source) return undefined
  const match =
    /^(?:https?:\/\/|git@|ssh:\/\/git@)(?:www\.)?github\.com[/:]([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?(?:[/#?].*)?$/.exec(
      source.trim(),
    )
  return match ? {owner: match[1]!, repo: match[2]!} : undefined
}

/** Fills `${tag}` (and `${version}`: the tag without a leading `v`) in a release-url template. */
export function expandReleaseUrl(template: string, tag: string): string {
  return template
    .split('${tag}')
    .join(encodeURIComponent(tag))
    .split('${version}')
    .join(encodeURIComponent(tag.replace(/^v/i, '')))
}

/**
 * The release-notes link for `tag`: the label template when set, else the
 * GitHub release of the image's source repository (tag as is, then with or
 * without a `v`), else the repository's releases page. Never throws.
 */
export async function findReleaseNotes(tag: string | undefined, options: ReleaseNotesOptions): Promise<ReleaseNotes> {
  if (options.template && tag) return {url: expandReleaseUrl(options.template, tag)}
  const repo = githubRepository(options.source)
  if (!repo) return {}
  const page = `https://github.com/${repo.owner}/${repo.repo}/releases`
  if (!tag) return {url: page}
  const base = (options.githubApiUrl ?? 'https://api.github.com').replace(/\/+$/, '')
  const variants = [...new Set([tag, tag.startsWith('v') ? tag.slice(1) : `v${tag}`])]
  for (const candidate of variants) {
    const url = `${base}/repos/${repo.owner}/${repo.repo}/releases/tags/${encodeURIComponent(candidate)}`
    try {
      const {status, text} = await requestText(url, 'GitHub release lookup', {
        headers: {
          accept: 'application/vnd.github+json',
          'x-github-api-version': '2022-11-28',
          ...(options.githubToken ? {authorization: `Bearer ${options.githubToken}`} : {}),
        },
        timeoutMs: options.timeoutMs ?? 10_000,
      })
      if (status === 404) continue
      if (status !== 200) {
        options.logger.warn('GitHub release lookup failed', {repository: `${repo.owner}/${repo.repo}`, status})
        break
      }
      const release = JSON.parse(text) as {html_url?: unknown; body?: unknown}
      return {
        url: typeof release.html_url === 'string' ? release.html_url : `${page}/tag/${encodeURIComponent(candidate)}`,
        body: typeof release.body === 'string' ? release.body : undefined,
      }
    } catch (error) {
      options.logger.warn('GitHub release lookup failed', {
        repository: `${repo.owner}/${repo.repo}`,
        error: errorMessage(error),
      })
      break
    }
  }
  return {url: page}
}

export interface SummaryOptions {
  /** Base URL (`https://api.openai.com/v1`): `/chat/completions` is appended; a URL already ending in it is used as given. */
  url?: string
  key?: string
  model?: string
  timeoutMs?: number
  logger: Logger
}

export function chatCompletionsUrl(url: string): string {
  const trimmed = url.replace(/\/+$/, '')
  return /\/chat\/completions$/.test(trimmed) ? trimmed : `${trimmed}/chat/completions`
}

/**
 * A few sentences about the release notes from an OpenAI-compatible endpoint
 * (OpenAI, Ollama, LocalAI, LiteLLM…). Off when no URL is set; any failure
 * returns undefined (it never blocks the notification).
 */
export async function summarizeReleaseNotes(
  notes: string,
  context: {image: string; from: string; to: string},
  options: SummaryOptions,
): Promise<string | undefined> {
  if (!options.url || notes.trim() === '') return undefined
  const timeoutMs = options.timeoutMs ?? 30_000
  try {
    const {status, text} = await requestText(chatCompletionsUrl(options.url), 'release-notes summary', {
      method: 'POST',
      headers: {'content-type': 'application/json', ...(options.key ? {authorization: `Bearer ${options.key}`} : {})},
      body: JSON.stringify({
        model: options.model ?? 'gpt-4o-mini',
        temperature: 0.2,
        max_tokens: 300,
        messages: [
          {
            role: 'system',
            content:
              'You summarise software release notes for a home-lab operator deciding whether to update. Answer in at most 4 short bullet points in plain text; mention breaking changes and security fixes first.',
          },
          {
            role: 'user',
            content: `Image ${context.image}, update ${context.from} → ${context.to}. Release notes:\n\n${notes.slice(0, 12_000)}`,
          },
        ],
      }),
      timeoutMs,
    })
    if (status !== 200) {
      options.logger.warn('release-notes summary failed', {status})
      return undefined
    }
    const body = JSON.parse(text) as {choices?: {message?: {content?: unknown}}[]}
    const content = body.choices?.[0]?.message?.content
    return typeof content === 'string' && content.trim() !== '' ? content.trim().slice(0, 2000) : undefined
  } catch (error) {
    options.logger.warn('release-notes summary failed', {error: errorMessage(error)})
    return undefined
  }
}
