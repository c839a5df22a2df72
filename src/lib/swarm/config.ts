import {array, bool, list, num, obj, oneOf, str} from '../config/schema.js'

/** A per-repository setting: the token sent to that repository's host only. */
export const swarmRepositorySchema = obj({
  url: str({nonEmpty: true, description: 'the repository URL exactly as given to `swarm watch`'}),
  username: str({description: 'user name sent with the token (default x-access-token, what GitHub expects)'}),
  token: str({secret: true, description: 'token or password for this repository only'}),
})

export const swarmSchema = obj({
  enabled: bool({default: false, description: 'reconcile on an interval in `homeops serve`'}),
  pullPolicy: oneOf(['always', 'ifnotpresent'], {default: 'ifnotpresent', env: ['DOCKEROPS_IMAGE_PULL_POLICY']}),
  githubToken: str({secret: true, env: ['GITHUB_TOKEN']}),
  githubTokenHosts: list(str({nonEmpty: true}), {
    default: ['github.com'],
    description: 'hosts (host or host:port) that receive githubToken; no other host ever does',
  }),
  repositories: array(swarmRepositorySchema, {description: 'per-repository tokens'}),
  reconcileIntervalSeconds: num({default: 300, min: 30, max: 7 * 86400, unit: 'seconds'}),
  convergeTimeoutSeconds: num({
    default: 300,
    min: 5,
    max: 86400,
    unit: 'seconds',
    description: 'how long a deploy may take to reach its desired running tasks before it counts as failed',
  }),
  stableSeconds: num({
    default: 5,
    min: 0,
    max: 3600,
    unit: 'seconds',
    description:
      "how long a deploy's new tasks must stay up before it counts as converged, so a task that crashes within this is not taken for a running one (5: what the docker CLI of Docker 23+ checks)",
  }),
  deployConcurrency: num({
    default: 8,
    min: 1,
    max: 32,
    integer: true,
    description:
      'how many stacks one reconcile hands to Docker at once (their convergence waits run side by side, outside this limit; 1 deploys one after the other)',
  }),
  pruneProtection: bool({
    default: true,
    description:
      'refuse a repository that suddenly lists no stacks, or would remove more than pruneMaxShare of its stacks (override once with `swarm reconcile --allow-prune-all`)',
  }),
  pruneMaxShare: num({
    default: 0.5,
    min: 0,
    max: 1,
    description: "the largest share (0..1) of a repository's deployed stacks one reconcile may remove",
  }),
  gitTimeoutSeconds: num({
    default: 120,
    min: 5,
    max: 3600,
    description:
      'longest a git command may stay silent, and a transfer may stall, before the repository counts as unreachable for this run (exit 3)',
  }),
  driftPolicy: oneOf(['heal', 'report'], {
    default: 'heal',
    description:
      "a managed service changed behind git's back (image, env, labels, mounts, replicas, networks, ports): heal redeploys it from git at the next reconcile (Argo CD's self-heal), report only says so",
  }),
  cacheDir: str({description: 'where repository clones are cached; defaults beside the state database'}),
  dockerCli: str({default: 'docker', description: 'the docker CLI used for `stack deploy` / `stack rm`'}),
})
