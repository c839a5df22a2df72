/**
 * Who may call a route. Each part is a function so a change of settings
 * (monitor's `/settings`, a SIGHUP reload) applies to the next request.
 */
export interface AccessPolicy {
  /** When it returns false: 403 {"error":"api_disabled"}. */
  enabled?: () => boolean
  /**
   * The key requests must carry (`?key=`, `Authorization: Bearer`, `X-API-Key`).
   * A route with this function is key-governed: when it returns undefined (no
   * key configured), requests that change something are allowed from loopback
   * clients only (the "no key" policy, README "Security").
   */
  apiKey?: () => string | undefined
  /** When it returns a list, the client address must be in it. */
  allowList?: () => AllowList | undefined
  /** Where the key is configured, for the refusal message (default serve.apiKey). */
  keySetting?: string
}

export interface AllowList {
  readonly entries: readonly string[]
  allows(address: string): boolean
}
