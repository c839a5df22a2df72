import {basename, isAbsolute, resolve} from 'node:path'

import {UserError} from '../errors.js'

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i
/** `user@host:path`, git's scp-like ssh form. */
const SCP_LIKE = /^[^/]+@[^/]+:/
const SCHEMES = ['http:', 'https:', 'file:', 'ssh:', 'git:']

/**
 * A watched repository's URL, parsed once: the form stored in the database (a local path made
 * absolute, no trailing slash), the host a token may be sent to, and a display form that never
 * carries credentials. A URL with credentials is refused: they would end up in the database and
 * in `git remote -v`.
 */
export class RepositoryUrl {
  private constructor(
    /** As stored and handed to git. */
    readonly value: string,
    /** `https://host:port` of an http(s) URL (where a token may go), else undefined. */
    readonly origin: string | undefined,
    /** Lower-case `host[:port]` of an http(s) URL, else undefined. */
    readonly host: string | undefined,
  ) {}

  static parse(input: string): RepositoryUrl {
    const trimmed = input.trim()
    if (SCHEME.test(trimmed)) {
      let parsed: URL
      try {
        parsed = new URL(trimmed)
      } catch {
        throw new UserError(`"${displayForm(trimmed)}" is not a valid repository URL`)
      }
      if (parsed.username || parsed.password) {
        throw new UserError(`the repository URL carries credentials; watch ${withoutCredentials(parsed)} instead`, {
          hint: 'put the token in swarm.repositories[].token (or GITHUB_TOKEN for GitHub): it is sent only to that host and never stored',
        })
      }
      if (!SCHEMES.includes(parsed.protocol)) {
        throw new UserError(`unsupported repository URL scheme ${parsed.protocol} in ${withoutCredentials(parsed)}`)
      }
      const http = parsed.protocol === 'http:' || parsed.protocol === 'https:'
      return new RepositoryUrl(
        trimmed.replace(/\/+$/, ''),
        http ? `${parsed.protocol}//${parsed.host}` : undefined,
        http ? parsed.host.toLowerCase() : undefined,
      )
    }
    if (SCP_LIKE.test(trimmed)) return new RepositoryUrl(trimmed.replace(/\/+$/, ''), undefined, undefined)
    // A local path is stored absolute, so cron runs from any directory find it.
    const path = isAbsolute(trimmed) ? trimmed.replace(/\/+$/, '') : resolve(trimmed)
    return new RepositoryUrl(path, undefined, undefined)
  }

  /** For messages and logs: the URL without any user or password. */
  get display(): string {
    return displayForm(this.value)
  }

  /** A name for the clone folder and `status`: the last path segment without `.git`. */
  get name(): string {
    const last = basename(this.value.replace(/[/\\]+$/, '').replace(/\.git$/, '')) || 'repository'
    return last.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '') || 'repository'
  }

  /** The same repository, give or take a trailing slash or `.git` (how config entries name it). */
  sameAs(other: string): boolean {
    const strip = (u: string) =>
      u
        .trim()
        .replace(/\/+$/, '')
        .replace(/\.git$/, '')
    return strip(this.value) === strip(other)
  }

  toString(): string {
    return this.value
  }
}

function withoutCredentials(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`
}

function displayForm(text: string): string {
  if (!SCHEME.test(text)) return text
  try {
    return withoutCredentials(new URL(text))
  } catch {
    return text.replace(/\/\/[^/@]*@/, '//')
  }
}
