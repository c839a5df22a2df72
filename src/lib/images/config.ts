import {LOG_LEVELS} from '../log/logger.js'
import {array, bool, httpUrl, listen, num, obj, oneOf, str} from '../config/schema.js'
import {notifierSchema} from '../notify/config.js'

export const IMAGE_MODES = ['AUTO_UPDATE', 'NOTIFICATION', 'DISABLED'] as const
export const IMAGE_STRATEGIES = ['ALL', 'MAJOR', 'MINOR', 'PATCH'] as const

export const imagesSchema = obj({
  enabled: bool({default: false, description: 'run the images scheduler in `homeops serve`'}),
  mode: oneOf(IMAGE_MODES, {env: ['IMAGE_WATCHER_MODE'], description: 'overrides every workload label when set'}),
  strategy: oneOf(IMAGE_STRATEGIES, {
    env: ['IMAGE_WATCHER_STRATEGY'],
    description: 'overrides every workload label when set',
  }),
  runOnBoot: bool({default: false, env: ['RUN_ON_BOOT']}),
  intervalSeconds: num({default: 3600, min: 60, max: 30 * 86400, unit: 'seconds'}),
  schedule: str({description: 'cron expression; wins over intervalSeconds'}),
  publicUrl: httpUrl({
    description: 'base URL of `images serve` used in one-time apply links',
  }),
  linkTtlHours: num({default: 168, min: 1, max: 8760, unit: 'hours'}),
  githubToken: str({secret: true, env: ['GITHUB_TOKEN']}),
  openai: obj({
    url: httpUrl({env: ['OPEN_AI_URL']}),
    key: str({secret: true, env: ['OPEN_AI_KEY']}),
    model: str({env: ['OPEN_AI_MODEL']}),
  }),
  logLevel: oneOf(LOG_LEVELS, {env: ['LOG_LEVEL']}),
  notifiers: array(notifierSchema),
  batchNotifications: bool({
    default: true,
    description: 'one message per run and notifier with every update (false: one message per workload)',
  }),
  watchByDefault: bool({
    default: true,
    description: 'watch every container and service; false: only those with a homeops.images.mode label',
  }),
  scope: str({
    description:
      'only workloads labelled homeops.images.scope=<scope> (several homeops instances on one Docker or Swarm)',
  }),
  listen: listen({default: '127.0.0.1:8082', description: 'address of `homeops images serve`'}),
  githubApiUrl: httpUrl({
    default: 'https://api.github.com',
    description: 'GitHub API base URL (GitHub Enterprise)',
  }),
  maxTags: num({
    default: 20000,
    min: 100,
    integer: true,
    description: 'tags read per repository at most',
  }),
  tagListTimeoutSeconds: num({
    default: 60,
    min: 5,
    max: 3600,
    unit: 'seconds',
    description: 'time limit for reading one tag list',
  }),
  requestTimeoutSeconds: num({
    default: 15,
    min: 1,
    max: 600,
    unit: 'seconds',
    description: 'per registry request',
  }),
  concurrencyPerRegistry: num({
    default: 128,
    min: 1,
    max: 512,
    integer: true,
    description: 'registry requests in flight to start with; adapts up to 4x, halves on 429/503',
  }),
  composeUpdates: bool({
    default: false,
    description:
      'update containers of docker compose projects by editing the tag in their compose file and running `docker compose up -d SERVICE`',
  }),
  gitops: oneOf(['refuse', 'commit'], {
    default: 'refuse',
    description:
      "Swarm services homeops deploys from git: refuse updates behind git's back (naming the file to change), or commit the tag bump to the watched repository, push it and reconcile (the Renovate flow)",
  }),
  healthTimeoutSeconds: num({
    default: 120,
    min: 5,
    max: 86400,
    unit: 'seconds',
    description: 'how long an update may take to converge',
  }),
  historyDays: num({
    default: 90,
    min: 1,
    max: 36500,
    unit: 'days',
    description: 'check results older than this are pruned',
  }),
})
