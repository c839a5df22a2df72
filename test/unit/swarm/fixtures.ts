import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

/** A repository layout on disk (no git needed for layout/render/hash tests) plus an NFS root. */
export class Fixture {
  readonly root: string
  readonly repo: string
  readonly nfs: string

  constructor() {
    this.root = mkdtempSync(join(tmpdir(), 'hotest-swarm-unit-'))
    this.repo = join(this.root, 'repo')
    this.nfs = join(this.root, 'nfs')
    mkdirSync(this.repo, {recursive: true})
    mkdirSync(join(this.nfs, 'secret'), {recursive: true})
  }

  write(path: string, text: string, base = this.repo): this {
    const full = join(base, path)
    mkdirSync(dirname(full), {recursive: true})
    writeFileSync(full, text)
    return this
  }

  nfsYaml(): this {
    return this.write('nfs.yaml', `path: ${this.nfs}\n`)
  }

  secret(id: string, value: string): this {
    return this.write(join('secret', id), value, this.nfs)
  }

  stack(name: string, compose = `services:\n  app:\n    image: registry.test/app:1.0.0\n`): this {
    return this.write(join(name, 'compose.yaml'), compose)
  }

  cleanup(): void {
    rmSync(this.root, {recursive: true, force: true})
  }
}

export {git} from '../../support/git.js'
