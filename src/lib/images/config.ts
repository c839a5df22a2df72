import {LOG_LEVELS} from '../log/logger.js'
import {array, bool, num, obj, oneOf, str} from '../config/schema.js'

export const IMAGE_MODES = ['AUTO_UPDATE', 'NOTIFICATION', 'DISABLED'] as const
export const IMAGE_STRATEGIES = ['ALL', 'MAJOR', 'MINOR', 'PATCH'] as const
export const NOTIFIER_TYPES = ['webhook', 'ntfy', 'gotify', 'discord', 'slack'] as const

export const notifierSchema = obj({
  type: oneOf(NOTIFIER_TYPES, {default: 'webhook'}),
  url: str({nonEmpty: true}),
  token: str({secret: true}),
  topic: str(),
})

export const imagesSchema = obj({
  enabled: bool({default: false, description: 'run the images scheduler in `homeops serve`'}),
  mode: oneOf(IMAGE_MODES, {env: ['IMAGE_WATCHER_MODE'], description: 'overrides every workload label when set'}),
  strategy: oneOf(IMAGE_STRATEGIES, {
    env: ['IMAGE_WATCHER_STRATEGY'],
    description: 'overrides every workload label when set',
  }),
  runOnBoot: bool({default: false, env: ['RUN_ON_BOOT']}),
  intervalSeconds: num({default: 3600, min: 60}),
  schedule: str({description: 'cron expression; wins over intervalSeconds'}),
  publicUrl: str({description: 'base URL of `images serve` used in one-time apply links'}),
  linkTtlHours: num({default: 168, min: 1}),
  githubToken: str({secret: true, env: ['GITHUB_TOKEN']}),
  openai: obj({
    url: str({env: ['OPEN_AI_URL']}),
    key: str({secret: true, env: ['OPEN_AI_KEY']}),
    model: str({env: ['OPEN_AI_MODEL']}),
  }),
  logLevel: oneOf(LOG_LEVELS, {env: ['LOG_LEVEL']}),
  notifiers: array(notifierSchema),
})
