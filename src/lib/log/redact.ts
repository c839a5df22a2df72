import {echoForms} from './echo-forms.js'

/**
 * Process-wide registry of secret values. The config loader registers every
 * secret it reads; the logger, the error renderer and `--json` pass all text
 * through `redact`, and every area passes text it stores or returns from a
 * remote (an upstream error, a provider's answer) through `redactText`, so a
 * secret that leaks into a message is never printed nor stored.
 *
 * Matching is exact (code unit for code unit, so byte for byte in UTF-8) on
 * the secret and on every form a remote echoes it in (`echo-forms.ts`: JSON
 * and Go escapes, URL encoding, base64, mojibake, …).
 *
 * The set is bounded: a secret registered with a lifetime (a registry token)
 * is forgotten after it, one registered in a slot is replaced by the next
 * value of that slot (an API key changed in the settings), a handle can be
 * released, and past MAX_SECRETS values the oldest short-lived one goes
 * first. A long-running `serve` therefore holds its config secrets plus the
 * tokens currently alive, not every token it ever fetched.
 */

export const MASK = '***'
/** Very short values would mask ordinary words; they are still never logged on purpose. */
export const MIN_SECRET_LENGTH = 4
/** Upper bound on distinct values held; the forms of each are a few dozen strings at most. */
export const MAX_SECRETS = 256
/** A token can still show up in an error a little after it expired (a request in flight). */
const EXPIRY_GRACE_MS = 60_000

export interface SecretOptions {
  /** Forget the value this long after registration (a registry token's `expires_in`), plus a minute's grace. */
  ttlMs?: number
  /** One value per slot: registering a new value releases the previous one (e.g. `monitor.apiKey`). */
  slot?: string
  /** Also mask the whole `base64(username:secret)` of a Basic `Authorization` header. */
  username?: string
}

/** Ends one registration; the value stays masked while another registration holds it. */
export interface SecretHandle {
  release(): void
}

interface Entry {
  /** Registrations without a lifetime not yet released. */
  holds: number
  /** Held by lifetime registrations until then (ms since epoch); 0 when none. */
  leaseUntil: number
  forms: string[]
}

const entries = new Map<string, Entry>()
const slots = new Map<string, SecretHandle>()
/**
 * Every form of every live secret, indexed by its first two code units,
 * longest first; rebuilt lazily after a change. One scan of the text with a
 * lookup per position costs microseconds per log line even with the set full
 * (thousands of forms), where a loop of `includes` or one alternation RegExp
 * costs a hundred times more.
 */
let patterns: Map<number, string[]> | undefined
let nextExpiry = Number.POSITIVE_INFINITY
let now: () => number = Date.now

const NO_HANDLE: SecretHandle = {release: () => undefined}

/**
 * Masks `value` (and its echoed forms) from now on. Without options it stays
 * masked for the life of the process, as config secrets do.
 */
export function registerSecret(value: string | undefined, options: SecretOptions = {}): SecretHandle {
  const previous = options.slot === undefined ? undefined : slots.get(options.slot)
  if (!value || value.length < MIN_SECRET_LENGTH) {
    if (options.slot !== undefined) slots.delete(options.slot)
    previous?.release()
    return NO_HANDLE
  }
  const key = options.username === undefined ? value : `${value}\0${options.username}`
  let entry = entries.get(key)
  if (entry) {
    // Most recently registered last: eviction takes from the front.
    entries.delete(key)
    entries.set(key, entry)
  } else {
    entry = {holds: 0, leaseUntil: 0, forms: echoForms(value, options.username)}
    makeRoom()
    entries.set(key, entry)
    patterns = undefined
  }
  const handle = options.ttlMs === undefined ? hold(key, entry) : lease(key, entry, options.ttlMs)
  if (options.slot !== undefined) slots.set(options.slot, handle)
  // Released after the new hold, so re-registering the same value in its slot never drops it in between.
  previous?.release()
  return handle
}

/** `text` with every registered secret, in every echoed form, replaced by `***`. */
export function redact(text: string): string {
  if (entries.size === 0) return text
  if (now() >= nextExpiry) expire()
  patterns ??= buildPatterns()
  return maskAll(text, patterns)
}

/**
 * Replaces the union of every occurrence of every form by one mask per
 * contiguous run: overlapping forms (two secrets sharing text, a form inside
 * another) leave no character of either visible.
 */
function maskAll(text: string, index: Map<number, string[]>): string {
  let out = ''
  let copied = 0
  let runStart = -1
  let runEnd = -1
  for (let i = 0; i + 1 < text.length; i++) {
    const candidates = index.get(pairKey(text, i))
    if (!candidates) continue
    const found = candidates.find((form) => text.startsWith(form, i))
    if (!found) continue
    const end = i + found.length
    if (runStart >= 0 && i < runEnd) {
      runEnd = Math.max(runEnd, end)
      continue
    }
    if (runStart >= 0) {
      out += text.slice(copied, runStart) + MASK
      copied = runEnd
    }
    runStart = i
    runEnd = end
  }
  if (runStart < 0) return text
  return out + text.slice(copied, runStart) + MASK + text.slice(runEnd)
}

function pairKey(text: string, at: number): number {
  return text.charCodeAt(at) * 0x10000 + text.charCodeAt(at + 1)
}

/**
 * The one function to call on text from outside (a remote's answer, an
 * upstream error) before it is stored, returned by a route or printed.
 */
export function redactText(text: string): string {
  return redact(text)
}

/**
 * A copy of a JSON-like value with every string (keys included) redacted, read
 * the way `JSON.stringify` reads it (`toJSON`, own enumerable properties).
 */
export function redactDeep<T>(value: T): T {
  if (entries.size === 0) return value
  return walk(value) as T
}

function walk(value: unknown): unknown {
  if (typeof value === 'string') return redact(value)
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map(walk)
  const toJSON = (value as {toJSON?: unknown}).toJSON
  if (typeof toJSON === 'function') return walk((toJSON as () => unknown).call(value))
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[redact(k)] = walk(v)
  return out
}

/** How many distinct values are held now (tests, `/metrics`). */
export function secretCount(): number {
  if (now() >= nextExpiry) expire()
  return entries.size
}

/** For tests. */
export function clearSecrets(): void {
  entries.clear()
  slots.clear()
  patterns = undefined
  nextExpiry = Number.POSITIVE_INFINITY
}

/** For tests: a clock to expire lifetimes without waiting. */
export function setSecretClock(clock: (() => number) | undefined): void {
  now = clock ?? Date.now
}

function hold(key: string, entry: Entry): SecretHandle {
  entry.holds++
  let released = false
  return {
    release() {
      if (released) return
      released = true
      entry.holds--
      dropIfUnused(key, entry)
    },
  }
}

function lease(key: string, entry: Entry, ttlMs: number): SecretHandle {
  const until = now() + Math.max(0, ttlMs) + EXPIRY_GRACE_MS
  entry.leaseUntil = Math.max(entry.leaseUntil, until)
  nextExpiry = Math.min(nextExpiry, entry.leaseUntil)
  let released = false
  return {
    release() {
      if (released) return
      released = true
      // Only the latest lease of a value can end it early; an older one was already outlived.
      if (entry.leaseUntil === until) entry.leaseUntil = 0
      dropIfUnused(key, entry)
    },
  }
}

function alive(entry: Entry, at: number): boolean {
  return entry.holds > 0 || entry.leaseUntil > at
}

function dropIfUnused(key: string, entry: Entry): void {
  if (entries.get(key) !== entry || alive(entry, now())) return
  entries.delete(key)
  patterns = undefined
}

function expire(): void {
  const at = now()
  nextExpiry = Number.POSITIVE_INFINITY
  for (const [key, entry] of entries) {
    if (!alive(entry, at)) {
      entries.delete(key)
      patterns = undefined
    } else if (entry.holds === 0) nextExpiry = Math.min(nextExpiry, entry.leaseUntil)
  }
}

/** Keeps the set under MAX_SECRETS: expired values first, then the oldest short-lived one, then the oldest. */
function makeRoom(): void {
  if (entries.size < MAX_SECRETS) return
  expire()
  while (entries.size >= MAX_SECRETS) {
    let victim: string | undefined
    for (const [key, entry] of entries) {
      if (entry.holds === 0) {
        victim = key
        break
      }
    }
    victim ??= entries.keys().next().value
    if (victim === undefined) return
    entries.delete(victim)
    patterns = undefined
  }
}

function buildPatterns(): Map<number, string[]> {
  const all = new Set<string>()
  for (const entry of entries.values()) for (const form of entry.forms) all.add(form)
  const index = new Map<number, string[]>()
  for (const form of [...all].sort((a, b) => b.length - a.length)) {
    if (form.length < MIN_SECRET_LENGTH) continue
    const key = pairKey(form, 0)
    const list = index.get(key)
    if (list) list.push(form)
    else index.set(key, [form])
  }
  return index
}
