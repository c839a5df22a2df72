import {hostname} from 'node:os'
import {writeFileSync} from 'node:fs'

import {OperationError, TransientError, UserError, errorMessage} from '../errors.js'
import {redact} from '../log/redact.js'
import {type GitAuth, authFor, gitClient} from './git.js'
import {RepositoryUrl} from './repository-url.js'
import {resolveInside} from './layout.js'
import {type SwarmEnv, fetchRepository} from './env.js'
import type {ManagedServiceRow} from './store.js'

/**
 * `images.gitops: commit` (the Renovate flow): a new image tag for a service homeops deploys from git is
 * written where the user keeps it — `services.<name>.image` of the stack's compose file in the watched
 * repository — committed with a plain message and pushed; `swarm reconcile` then deploys it like any
 * other change. The edit happens in the cached clone, which is brought to the remote's tip first and is
 * never left dirty: on any failure it goes back to the remote branch. A push the remote rejects because
 * it moved meanwhile is fetched and re-applied once.
 */
export interface BumpRequest {
  owner: ManagedServiceRow
  /** The image the service runs (its repository must be the one the file names). */
  runningImage: string
  tag: string
  /** The version it moves from, for the commit body. */
  from: string | null
}

export interface BumpResult {
  repository: string
  file: string
  branch: string
  commit: string
  message: string
  /** 2 when the remote moved and the change was re-applied on its new tip. */
  attempts: number
}

export function bumpMessage(owner: Pick<ManagedServiceRow, 'stack' | 'composeService'>, tag: string): string {
  return `chore(images): bump ${owner.stack}/${owner.composeService} image to ${tag}`
}

/** Author and committer when the user configured none: homeops, on this host. */
function identity(): Record<string, string> {
  const email = `homeops@${hostname() || 'localhost'}`
  return {
    GIT_AUTHOR_NAME: process.env.GIT_AUTHOR_NAME ?? 'homeops',
    GIT_AUTHOR_EMAIL: process.env.GIT_AUTHOR_EMAIL ?? email,
    GIT_COMMITTER_NAME: process.env.GIT_COMMITTER_NAME ?? 'homeops',
    GIT_COMMITTER_EMAIL: process.env.GIT_COMMITTER_EMAIL ?? email,
  }
}

/** The remote moved meanwhile (a rejected fast-forward, or a ref that changed under receive-pack). */
const REJECTED = /\[rejected\]|non-fast-forward|fetch first|failed to update ref|cannot lock ref|stale info/i

export async function commitImageBump(env: SwarmEnv, request: BumpRequest): Promise<BumpResult> {
  const {owner} = request
  const {context, store} = env
  const row = store.repositoryByUrl(owner.repositoryUrl)
  if (!row) throw new UserError(`repository ${owner.repositoryUrl} is no longer watched`)
  if (!owner.composeFile)
    throw new UserError(`no compose file is recorded for ${owner.service}`, {
      hint: 'run `homeops swarm reconcile` once so homeops records where each service is written',
    })
  const {editComposeImage} = await import('../images/compose.js')
  const timeoutMs = context.config.swarm.gitTimeoutSeconds * 1000
  const url = RepositoryUrl.parse(row.url)
  const auth: GitAuth | undefined = authFor(url, {
    githubToken: context.config.swarm.githubToken,
    githubTokenHosts: context.config.swarm.githubTokenHosts,
    repositories: context.config.swarm.repositories,
  })
  // Made once the clone exists (the first fetch re-creates a clone that was removed).
  const open = () => gitClient(row.cloneDir, {url, auth, signal: context.signal, timeoutMs, env: identity()})
  let git: Awaited<ReturnType<typeof open>> | undefined
  const message = bumpMessage(owner, request.tag)
  let branch = row.branch ?? row.fetchedBranch ?? 'main'
  try {
    for (let attempt = 1; ; attempt++) {
      // Brings the clone to the remote tip, clean (a commit of an earlier attempt is dropped).
      const fetched = await fetchRepository(env, row)
      branch = fetched.branch
      git ??= await open()
      const file = resolveInside(row.cloneDir, owner.composeFile, `compose file of ${owner.stack}`)
      const edit = await editComposeImage(
        {project: owner.stack, service: owner.composeService, workingDir: row.cloneDir, files: [file]},
        request.runningImage,
        request.tag,
      )
      if (edit.after === edit.before)
        throw new UserError(
          `${owner.composeFile} in ${row.name} already sets services.${owner.composeService}.image to tag ${request.tag}`,
          {hint: 'a new digest of the same tag is deployed by `homeops swarm reconcile --force`'},
        )
      writeFileSync(edit.file, edit.after)
      await git.add([owner.composeFile])
      const body = `${owner.service}: ${request.from ?? '?'} → ${request.tag}\n\nCommitted by homeops (images.gitops: commit); \`homeops swarm reconcile\` deploys it.`
      await git.commit([message, body])
      try {
        await git.raw(['push', 'origin', `HEAD:refs/heads/${branch}`])
      } catch (error) {
        const text = redact(errorMessage(error))
        if (REJECTED.test(text) && attempt === 1) {
          context.logger.warn(`push to ${row.name} rejected (the remote moved): fetching and applying the bump again`)
          continue
        }
        if (REJECTED.test(text))
          throw new OperationError(
            `the push of "${message}" to ${row.name} (${branch}) was rejected twice: the remote keeps moving; nothing was changed`,
          )
        throw new TransientError(`cannot push "${message}" to ${row.name}: ${text.trim().split('\n').at(-1)}`, {
          hint: 'a token with write access for this repository goes in swarm.repositories[].token',
        })
      }
      const commit = (await git.revparse(['HEAD'])).trim()
      // The remote now has it: the tracking ref follows, so the next fetch sees a clean, current clone.
      await git.raw(['update-ref', `refs/remotes/origin/${branch}`, commit])
      return {repository: row.name, file: owner.composeFile, branch, commit, message, attempts: attempt}
    }
  } catch (error) {
    // Never leave the clone dirty or ahead of its remote: the remote branch is the truth.
    await git
      ?.raw(['checkout', '--quiet', '--force', '-B', branch, `refs/remotes/origin/${branch}`])
      .then(() => git?.raw(['clean', '-ffdxq']))
      .catch(() => {})
    throw error
  }
}
