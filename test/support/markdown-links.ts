import {existsSync, readFileSync, statSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'

/** A relative link of a markdown page that does not resolve: its file, line, target and why. */
export interface BrokenLink {
  file: string
  line: number
  target: string
  problem: string
}

/** The anchor GitHub gives a heading (github-slugger): lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link keeps its text
    .replace(/<[^>]+>/g, '') // inline HTML
    .replace(/[`*]/g, '') // code and emphasis markers
    .trim()
    .toLowerCase()
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-')
}

/** The lines of `text` outside fenced code blocks, with their 1-based numbers. */
function proseLines(text: string): Array<{line: number; text: string}> {
  const out: Array<{line: number; text: string}> = []
  let fence: string | undefined
  for (const [index, line] of text.split('\n').entries()) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1]
    if (marker && (!fence || (marker[0] === fence[0] && marker.length >= fence.length))) {
      fence = fence ? undefined : marker
      continue
    }
    if (!fence) out.push({line: index + 1, text: line})
  }
  return out
}

/** Every anchor a page offers: its headings (duplicates get -1, -2 as on GitHub) and explicit `id`/`name`s. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>()
  const found = new Set<string>()
  for (const {text: line} of proseLines(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1]
    if (heading !== undefined) {
      const base = slug(heading)
      const count = seen.get(base) ?? 0
      seen.set(base, count + 1)
      found.add(count === 0 ? base : `${base}-${count}`)
    }
    for (const match of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) found.add(match[1] ?? '')
  }
  return found
}

/** The link targets of one line, code spans blanked first so `[x](y)` shown as code is not a link. */
function lineTargets(line: string): string[] {
  const prose = line.replace(/(`+)([^`]|[^`].*?[^`])\1/g, (span) => span.replace(/[^`]/g, 'x'))
  return [...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] ?? '')
}

/** Every relative link and anchor of `files` that does not resolve (external URLs are not followed). */
export function brokenLinks(files: string[], root: string): BrokenLink[] {
  const anchorCache = new Map<string, Set<string>>()
  const anchorsOf = (path: string): Set<string> => {
    let set = anchorCache.get(path)
    if (!set) anchorCache.set(path, (set = anchors(readFileSync(path, 'utf8'))))
    return set
  }
  const broken: BrokenLink[] = []
  for (const file of files) {
    for (const {line, text} of proseLines(readFileSync(file, 'utf8'))) {
      for (const target of lineTargets(text)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // http:, https:, mailto:
        const [pathPart = '', anchor] = target.split('#', 2)
        const path = pathPart === '' ? file : resolve(dirname(file), decodeURIComponent(pathPart))
        const report = (problem: string) => broken.push({file: relative(root, file), line, target, problem})
        if (!existsSync(path)) {
          report(`no such file: ${relative(root, path)}`)
          continue
        }
        if (anchor === undefined || anchor === '') continue
        if (statSync(path).isDirectory() || !path.endsWith('.md')) {
          report('an anchor into something that is not a markdown page')
          continue
        }
        if (!anchorsOf(path).has(anchor)) report(`no heading with anchor #${anchor} in ${relative(root, path)}`)
      }
    }
  }
  return broken
}

/** The relative markdown pages `file` links to (without anchors), resolved. */
export function linkedPages(file: string): string[] {
  return proseLines(readFileSync(file, 'utf8'))
    .flatMap(({text}) => lineTargets(text))
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target))
    .map((target) => target.split('#', 1)[0] ?? '')
    .filter((path) => path.endsWith('.md'))
    .map((path) => join(dirname(file), decodeURIComponent(path)))
}
