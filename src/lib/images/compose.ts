import {lstatSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {isAbsolute, join} from 'node:path'

import {OperationError, UserError, errorMessage} from '../errors.js'
import type {Docker} from '../docker/client.js'
import type {Logger} from '../log/logger.js'
import {parseImageReference, sameRepository} from '../registry/reference.js'
import {localDigestsFor} from '../registry/update-status.js'
import type {ApplyOutcome, ApplyTarget} from './apply.js'
import {imageName} from './apply.js'
import type {UpdateBy} from './history.js'

/**
 * Updates of containers started by `docker compose` (opt-in, `images.composeUpdates`): the tag is changed
 * in the project's compose file, where the user keeps it, and `docker compose up -d SERVICE` recreates
 * the container, so the file and what runs never drift apart (a plain recreate would be undone by the
 * next `docker compose up`). If the new container does not start or become healthy, the file is put
 * back and the service brought up again on the old tag.
 */
export interface ComposeProject {
  project: string
  service: string
  workingDir: string
  /** Absolute paths, in the order compose merged them. */
  files: string[]
}

const MAX_COMPOSE_FILE = 1024 * 1024

/** The compose project of a container, from the labels compose v1 and v2 set; undefined when it has none. */
export function composeProjectOf(labels: Record<string, string>): ComposeProject | undefined {
  const project = labels['com.docker.compose.project']
  const service = labels['com.docker.compose.service']
  const workingDir = labels['com.docker.compose.project.working_dir']
  const files = labels['com.docker.compose.project.config_files']
  if (!project || !service || !workingDir || !files) return undefined
  return {
    project,
    service,
    workingDir,
    // v2 writes absolute paths, v1 paths relative to the working directory.
    files: files
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean)
      .map((f) => (isAbsolute(f) ? f : join(workingDir, f))),
  }
}

export interface ImageEdit {
  file: string
  before: string
  after: string
}

/**
 * The compose file text with `services.<service>.image` moved to `tag`, changing nothing else (comments,
 * quoting and layout stay). Refuses a value that is not the container's image (a variable such as
 * `${TAG}`, another repository), since homeops cannot know what to write there.
 */
export async function editComposeImage(project: ComposeProject, runningImage: string, tag: string): Promise<ImageEdit> {
  const {parseDocument, isScalar} = await import('yaml')
  let found: {file: string; text: string; node: import('yaml').Scalar} | undefined
  for (const file of project.files) {
    const text = readComposeFile(file)
    const doc = parseDocument(text)
    if (doc.errors.length > 0)
      throw new UserError(`${file} is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`)
    const node = doc.getIn(['services', project.service, 'image'], true)
    // The last file that sets the image wins, as compose merges them.
    if (isScalar(node) && typeof node.value === 'string') found = {file, text, node}
  }
  if (!found)
    throw new UserError(`no compose file of ${project.project} sets services.${project.service}.image`, {
      hint: `looked in ${project.files.join(', ')}`,
    })
  const value = found.node.value as string
  if (value.includes('$'))
    throw new UserError(
      `${found.file}: services.${project.service}.image is "${value}", built from variables: homeops does not edit it`,
      {hint: 'write the tag in the compose file, or turn images.composeUpdates off for a plain recreate'},
    )
  let written
  try {
    written = parseImageReference(value)
  } catch (error) {
    throw new UserError(`${found.file}: services.${project.service}.image "${value}": ${errorMessage(error)}`)
  }
  if (!sameRepository(written, parseImageReference(runningImage)))
    throw new UserError(
      `${found.file}: services.${project.service}.image is "${value}", not the image the container runs (${runningImage})`,
      {hint: 'run `docker compose up -d` first so the file and the container agree'},
    )
  const next = `${imageName(value)}:${tag}`
  const range = found.node.range
  if (!range) throw new OperationError(`${found.file}: cannot locate services.${project.service}.image`)
  const quoted =
    found.node.type === 'QUOTE_DOUBLE' ? JSON.stringify(next) : found.node.type === 'QUOTE_SINGLE' ? `'${next}'` : next
  const after = found.text.slice(0, range[0]) + quoted + found.text.slice(range[1])
  return {file: found.file, before: found.text, after}
}

function readComposeFile(file: string): string {
  let stat
  try {
    stat = lstatSync(file)
  } catch (error) {
    throw new UserError(`cannot read the compose file ${file}: ${errorMessage(error)}`, {
      hint: 'homeops must see the project folder at the same path as docker compose (mount it when homeops runs in a container)',
    })
  }
  // A symlink would be replaced by the atomic write: homeops edits regular files only.
  if (!stat.isFile())
    throw new UserError(`the compose file ${file} is a symlink or not a regular file: homeops does not edit it`)
  if (stat.size > MAX_COMPOSE_FILE) throw new UserError(`the compose file ${file} is larger than 1 MiB`)
  return readFileSync(file, 'utf8')
}

/** Replaces the file in one step (write beside, rename), keeping its mode. */
function writeAtomically(file: string, text: string): void {
  const mode = lstatSync(file).mode & 0o7777
  const temp = `${file}.homeops-${process.pid}.tmp`
  writeFileSync(temp, text, {mode})
  renameSync(temp, file)
}

export interface ComposeDeps {
  docker: Docker
  logger: Logger
  signal?: AbortSignal
  timeoutMs?: number
  /** Running without a healthcheck this long counts as started (default 5 s). */
  stableMs?: number
  /** `DOCKER_HOST` for the compose CLI (the daemon homeops talks to). */
  dockerHost?: string
  /** The compose command; default: `docker compose` when the plugin exists, else `docker-compose`. */
  cli?: string[]
}

/** `docker compose` (v2 plugin) when present, else Debian's `docker-compose`. */
export async function findComposeCli(env: NodeJS.ProcessEnv): Promise<string[]> {
  const {execa} = await import('execa')
  for (const cli of [['docker', 'compose'], ['docker-compose']]) {
    const result = await execa(cli[0]!, [...cli.slice(1), 'version'], {env, reject: false, timeout: 10_000})
    if (result.exitCode === 0) return cli
  }
  throw new UserError('images.composeUpdates is on but neither `docker compose` nor `docker-compose` is installed', {
    hint: 'install the compose plugin (or Debian’s docker-compose), or turn images.composeUpdates off',
  })
}

/** Edits the tag in the compose file, `up -d` the service, and puts both back if it does not start. */
export async function updateComposeService(
  deps: ComposeDeps,
  containerId: string,
  target: ApplyTarget,
  by: UpdateBy,
): Promise<ApplyOutcome> {
  const info = await deps.docker.getContainer(containerId).inspect()
  const project = composeProjectOf(info.Config.Labels ?? {})
  if (!project) throw new UserError(`${info.Name.replace(/^\//, '')} was not started by docker compose`)
  const running = info.Config.Image
  const ref = parseImageReference(running)
  const previousImage = await deps.docker
    .getImage(info.Image)
    .inspect()
    .catch(() => undefined)
  const outcome: ApplyOutcome = {
    workload: info.Name.replace(/^\//, ''),
    kind: 'container',
    image: imageName(running),
    previousVersion: ref.tag ?? 'latest',
    newVersion: target.tag,
    previousDigest: localDigestsFor(ref, previousImage?.RepoDigests ?? [])[0] ?? null,
    newDigest: null,
    result: 'applied',
    error: null,
    by,
  }
  const edit = await editComposeImage(project, running, target.tag)
  const env: NodeJS.ProcessEnv = {...process.env, ...(deps.dockerHost ? {DOCKER_HOST: deps.dockerHost} : {})}
  const cli = deps.cli ?? (await findComposeCli(env))
  const log = deps.logger.child({project: project.project, service: project.service})
  writeAtomically(edit.file, edit.after)
  log.info('compose file updated', {file: edit.file, tag: target.tag})
  try {
    await compose(cli, project, ['pull', project.service], env, deps)
    await compose(cli, project, ['up', '-d', '--no-deps', project.service], env, deps)
    const created = await serviceContainer(deps.docker, project)
    const {waitReady} = await import('../docker/recreate.js')
    await waitReady(deps.docker.getContainer(created), {
      timeoutMs: deps.timeoutMs ?? 120_000,
      stableMs: deps.stableMs ?? 5_000,
      signal: deps.signal,
      log,
    })
    const newInfo = await deps.docker.getContainer(created).inspect()
    const newImage = await deps.docker
      .getImage(newInfo.Image)
      .inspect()
      .catch(() => undefined)
    outcome.newDigest =
      localDigestsFor(parseImageReference(newInfo.Config.Image), newImage?.RepoDigests ?? [])[0] ?? null
    return outcome
  } catch (error) {
    const reason = errorMessage(error)
    log.warn('compose update failed, putting the old tag back', {error: reason})
    writeAtomically(edit.file, edit.before)
    try {
      await compose(cli, project, ['up', '-d', '--no-deps', project.service], env, deps)
    } catch (rollbackError) {
      return {
        ...outcome,
        result: 'failed',
        error: `${reason}; putting ${outcome.previousVersion} back failed too: ${errorMessage(rollbackError)}`,
      }
    }
    return {...outcome, result: 'rolled_back', error: `${reason}; rolled back to ${outcome.previousVersion}`}
  }
}

async function compose(
  cli: string[],
  project: ComposeProject,
  args: string[],
  env: NodeJS.ProcessEnv,
  deps: ComposeDeps,
) {
  const {execa} = await import('execa')
  const files = project.files.flatMap((f) => ['-f', f])
  const result = await execa(cli[0]!, [...cli.slice(1), '-p', project.project, ...files, ...args], {
    cwd: project.workingDir,
    env,
    reject: false,
    timeout: deps.timeoutMs ?? 120_000,
    maxBuffer: 1024 * 1024,
    cancelSignal: deps.signal,
  })
  if (result.exitCode !== 0) {
    const detail = String(result.stderr ?? '')
      .trim()
      .split('\n')
      .slice(-3)
      .join(' ')
      .slice(0, 400)
    throw new OperationError(
      `\`${cli.join(' ')} ${args.join(' ')}\` failed${result.timedOut ? ' (timed out)' : ''}: ${detail}`,
    )
  }
}

/** The service's container after `up -d` (compose may have replaced it: look it up by its labels). */
async function serviceContainer(docker: Docker, project: ComposeProject): Promise<string> {
  const containers = await docker.listContainers({
    all: true,
    filters: {
      label: [`com.docker.compose.project=${project.project}`, `com.docker.compose.service=${project.service}`],
    },
  })
  const newest = containers.sort((a, b) => b.Created - a.Created)[0]
  if (!newest) throw new OperationError(`docker compose left no container for ${project.project}/${project.service}`)
  return newest.Id
}
