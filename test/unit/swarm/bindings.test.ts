import {chmodSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {digestBinding, readBinding, syncBinding} from '../../../src/lib/swarm/bindings.js'
import {Fixture} from './fixtures.js'

let fx: Fixture
afterEach(() => fx?.cleanup())

const mode = (path: string) => statSync(path).mode & 0o777

describe('bindings', () => {
  it('copies a directory to NFS with 0644 files and 0755 directories', () => {
    fx = new Fixture().write('conf/a.txt', 'A').write('conf/sub/b.txt', 'B')
    chmodSync(join(fx.repo, 'conf/a.txt'), 0o600)
    const content = readBinding(fx.repo, 'conf', 'binding')
    const target = join(fx.nfs, 'conf')
    expect(syncBinding(content, fx.nfs, target, 'binding')).toEqual({written: 2, unchanged: 0})
    expect(readFileSync(join(target, 'a.txt'), 'utf8')).toBe('A')
    expect(readFileSync(join(target, 'sub/b.txt'), 'utf8')).toBe('B')
    expect(mode(join(target, 'a.txt'))).toBe(0o644)
    expect(mode(join(target, 'sub'))).toBe(0o755)
    expect(mode(target)).toBe(0o755)
  })

  it('writes only the files that changed, and leaves no temporary file behind', () => {
    fx = new Fixture().write('conf/a.txt', 'A').write('conf/b.txt', 'B')
    const target = join(fx.nfs, 'conf')
    syncBinding(readBinding(fx.repo, 'conf', 'b'), fx.nfs, target, 'b')
    const inodeA = statSync(join(target, 'a.txt')).ino
    fx.write('conf/b.txt', 'B2')
    expect(syncBinding(readBinding(fx.repo, 'conf', 'b'), fx.nfs, target, 'b')).toEqual({written: 1, unchanged: 1})
    expect(statSync(join(target, 'a.txt')).ino).toBe(inodeA)
    expect(readFileSync(join(target, 'b.txt'), 'utf8')).toBe('B2')
    expect(readdirSync(target).sort()).toEqual(['a.txt', 'b.txt'])
  })

  it('replaces a changed file atomically (a new inode, never a half-written file)', () => {
    fx = new Fixture().write('conf/a.txt', 'A')
    const target = join(fx.nfs, 'conf')
    syncBinding(readBinding(fx.repo, 'conf', 'b'), fx.nfs, target, 'b')
    const before = statSync(join(target, 'a.txt')).ino
    fx.write('conf/a.txt', 'A2')
    syncBinding(readBinding(fx.repo, 'conf', 'b'), fx.nfs, target, 'b')
    expect(statSync(join(target, 'a.txt')).ino).not.toBe(before)
  })

  it('keeps files on NFS that the repository does not have (service data)', () => {
    fx = new Fixture().write('conf/a.txt', 'A')
    const target = join(fx.nfs, 'conf')
    mkdirSync(target, {recursive: true})
    writeFileSync(join(target, 'state.db'), 'data')
    syncBinding(readBinding(fx.repo, 'conf', 'b'), fx.nfs, target, 'b')
    expect(readFileSync(join(target, 'state.db'), 'utf8')).toBe('data')
  })

  it('copies a single-file binding', () => {
    fx = new Fixture().write('app.conf', 'x=1')
    const target = join(fx.nfs, 'app.conf')
    syncBinding(readBinding(fx.repo, 'app.conf', 'b'), fx.nfs, target, 'b')
    expect(readFileSync(target, 'utf8')).toBe('x=1')
  })

  it('creates the folder of a binding the repository has no content for', () => {
    fx = new Fixture()
    const content = readBinding(fx.repo, 'data/db', 'b')
    expect(content.kind).toBe('absent')
    syncBinding(content, fx.nfs, join(fx.nfs, 'data/db'), 'b')
    expect(statSync(join(fx.nfs, 'data/db')).isDirectory()).toBe(true)
  })

  it('refuses a symlink inside the binding that points out of the repository', () => {
    fx = new Fixture().write('conf/a.txt', 'A')
    symlinkSync('/etc/passwd', join(fx.repo, 'conf/passwd'))
    expect(() => readBinding(fx.repo, 'conf', 'volumes.yaml entry "conf"')).toThrow(
      /volumes\.yaml entry "conf": conf\/passwd is a symlink that leaves the repository \(to \/etc\/passwd\)/,
    )
  })

  it('refuses to write through a symlink on the NFS side that leaves the NFS root', () => {
    fx = new Fixture().write('conf/sub/a.txt', 'A')
    mkdirSync(join(fx.nfs, 'conf'), {recursive: true})
    symlinkSync(fx.root, join(fx.nfs, 'conf', 'sub'))
    expect(() =>
      syncBinding(readBinding(fx.repo, 'conf', 'b'), fx.nfs, join(fx.nfs, 'conf'), 'binding "conf"'),
    ).toThrow(/binding "conf": .* leaves the NFS root/)
    expect(() => statSync(join(fx.root, 'a.txt'))).toThrow()
  })

  it('digests content: same content same digest, any change a new one', () => {
    fx = new Fixture().write('conf/a.txt', 'A')
    const one = digestBinding(readBinding(fx.repo, 'conf', 'b'))
    expect(digestBinding(readBinding(fx.repo, 'conf', 'b'))).toBe(one)
    fx.write('conf/b.txt', '')
    expect(digestBinding(readBinding(fx.repo, 'conf', 'b'))).not.toBe(one)
  })
})

describe('a binding whose kind changed', () => {
  it('says so clearly when a folder on the share stands where the repository now has a file', () => {
    fx = new Fixture().write('conf', 'now a file')
    mkdirSync(join(fx.nfs, 'conf'), {recursive: true})
    writeFileSync(join(fx.nfs, 'conf', 'old.txt'), 'kept')
    expect(() =>
      syncBinding(readBinding(fx.repo, 'conf', 'b'), fx.nfs, join(fx.nfs, 'conf'), 'binding "conf"'),
    ).toThrow(
      /binding "conf": .*conf is a folder on the NFS share, but the repository now has a file there; move or remove it/,
    )
    expect(readFileSync(join(fx.nfs, 'conf', 'old.txt'), 'utf8')).toBe('kept')
  })

  it('and when a file stands where the repository now has a folder, writing nothing', () => {
    fx = new Fixture().write('conf/a.txt', 'A').write('conf/z.txt', 'Z')
    writeFileSync(join(fx.nfs, 'conf'), 'was a file')
    expect(() =>
      syncBinding(readBinding(fx.repo, 'conf', 'b'), fx.nfs, join(fx.nfs, 'conf'), 'binding "conf"'),
    ).toThrow(/binding "conf": .*conf is a file on the NFS share, but the repository now has a folder there/)
    expect(readFileSync(join(fx.nfs, 'conf'), 'utf8')).toBe('was a file')
  })
})
