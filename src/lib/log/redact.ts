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
 * first, pinned values (the config's) and those a slot holds (an API key)
 * last. A long-running `serve` therefore holds its config secrets plus the
 * tokens currently alive, not every token it ever fetched.
 */

export const MASK = '***'
/** Very short values would mask ordinary words; they are still never logged on purpose. */
export const MIN_SECRET_LENGTH = 4
/** Upper bound on distinct values held; the forms of each are a few dozen strings at most. */
export const MAX_SECRETS = 256
/** Upper bound on the characters of every form held (32 MB of UTF-16): long secrets have many long forms. */
export const MAX_FORM_CHARS = 16 * 1024 * 1024
/** A token can still show up in an error a little after it expired (a request in flight). */
const EXPIRY_GRACE_MS = 60_000

export interface SecretOptions {
  /** Forget the value this long after registration (a registry token's `expires_in`), plus a minute's grace. */
  ttlMs?: number
  /**
   * One value per slot: registering a new value releases the previous one
   * (e.g. `monitor.apiKey`). The value a slot holds is in use by definition, so
   * it is the last to go when the set is full.
   */
  slot?: string
  /**
   * In use for the life of the process (the config's secrets): like a slot's
   * value, evicted only after every other one when the set is full.
   */
  pinned?: boolean
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
  /** Of those, the pinned ones and those a slot keeps (current values: evicted last). */
  pinned: number
  /** Held by lifetime registrations until then (ms since epoch); 0 when none. */
  leaseUntil: number
  forms: string[]
  /** Characters of all its forms. */
  size: number
}

const entries = new Map<string, Entry>()
let formChars = 0
const slots = new Map<string, SecretHandle[]>()
/**
 * Every form of every live secret, indexed by its first two code units,
 * longest first, with a 64 Ki-bucket filter of those pairs; rebuilt lazily
 * after a change. One scan of the text, mostly one typed-array read per
 * position, costs microseconds per log line even with the set full (thousands
 * of forms), where a loop of `includes` or one alternation RegExp costs a
 * hundred times more (scripts/bench/redact.mjs).
 */
interface Patterns {
  filter: Uint8Array
  index: Map<number, string[]>
}
let patterns: Patterns | undefined
let nextExpiry = Number.POSITIVE_INFINITY
let now: () => number = Date.now

const NO_HANDLE: SecretHandle = {release: () => undefined}

/**
 * Masks `value` (and its echoed forms) from now on. Without options it stays
 * masked for the life of the process.
 */
export function registerSecret(value: string | undefined, options: SecretOptions = {}): SecretHandle {
  if (options.slot === undefined) return add(value, options, options.pinned === true)
  return registerSecrets([value], {...options, slot: options.slot})[0] ?? NO_HANDLE
}

/**
 * Masks every value of `values` under one slot, releasing whatever the slot
 * held before and is not among them (a repository's secret values, replaced
 * as a whole at each reconcile).
 */
export function registerSecrets(
  values: Iterable<string | undefined>,
  options: SecretOptions & {slot: string},
): SecretHandle[] {
  const previous = slots.get(options.slot) ?? []
  const handles = [...values].map((value) => add(value, options, true))
  slots.set(options.slot, handles)
  // Released after the new holds, so a value registered again never drops in between.
  for (const handle of previous) handle.release()
  return handles
}

function add(value: string | undefined, options: SecretOptions, pinned: boolean): SecretHandle {
  if (!value || value.length < MIN_SECRET_LENGTH) return NO_HANDLE
  const key = options.username === undefined ? value : `${value}\0${options.username}`
  let entry = entries.get(key)
  if (entry) {
    // Most recently registered last: eviction takes from the front.
    entries.delete(key)
    entries.set(key, entry)
  } else {
    const forms = echoForms(value, options.username)
    entry = {holds: 0, pinned: 0, leaseUntil: 0, forms, size: forms.reduce((sum, form) => sum + form.length, 0)}
    makeRoom(entry.size)
    entries.set(key, entry)
    formChars += entry.size
    patterns = undefined
  }
  return options.ttlMs === undefined ? hold(key, entry, pinned) : lease(key, entry, options.ttlMs)
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
function maskAll(text: string, patterns: Patterns): string {
  const {filter, index} = patterns
  const last = text.length - 1
  let out = ''
  let copied = 0
  let runStart = -1
  let runEnd = -1
  let second = text.charCodeAt(0)
  for (let i = 0; i < last; i++) {
    const first = second
    second = text.charCodeAt(i + 1)
    if (filter[((first << 7) ^ second) & 0xffff] === 0) continue
    const candidates = index.get(first * 0x10000 + second)
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

function bucket(text: string, at: number): number {
  return ((text.charCodeAt(at) << 7) ^ text.charCodeAt(at + 1)) & 0xffff
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
  // The serialised value holds the JSON-escaped form of every string in it, and every form has its
  // JSON-escaped form registered too: no match in the text means no string to rewrite (the usual case).
  const text = JSON.stringify(value) as string | undefined
  if (text === undefined || redact(text) === text) return value
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

/** Characters of every form held now (tests, `/metrics`); at most MAX_FORM_CHARS. */
export function secretFormChars(): number {
  return formChars
}

/** For tests. */
export function clearSecrets(): void {
  entries.clear()
  formChars = 0
  slots.clear()
  patterns = undefined
  nextExpiry = Number.POSITIVE_INFINITY
}

/** For tests: a clock to expire lifetimes without waiting. */
export function setSecretClock(clock: (() => number) | undefined): void {
  now = clock ?? Date.now
}

function hold(key: string, entry: Entry, pinned: boolean): SecretHandle {
  entry.holds++
  if (pinned) entry.pinned++
  let released = false
  return {
    release() {
      if (released) return
      released = true
      entry.holds--
      if (pinned) entry.pinned--
      // Still leased: it must expire on time now that nothing else holds it.
      if (entry.holds === 0 && entry.leaseUntil > 0) nextExpiry = Math.min(nextExpiry, entry.leaseUntil)
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
  remove(key)
}

function remove(key: string): void {
  const entry = entries.get(key)
  if (!entry) return
  entries.delete(key)
  formChars -= entry.size
  patterns = undefined
}

function expire(): void {
  const at = now()
  nextExpiry = Number.POSITIVE_INFINITY
  for (const [key, entry] of entries) {
    if (!alive(entry, at)) remove(key)
    else if (entry.holds === 0) nextExpiry = Math.min(nextExpiry, entry.leaseUntil)
  }
}

/**
 * Keeps the set under MAX_SECRETS values and MAX_FORM_CHARS characters of
 * forms (room made for `incoming` more): expired values first, then the oldest
 * short-lived one (a token), then the least recently registered value neither
 * pinned nor held by a slot, and only then the oldest of the current values.
 */
function makeRoom(incoming: number): void {
  const full = (): boolean => entries.size >= MAX_SECRETS || formChars + incoming > MAX_FORM_CHARS
  if (!full()) return
  expire()
  while (full()) {
    const victim =
      firstKey((entry) => entry.holds === 0) ?? firstKey((entry) => entry.pinned === 0) ?? firstKey(() => true)
    if (victim === undefined) return
    remove(victim)
  }
}

function firstKey(test: (entry: Entry) => boolean): string | undefined {
  for (const [key, entry] of entries) if (test(entry)) return key
  return undefined
}

function buildPatterns(): Patterns {
  const all = new Set<string>()
  for (const entry of entries.values()) for (const form of entry.forms) all.add(form)
  const index = new Map<number, string[]>()
  const filter = new Uint8Array(0x10000)
  for (const form of [...all].sort((a, b) => b.length - a.length)) {
    if (form.length < MIN_SECRET_LENGTH) continue
    filter[bucket(form, 0)] = 1
    const key = pairKey(form, 0)
    const list = index.get(key)
    if (list) list.push(form)
    else index.set(key, [form])
  }
  return {filter, index}
}
