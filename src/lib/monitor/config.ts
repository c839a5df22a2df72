import {bool, list, num, obj, str} from '../config/schema.js'

export const monitorSchema = obj({
  enabled: bool({default: false, description: 'run the monitor API in `homeops serve`'}),
  listen: str({default: '127.0.0.1:5000', description: 'address of `homeops monitor serve`'}),
  gui: bool({default: true, env: ['GUI_ENABLED']}),
  api: bool({default: false, env: ['API_ENABLED']}),
  auth: bool({default: false, env: ['AUTH_ENABLED']}),
  apiKey: str({secret: true, env: ['API_KEY']}),
  allowedIps: list(str(), {env: ['ALLOWED_IPS'], default: ['127.0.0.1/32', '::1/128']}),
  settingsPath: str({env: ['SETTINGS_PATH']}),
  registryCacheMinutes: num({default: 15, min: 1}),
})
