import {bool, listen, num, obj, str} from '../config/schema.js'
import {apiKeyField, cidrListField} from '../http/access-config.js'

export const monitorSchema = obj({
  enabled: bool({default: false, description: 'run the monitor API in `homeops serve`'}),
  listen: listen({default: '127.0.0.1:5000', description: 'address of `homeops monitor serve`'}),
  gui: bool({default: true, env: ['GUI_ENABLED'], description: 'serve the web page'}),
  api: bool({default: false, env: ['API_ENABLED'], description: 'answer the HTTP API (Home Assistant)'}),
  auth: bool({default: false, env: ['AUTH_ENABLED'], description: 'require the API key on every API call'}),
  apiKey: apiKeyField({env: ['API_KEY'], description: 'the key (16+ characters) required when auth is on'}),
  allowedIps: cidrListField({env: ['ALLOWED_IPS'], default: ['127.0.0.1/32', '::1/128']}),
  settingsPath: str({
    env: ['SETTINGS_PATH'],
    description:
      'JSON file of the settings changed through /settings (default: monitor-settings.json beside the state database); wins over the environment at start',
  }),
  registryCacheMinutes: num({
    default: 15,
    min: 1,
    max: 10080,
    unit: 'minutes',
    description: 'how long a registry answer is reused',
  }),
  healthTimeoutSeconds: num({
    default: 60,
    min: 1,
    max: 86400,
    unit: 'seconds',
    description: 'how long an updated container may take to be running (and healthy) before rolling back',
  }),
})
