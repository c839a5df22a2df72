import {createHash, randomBytes} from 'node:crypto'
import {
  chmodSync,
  constants,
  copyFileSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  rmdirSync,
  statSync,
} from 'node:fs'
import {basename, dirname, join, relative} from 'node:path'

import {errnoCode, errorMessage} from '../errors.js'
import {LayoutError, isWithin} from './layout.js'

/**
 * Binding contents: what the repository holds at a binding's `path`, hashed
 * for the stack hash and copied to `{nfs.path}/{path}` only where a file
 * differs, each file written beside its target and renamed over it (a
 * service never reads half a file). Files end up 0644, directories 0755.
 * Files on the NFS side that the repository does not have are left alone:
 * services often write next to their configuration.
 */
export interface BindingFile {
  /** Relative to the binding root ('' when the binding is a single file). */
  path: string
  source: string
}

export interface BindingContent {
  kind: 'file' | 'directory' | 'absent'
  files: BindingFile[]
  directories: string[]
}

/** Lists a binding's content in the repository; symlinks must resolve inside the repository. */
export function readBinding(repoRoot: string, relativePath: string, what: string): BindingContent {
  const realRoot = realpathSync(repoRoot)
  const start = join(realRoot, relativePath)
  let stat
  try {
    stat = lstatSync(start)
  } catch {
    return {kind: 'absent', files: [], directories: []}
  }
  const resolve = (path: string): string => {
    const real = realpathSync(path)
    if (!isWithin(realRoot, real)) {
      throw new LayoutError(`${what}: ${relative(realRoot, path)} is a symlink that leaves the repository (to ${real})`)
    }
    return real
  }
  if (stat.isSymbolicLink()) stat = statSync(resolve(start))
  if (stat.isFile()) return {kind: 'file', files: [{path: '', source: resolve(start)}], directories: []}
  const files: BindingFile[] = []
  const directories: string[] = []
  const walk = (dir: string, rel: string, depth: number) => {
    if (depth > 32) throw new LayoutError(`${what}: directories nested too deep (a symlink loop?)`)
    for (const name of readdirSync(dir).sort()) {
      if (name === '.git') continue
      const full = join(dir, name)
      const childRel = rel ? `${rel}/${name}` : name
      const real = resolve(full)
      const s = statSync(real)
      if (s.isDirectory()) {
        directories.push(childRel)
        walk(real, childRel, depth + 1)
      } else if (s.isFile()) {
        files.push({path: childRel, source: real})
      }
    }
  }
  walk(resolve(start), '', 0)
  return {kind: 'directory', files, directories}
}

/** sha256 over the relative paths and contents, in a stable order. */
export function digestBinding(content: BindingContent): string {
  const hash = createHash('sha256').update(content.kind)
  for (const dir of content.directories) hash.update(`d\0${dir}\0`)
  for (const file of content.files) {
    const data = readFileSync(file.source)
    hash.update(`f\0${file.path}\0${data.length}\0`).update(data)
  }
  return hash.digest('hex')
}

export interface SyncResult {
  written: number
  unchanged: number
}

/** One file to bring up to date: where it goes and where its content comes from. */
interface Change {
  source: string
  target: string
  temp?: string
}

/**
 * Brings `{nfs}/{path}` up to the repository content as a whole or not at all: every changed file
 * is first written beside its target (`.name.homeops-…`, where a full disk or any write error
 * strikes); only when all of them are written are they renamed over their targets, one rename each
 * (no space needed, no reader sees half a file). A failure while staging removes what was staged
 * and leaves the binding exactly as it was; the error names the binding and the path.
 * `target` was checked to stay under the NFS root when the layout was read; it is checked again
 * here in case a symlink appeared since.
 */
export function syncBinding(content: BindingContent, nfsRoot: string, target: string, what: string): SyncResult {
  const result: SyncResult = {written: 0, unchanged: 0}
  const realNfs = realpathSync(nfsRoot)
  const created: string[] = []
  const staged: Change[] = []
  const ensureDir = (dir: string): string => {
    const kind = kindOf(dir)
    if (kind === 'file') throw conflict(what, dir, 'a file', 'a folder')
    if (kind === 'absent') {
      ensureDir(dirname(dir))
      mkdirSync(dir, {mode: 0o755})
      created.push(dir)
    }
    const real = realpathSync(dir)
    if (!isWithin(realNfs, real)) {
      throw new LayoutError(`${what}: ${dir} leaves the NFS root ${nfsRoot} (resolves to ${real})`)
    }
    if ((statSync(real).mode & 0o777) !== 0o755) chmodSync(real, 0o755)
    return real
  }
  try {
    if (content.kind === 'absent') {
      ensureDir(target)
      return result
    }
    const files =
      content.kind === 'file'
        ? [{source: content.files[0]!.source, target}]
        : content.files.map((f) => ({source: f.source, target: join(target, f.path)}))
    if (content.kind === 'directory') {
      ensureDir(target)
      for (const dir of content.directories) ensureDir(join(target, dir))
    }
    // Plan: what differs (and whether anything stands in the way), before writing anything.
    const changes: Change[] = []
    for (const file of files) {
      const dir = ensureDir(dirname(file.target))
      const finalPath = join(dir, basename(file.target))
      const kind = kindOf(finalPath)
      if (kind === 'directory') throw conflict(what, finalPath, 'a folder', 'a file')
      if (kind === 'file' && sameContent(file.source, finalPath)) {
        if ((statSync(finalPath).mode & 0o777) !== 0o644) chmodSync(finalPath, 0o644)
        result.unchanged++
        continue
      }
      changes.push({source: file.source, target: finalPath})
    }
    // Stage every changed file beside its target.
    for (const change of changes) {
      change.temp = join(
        dirname(change.target),
        `.${basename(change.target)}.homeops-${randomBytes(4).toString('hex')}`,
      )
      staged.push(change)
      try {
        // Copied by the kernel, one file at a time: a 100 MB binding never sits in memory.
        copyFileSync(change.source, change.temp, constants.COPYFILE_EXCL)
        chmodSync(change.temp, 0o644)
      } catch (error) {
        throw new LayoutError(
          `${what}: cannot write ${change.target}: ${writeError(error)}; the binding was left as it was`,
        )
      }
    }
    // Switch: renames only.
    for (const change of changes) {
      renameSync(change.temp!, change.target)
      change.temp = undefined
      result.written++
    }
    return result
  } catch (error) {
    for (const change of staged) if (change.temp) rmSync(change.temp, {force: true})
    for (const dir of created.reverse()) {
      try {
        rmdirSync(dir)
      } catch {
        // not empty any more: someone else writes there
      }
    }
    if (error instanceof LayoutError) throw error
    throw new LayoutError(`${what}: cannot update ${target}: ${writeError(error)}`)
  }
}

/** Same bytes: sizes first, then the contents (one pair of files in memory at a time). */
function sameContent(a: string, b: string): boolean {
  if (statSync(a).size !== statSync(b).size) return false
  return readFileSync(a).equals(readFileSync(b))
}

function kindOf(path: string): 'file' | 'directory' | 'absent' | 'other' {
  try {
    const stat = statSync(path)
    return stat.isDirectory() ? 'directory' : stat.isFile() ? 'file' : 'other'
  } catch {
    return 'absent'
  }
}

function conflict(what: string, path: string, is: string, wants: string): LayoutError {
  return new LayoutError(
    `${what}: ${path} is ${is} on the NFS share, but the repository now has ${wants} there; move or remove it on the share, then reconcile (homeops never deletes what it did not write)`,
  )
}

function writeError(error: unknown): string {
  const code = errnoCode(error)
  if (code === 'ENOSPC') return 'no space left on the share (ENOSPC)'
  if (code === 'EDQUOT') return 'disk quota exceeded on the share (EDQUOT)'
  return errorMessage(error)
}
