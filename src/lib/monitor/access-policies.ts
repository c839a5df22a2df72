import type {AccessPolicy} from '../http/access.js'
import type {SettingsStore} from './settings.js'

export interface MonitorPolicies {
  /** The Home Assistant API: off until enabled; allow-list; key when auth is on. */
  api: AccessPolicy
  /** The same actions for the web page: governed by the GUI toggle instead. */
  gui: AccessPolicy
  /** The page and its files: allow-list and the GUI toggle. */
  page: AccessPolicy
  /** `GET/POST /settings`: while either is on; allow-list, and the key when auth is on. */
  settings: AccessPolicy
}

/** The monitor's access rules, read from its settings (the settings dialog changes them while running). */
export function monitorPolicies(settings: () => SettingsStore | undefined): MonitorPolicies {
  const allowList = () => settings()?.allowList()
  const apiKey = () => settings()?.requiredKey()
  // Without auth, changes come from this machine only (the "no key" policy in enforceAccess).
  const keySetting = 'AUTH_ENABLED=true with API_KEY (monitor.auth, monitor.apiKey, or the settings dialog)'
  return {
    api: {allowList, enabled: () => settings()?.current.apiEnabled ?? false, apiKey, keySetting},
    gui: {allowList, enabled: () => settings()?.current.guiEnabled ?? false, apiKey, keySetting},
    page: {allowList, enabled: () => settings()?.current.guiEnabled ?? false},
    settings: {
      allowList,
      enabled: () => {
        const s = settings()
        return Boolean(s && (s.current.apiEnabled || s.current.guiEnabled))
      },
      apiKey,
      keySetting,
    },
  }
}
