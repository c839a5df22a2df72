import {createHash} from 'node:crypto'
import {statSync} from 'node:fs'
import {join, relative} from 'node:path'

import {registerSecrets} from '../log/redact.js'
import {FileReadError, readBoundedText} from '../fs/read-file.js'
import {digestBinding, readBinding} from './bindings.js'
import {MAX_ENV_ENTRY_BYTES, MAX_ENV_TOTAL_BYTES} from './docker.js'
import {references, undefinedReferences} from './interpolation.js'
import {LayoutError, type RepositoryLayout, type StackLayout, resolveInside} from './layout.js'
import {type RenderedStack, nfsPath, renderStack} from './render.js'
import {type HashParts, hashOfParts, recordedParts, secretsHmac, stackHash} from './stack-hash.js'
import type {StackRow} from './store.js'

/** A stack rendered from the clone: what its hash covers and what a deploy needs. */
export interface Prepared {
  layout: StackLayout
  rendered: RenderedStack
  hash: string
  parts: HashParts
  secrets: Record<string, string>
  bindings: {volumeId: string; target: string; content: ReturnType<typeof readBinding>}[]
}

/**
 * What a stack's compose and binding parts are a function of: the commit (the clone is pristine at
 * it, so every file of the repository is that commit's), where the clone and the NFS root are (the
 * rendered compose holds their paths), and the homeops version (the rendering may change with it).
 * Secret values are not in it: they are read on every run.
 */
export function renderKey(
  version: string,
  commit: string,
  layout: RepositoryLayout,
  environment: Record<string, string> = {},
): string {
  const env = Object.entries(environment).sort(([a], [b]) => a.localeCompare(b))
  return createHash('sha256')
    .update(
      JSON.stringify({
        version,
        commit,
        root: layout.root,
        nfs: layout.nfs?.path ?? null,
        env,
        legacy: layout.legacyVolumes ?? [],
      }),
    )
    .digest('hex')
}

/**
 * The hash of a deployed stack whose parts were computed under this render key, recomputed from
 * those parts and the current secret values without parsing or rendering anything; undefined
 * unless it equals the recorded hash (a secret changed, the key moved, anything unreadable): the
 * stack is then prepared in full, which also reports any problem.
 */
export function reusedHash(
  row: StackRow,
  key: string | undefined,
  layout: RepositoryLayout,
  stack: StackLayout,
  hmacKey: string,
): string | undefined {
  if (row.status !== 'deployed' || !row.hash || !key || row.renderKey !== key || stack.error) return undefined
  const parts = recordedParts(row)
  if (!parts) return undefined
  let secrets: Record<string, string>
  try {
    secrets = readSecrets(layout, stack)
  } catch {
    return undefined
  }
  const hash = hashOfParts(stack.name, {...parts, secrets: secretsHmac(hmacKey, secrets)})
  return hash === row.hash ? hash : undefined
}

/**
 * Everything a stack's hash covers, read from the clone and the NFS root; no side effects.
 * `environment` is what the docker CLI child gets besides the secrets (see `deployEnvironment`).
 */
export function prepareStack(
  layout: RepositoryLayout,
  stack: StackLayout,
  hmacKey: string,
  environment: Record<string, string> = {},
): Prepared {
  if (stack.error) throw new LayoutError(stack.error)
  const rendered = renderStack(layout, stack)
  const bindings: Prepared['bindings'] = []
  const digests: {id: string; path: string; digest: string}[] = []
  for (const volume of rendered.volumes) {
    if (volume.type !== 'binding') continue
    const content = readBinding(layout.root, volume.path!, `volumes.yaml entry "${volume.id}"`)
    digests.push({id: volume.id, path: volume.path!, digest: digestBinding(content)})
    bindings.push({volumeId: volume.id, target: nfsPath(layout, volume), content})
  }
  const secrets = readSecrets(layout, stack)
  const interpolated = checkInterpolation(layout, stack, rendered.compose, secrets, environment)
  const {hash, parts} = stackHash(
    {
      name: stack.name,
      compose: rendered.compose,
      bindings: digests,
      volumesText: layout.volumesText,
      nfsText: layout.nfsText,
      secrets,
      environment: interpolated,
      files: rendered.files,
    },
    hmacKey,
  )
  return {layout: stack, rendered, hash, parts, secrets, bindings}
}

/**
 * Every variable the compose interpolates must be a declared secret of the stack or part of the
 * CLI's minimal environment (or have a fallback): returns the non-secret ones with their values
 * (they go into the hash, so every process that deploys renders the same).
 */
function checkInterpolation(
  layout: RepositoryLayout,
  stack: StackLayout,
  compose: string,
  secrets: Record<string, string>,
  environment: Record<string, string>,
): Record<string, string> {
  const display = relative(layout.root, stack.composeFile!)
  const missing = undefinedReferences(compose, new Set([...Object.keys(secrets), ...Object.keys(environment)]))
  if (missing.length > 0) {
    const declared = Object.keys(secrets)
    throw new LayoutError(
      `${display}: ${missing.map((n) => `\${${n}}`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} not defined: a compose file interpolates only its stack's secrets (${declared.length > 0 ? declared.join(', ') : 'none declared'} in ${stack.name}/secrets.yaml), never homeops's own environment; declare it in secrets.yaml, give it a default (\${NAME:-value}) or write $$ for a literal $`,
    )
  }
  const used: Record<string, string> = {}
  for (const ref of references(compose)) {
    if (!(ref.name in secrets) && environment[ref.name] !== undefined) used[ref.name] = environment[ref.name]!
  }
  let total = 0
  for (const [k, v] of Object.entries({...environment, ...secrets})) total += Buffer.byteLength(`${k}=${v}`) + 1
  if (total > MAX_ENV_TOTAL_BYTES) {
    throw new LayoutError(
      `${stack.name}/secrets.yaml: the secrets take ${total} bytes of environment, more than the ${MAX_ENV_TOTAL_BYTES} bytes docker stack deploy can be given (E2BIG)`,
    )
  }
  return used
}

/** A stack's secret values (env name → value) from `{nfs.path}/secret/{id}`, registered for redaction. */
function readSecrets(layout: RepositoryLayout, stack: StackLayout): Record<string, string> {
  const secrets: Record<string, string> = {}
  for (const secret of stack.secrets) {
    const file = resolveInside(
      layout.nfs!.path,
      join('secret', secret.id),
      `${stack.name}/secrets.yaml entry "${secret.id}"`,
    )
    let value: string
    let size: number
    try {
      value = readBoundedText(file, {maxBytes: MAX_ENV_ENTRY_BYTES}).replace(/\r?\n$/, '')
      size = Buffer.byteLength(value)
    } catch (error) {
      // Too large for the environment: refused below with the size, never read whole.
      if (error instanceof FileReadError && error.code === 'EFBIG') {
        value = ''
        size = statSync(file).size
      } else {
        const why =
          error instanceof FileReadError && error.code !== 'ENOENT' && error.code !== 'EACCES'
            ? error.reason
            : 'is missing or unreadable'
        throw new LayoutError(
          `${stack.name}/secrets.yaml entry "${secret.id}" (env ${secret.env}): secret file ${file} ${why}`,
          {hint: 'write the value to that file (mode 0600) on the NFS share'},
        )
      }
    }
    const where = `${stack.name}/secrets.yaml entry "${secret.id}" (env ${secret.env})`
    const bytes = Math.max(size, Buffer.byteLength(`${secret.env}=${value}`) + 1)
    if (bytes > MAX_ENV_ENTRY_BYTES) {
      throw new LayoutError(
        `${where}: secret file ${file} holds ${size} bytes, too large for the environment of docker stack deploy (Linux allows at most ${MAX_ENV_ENTRY_BYTES} bytes per variable, E2BIG); mount large values through a binding or a Docker secret file instead`,
      )
    }
    if (value === '') {
      throw new LayoutError(
        `${where}: secret file ${file} is empty; refusing to deploy an empty value (write the value, or remove the entry)`,
      )
    }
    secrets[secret.env] = value
  }
  // One slot per stack: each reconcile replaces its values, so a value rotated on the share is
  // forgotten instead of piling up until the bounded set evicts one still in use.
  registerSecrets(Object.values(secrets), {slot: `swarm stack ${stack.name}`})
  return secrets
}

export function composeFileOf(layout: RepositoryLayout, stack: StackLayout): string | null {
  return stack.composeFile ? relative(layout.root, stack.composeFile) : null
}
