import {nodeRequest} from '../http/node-request.js'

/**
 * The tip of one branch of an http(s) git remote, read from a single
 * smart-HTTP ref advertisement (`GET <url>/info/refs?service=git-upload-pack`,
 * protocol v0: pkt-lines, one `<sha> <ref>` per line), without starting git.
 * `syncClone` uses it only to skip a `git fetch` that would bring nothing.
 *
 * It answers `undefined` for anything but a clean advertisement (a redirect, an
 * auth challenge, a dumb-HTTP server, protocol v2, a malformed or oversized
 * answer, a timeout, a network error, a proxy in the environment that git
 * would go through), and the caller then fetches as usual, so every error
 * message and retry stays git's. The `authorization` header is the one
 * `gitEnv` scopes to this URL's origin; redirects are never followed, so it
 * cannot reach another host.
 */
export interface RemoteHeadOptions {
  url: string
  branch: string
  /** `Basic …` for this repository's own host, or undefined. */
  authorization?: string
  timeoutMs?: number
  signal?: AbortSignal
  env?: NodeJS.ProcessEnv
}

const ADVERTISEMENT = 'application/x-git-upload-pack-advertisement'
const PROXY_VARIABLES = ['http_proxy', 'https_proxy', 'all_proxy']
const MAX_BYTES = 8 * 1024 * 1024

export interface Advertisement {
  /** ref name → commit */
  refs: Map<string, string>
  /** The branch the remote's HEAD points at (`symref=HEAD:refs/heads/main`), when advertised. */
  defaultBranch?: string
}

export async function remoteBranchHead(options: RemoteHeadOptions): Promise<string | undefined> {
  return (await remoteAdvertisement(options))?.refs.get(`refs/heads/${options.branch}`)
}

/** Every ref and the default branch of an http(s) remote from one request; undefined as described above. */
export async function remoteAdvertisement(
  options: Omit<RemoteHeadOptions, 'branch'>,
): Promise<Advertisement | undefined> {
  if (!/^https?:\/\//i.test(options.url)) return undefined
  const env = options.env ?? process.env
  if (Object.keys(env).some((k) => PROXY_VARIABLES.includes(k.toLowerCase()) && env[k])) return undefined
  let answer
  try {
    answer = await nodeRequest({
      url: `${options.url.replace(/\/+$/, '')}/info/refs?service=git-upload-pack`,
      headers: {
        'user-agent': 'git/homeops',
        accept: `${ADVERTISEMENT}, */*;q=0.1`,
        'cache-control': 'no-cache',
        pragma: 'no-cache',
        ...(options.authorization ? {authorization: options.authorization} : {}),
      },
      timeoutMs: options.timeoutMs ?? 15_000,
      maxBytes: MAX_BYTES,
      signal: options.signal,
    })
  } catch {
    return undefined
  }
  if (answer.status !== 200) return undefined
  if (answer.headers['content-type']?.split(';')[0]?.trim().toLowerCase() !== ADVERTISEMENT) return undefined
  return parseAdvertisement(answer.body)
}

export function advertisedRefs(body: Buffer): Map<string, string> | undefined {
  return parseAdvertisement(body)?.refs
}

/**
 * Parses a v0 upload-pack advertisement: `# service=git-upload-pack`, a flush,
 * then `<sha> <ref>` lines (the first one carries `\0capabilities`) up to a
 * flush. Undefined for anything else, v2 capability lists included.
 */
export function parseAdvertisement(body: Buffer): Advertisement | undefined {
  const lines: (string | null)[] = []
  let offset = 0
  while (offset < body.length) {
    const lengthText = body.toString('latin1', offset, offset + 4)
    if (!/^[0-9a-f]{4}$/i.test(lengthText)) return undefined
    const length = Number.parseInt(lengthText, 16)
    if (length === 0) {
      lines.push(null)
      offset += 4
      continue
    }
    if (length < 4 || offset + length > body.length) return undefined
    lines.push(body.toString('utf8', offset + 4, offset + length).replace(/\n$/, ''))
    offset += length
  }
  if (lines[0] !== '# service=git-upload-pack' || lines[1] !== null) return undefined
  const refLines = lines.slice(2)
  if (refLines.length === 0 || refLines.at(-1) !== null) return undefined
  const refs = new Map<string, string>()
  let defaultBranch: string | undefined
  for (const line of refLines.slice(0, -1)) {
    if (line === null) return undefined
    const match = /^([0-9a-f]{40}|[0-9a-f]{64}) ([^\0 ]+)(?:\0(.*))?$/s.exec(line)
    if (!match) return undefined
    refs.set(match[2]!, match[1]!)
    defaultBranch ??= /(?:^| )symref=HEAD:refs\/heads\/(\S+)/.exec(match[3] ?? '')?.[1]
  }
  return {refs, defaultBranch}
}
