import type {HomeopsConfig} from '../config/root-schema.js'
import type {AccessPolicy} from '../http/access.js'
import {configAllowList} from '../http/config-allow-list.js'

export interface ServePolicies {
  read: AccessPolicy
  write: AccessPolicy
  /** Static files: the address allow-list only (the page must load to ask for a key). */
  static: AccessPolicy
  /** Throws a UserError when `serve.allowedIps` is invalid. */
  check(): void
}

/** serve's access rules, read from the running config at each request (a reload changes them). */
export function servePolicies(current: () => HomeopsConfig): ServePolicies {
  const allowList = configAllowList(() => current().serve.allowedIps, 'serve.allowedIps')
  return {
    read: {allowList, apiKey: () => (current().serve.protectReads ? current().serve.apiKey : undefined)},
    write: {allowList, apiKey: () => current().serve.apiKey, keySetting: 'serve.apiKey (HOMEOPS_API_KEY)'},
    static: {allowList},
    check() {
      allowList()
    },
  }
}
