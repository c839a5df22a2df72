import {createHash, randomBytes} from 'node:crypto'
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import {basename, dirname, join, relative} from 'node:path'

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

/**
 * Brings `{nfs}/{path}` up to the repository content. `target` was checked to
 * stay under the NFS root when the layout was read; it is checked again here
 * in case a symlink appeared since.
 */
export function syncBinding(content: BindingContent, nfsRoot: string, target: string, what: string): SyncResult {
  const result: SyncResult = {written: 0, unchanged: 0}
  const ensureDir = (dir: string) => {
    mkdirSync(dir, {recursive: true, mode: 0o755})
    const real = realpathSync(dir)
    if (!isWithin(realpathSync(nfsRoot), real)) {
      throw new LayoutError(`${what}: ${dir} leaves the NFS root ${nfsRoot} (resolves to ${real})`)
    }
    if ((statSync(real).mode & 0o777) !== 0o755) chmodSync(real, 0o755)
    return real
  }
  if (content.kind === 'absent') {
    ensureDir(target)
    return result
  }
  if (content.kind === 'file') {
    const dir = ensureDir(dirname(target))
    writeIfChanged(content.files[0]!.source, join(dir, basename(target)), result)
    return result
  }
  const root = ensureDir(target)
  for (const dir of content.directories) ensureDir(join(root, dir))
  for (const file of content.files) {
    const dir = ensureDir(dirname(join(root, file.path)))
    writeIfChanged(file.source, join(dir, basename(file.path)), result)
  }
  return result
}

function writeIfChanged(source: string, target: string, result: SyncResult): void {
  const data = readFileSync(source)
  try {
    const existing = lstatSync(target)
    if (existing.isFile() && !existing.isSymbolicLink()) {
      if (readFileSync(target).equals(data)) {
        if ((existing.mode & 0o777) !== 0o644) chmodSync(target, 0o644)
        result.unchanged++
        return
      }
    }
  } catch {
    // absent: write it
  }
  const temp = join(dirname(target), `.${basename(target)}.homeops-${randomBytes(4).toString('hex')}`)
  try {
    writeFileSync(temp, data, {mode: 0o644, flag: 'wx'})
    chmodSync(temp, 0o644)
    renameSync(temp, target)
  } catch (error) {
    rmSync(temp, {force: true})
    throw error
  }
  result.written++
}
