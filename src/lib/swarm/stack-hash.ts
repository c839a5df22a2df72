import {createHash, createHmac} from 'node:crypto'

import type {StackRow} from './store.js'

/**
 * A stack's hash (docs/architecture.md "swarm"): the rendered compose, the content digest
 * of every binding it uses, volumes.yaml and nfs.yaml, and an HMAC of its
 * secret values under a key kept in the state database. The secret values
 * themselves are never stored; the HMAC tells only that they changed.
 */
export interface StackHashInput {
  name: string
  compose: string
  bindings: {id: string; path: string; digest: string}[]
  volumesText: string
  nfsText: string
  /** env name → value */
  secrets: Record<string, string>
  /** Non-secret variables the compose interpolates, with the values the docker CLI will see. */
  environment?: Record<string, string>
  /** Files the compose references (env_file, configs/secrets `file:`): repository path → sha256. */
  files?: Record<string, string>
}

export function secretsHmac(key: string, secrets: Record<string, string>): string {
  const hmac = createHmac('sha256', key)
  for (const name of Object.keys(secrets).sort())
    hmac.update(`${name}\0${secrets[name]!.length}\0`).update(secrets[name]!)
  return hmac.digest('hex')
}

/** Digests of each part of the hash: stored with it so a later run can say what changed. */
export interface HashParts {
  compose: string
  bindings: Record<string, string>
  volumes: string
  nfs: string
  secrets: string
  /** Absent when the compose interpolates no variable but secrets (hashes stay as they were). */
  env?: string
  /** Absent when the compose references no file. */
  files?: Record<string, string>
}

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

export function stackHash(input: StackHashInput, hmacKey: string): {hash: string; parts: HashParts} {
  const bindings: Record<string, string> = {}
  for (const b of [...input.bindings].sort((x, y) => x.id.localeCompare(y.id)))
    bindings[b.id] = sha(`${b.path}\0${b.digest}`)
  const parts: HashParts = {
    compose: sha(input.compose),
    bindings,
    volumes: sha(input.volumesText),
    nfs: sha(input.nfsText),
    secrets: secretsHmac(hmacKey, input.secrets),
  }
  if (input.environment && Object.keys(input.environment).length > 0) {
    parts.env = sha(JSON.stringify(Object.entries(input.environment).sort(([a], [b]) => a.localeCompare(b))))
  }
  if (input.files && Object.keys(input.files).length > 0) {
    parts.files = Object.fromEntries(Object.entries(input.files).sort(([a], [b]) => a.localeCompare(b)))
  }
  return {hash: hashOfParts(input.name, parts), parts}
}

/** A stack's hash from its parts: what `stackHash` returns, also for parts kept in the state database. */
export function hashOfParts(name: string, parts: HashParts): string {
  const {compose, bindings, volumes, nfs, secrets, env, files} = parts
  return 'sha256:' + sha(JSON.stringify({v: 1, name, compose, bindings, volumes, nfs, secrets, env, files}))
}

/** What differs between two sets of parts, in words: `compose`, `binding config`, `secrets`. */
export function changedParts(before: HashParts | undefined, after: HashParts): string[] {
  if (!before) return []
  const out: string[] = []
  if (before.compose !== after.compose) out.push('compose')
  const ids = new Set([...Object.keys(before.bindings ?? {}), ...Object.keys(after.bindings)])
  for (const id of [...ids].sort()) if (before.bindings?.[id] !== after.bindings[id]) out.push(`binding ${id}`)
  if (before.volumes !== after.volumes) out.push('volumes.yaml')
  if (before.nfs !== after.nfs) out.push('nfs.yaml')
  if (before.secrets !== after.secrets) out.push('secrets')
  if (before.env !== after.env) out.push('environment')
  const files = new Set([...Object.keys(before.files ?? {}), ...Object.keys(after.files ?? {})])
  for (const file of [...files].sort()) if (before.files?.[file] !== after.files?.[file]) out.push(`file ${file}`)
  return out
}

/** The first 12 hex digits, for tables. */
export function shortHash(hash: string | null | undefined): string {
  if (!hash) return '-'
  return hash.replace(/^sha256:/, '').slice(0, 12)
}

/** The hash parts recorded with a deploy (undefined for a row an older homeops wrote, or unreadable). */
export function recordedParts(row: StackRow): HashParts | undefined {
  if (!row.hashParts) return undefined
  try {
    return JSON.parse(row.hashParts) as HashParts
  } catch {
    return undefined
  }
}
