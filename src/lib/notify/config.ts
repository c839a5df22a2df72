import {list, num, obj, oneOf, str} from '../config/schema.js'
import {THRESHOLDS} from './message.js'

export const NOTIFIER_TYPES = [
  'webhook',
  'ntfy',
  'gotify',
  'discord',
  'slack',
  'email',
  'telegram',
  'pushover',
  'matrix',
  'apprise',
  'mqtt',
  'command',
] as const

/** One notifier, for any group that notifies (images, ddns). */
export const notifierSchema = obj({
  type: oneOf(NOTIFIER_TYPES, {default: 'webhook'}),
  /** Discord/Slack webhook URLs carry their secret in the path; smtp:// and mqtt:// URLs may carry a password. */
  url: str({
    nonEmpty: true,
    secret: true,
    description:
      'webhook URL; ntfy/Gotify/Matrix/Apprise server URL; smtp(s)://user:pass@host:port; mqtt(s)://user:pass@host:port',
  }),
  token: str({
    secret: true,
    description:
      'bearer token (webhook, ntfy), Gotify app token, Telegram bot token, Pushover app token, Matrix access token',
  }),
  topic: str({description: 'ntfy topic; Apprise tag; MQTT base topic (default homeops)'}),
  name: str({description: 'shown in logs instead of the type'}),
  priority: num({min: -2, max: 10, integer: true, description: 'ntfy 1-5, Gotify 0-10, Pushover -2..2'}),
  threshold: oneOf(THRESHOLDS, {
    default: 'ALL',
    description: 'smallest version change sent here: PATCH, MINOR or MAJOR (failures always are)',
  }),
  from: str({description: 'email: sender address'}),
  to: list(str(), {description: 'email: recipients'}),
  chatId: str({description: 'telegram: chat id'}),
  user: str({secret: true, description: 'pushover: user or group key'}),
  room: str({description: 'matrix: room id (!abc:example.org)'}),
  discoveryPrefix: str({default: 'homeassistant', description: 'mqtt: Home Assistant discovery prefix'}),
  command: list(str(), {description: 'command: program and arguments (no shell); the digest is on stdin as JSON'}),
  timeoutSeconds: num({default: 10, min: 1, max: 300, description: 'per delivery'}),
})
