/**
 * The forms in which a secret comes back from a remote: as sent, in another
 * Unicode normalisation, escaped inside a JSON string (also ASCII-only, as
 * Python writes it), quoted by Go's `%q`/`%+q` (Docker's error messages), a Go
 * quote inside a JSON body (an Engine API error), URL- and form-encoded, HTML
 * escaped, in YAML single quotes, its UTF-8 bytes read as Latin-1/Windows-1252 (mojibake), with
 * non-printable characters replaced by `?` (a log sanitiser), and base64
 * (alone, or inside `base64(user:secret)` of a Basic header).
 *
 * Every form is the exact text that would appear; a caller masks each with a
 * plain substring match, longest first.
 */

/** Above this length a secret gets only its raw, JSON and Go forms: the rest would cost memory for no realistic echo. */
const LONG_SECRET = 1024
/** Above this (a certificate bundle, a 1 MB Swarm secret) only the value as it is and JSON-escaped. */
const HUGE_SECRET = 64 * 1024
/** A base64 run shorter than this could occur by chance in ordinary text (digests, ids). */
const MIN_BASE64_CORE = 6

export function echoForms(secret: string, username?: string): string[] {
  // The JSON form stays: `redactDeep` finds secrets by scanning serialised JSON.
  if (secret.length > HUGE_SECRET) return [...new Set([secret, jsonEscape(secret)])]
  const forms = new Set<string>()
  const long = secret.length > LONG_SECRET
  const bases = new Set([secret, secret.normalize('NFC'), secret.normalize('NFD')])
  for (const base of bases) {
    const quoted = long
      ? [base, jsonEscape(base), goQuote(base, false)]
      : [
          base,
          jsonEscape(base),
          jsonEscape(base, 'lower'),
          jsonEscape(base, 'upper'),
          goQuote(base, false),
          goQuote(base, true),
          htmlEscape(base),
          // YAML single quotes (a rendered compose file): `'` doubled.
          base.replaceAll("'", "''"),
          ...mojibake(base),
          ...printableOnly(base),
        ]
    for (const form of quoted) {
      forms.add(form)
      // One more layer: a Go-quoted message inside a JSON error body (`{"message":"parsing \"a\\nb\""}`).
      forms.add(jsonEscape(form))
    }
    if (long) continue
    for (const form of urlForms(base)) forms.add(form)
    for (const form of base64Forms(Buffer.from(base, 'utf8'))) forms.add(form)
  }
  if (username !== undefined) {
    const basic = Buffer.from(`${username}:${secret}`, 'utf8')
    forms.add(basic.toString('base64'))
    forms.add(basic.toString('base64url'))
  }
  return [...forms]
}

/**
 * The inside of a JSON string literal. `ascii` also escapes every non-ASCII
 * code unit as `\uXXXX` (Python's `ensure_ascii`, in either hex case).
 */
export function jsonEscape(text: string, ascii?: 'lower' | 'upper'): string {
  const escaped = JSON.stringify(text).slice(1, -1)
  if (!ascii) return escaped
  const wide = escaped.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  // Upper case for every `\uXXXX`, control characters included (`\u001B`); `\\` pairs are skipped whole.
  return ascii === 'upper'
    ? wide.replace(/\\(u[0-9a-f]{4}|.)/g, (m) => (m.length === 6 ? `\\u${m.slice(2).toUpperCase()}` : m))
    : wide
}

const GO_ESCAPES: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '\\': '\\\\',
  '"': '\\"',
}

/**
 * The inside of Go's `strconv.Quote` (`%q`); `ascii` is `QuoteToASCII`
 * (`%+q`). Printable runes stay as they are; C0/C1 controls and DEL are
 * escaped as Go does (`\x1b`, `\u0085`).
 */
export function goQuote(text: string, ascii: boolean): string {
  let out = ''
  for (const c of text) {
    const code = c.codePointAt(0)!
    const named = GO_ESCAPES[c]
    if (named) out += named
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`
    else if (code < 0x80) out += c
    else if ((code >= 0x80 && code < 0xa0) || code === 0xad || (ascii && code <= 0xffff))
      out += `\\u${code.toString(16).padStart(4, '0')}`
    else if (ascii) out += `\\U${code.toString(16).padStart(8, '0')}`
    else out += c
  }
  return out
}

function htmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${{'&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": '#39'}[c]};`)
}

/** The secret's UTF-8 bytes decoded as Latin-1 and as Windows-1252 (a remote that guessed the charset wrong). */
function mojibake(text: string): string[] {
  if (!/[\u0080-\uffff]/.test(text)) return []
  const bytes = Buffer.from(text, 'utf8')
  return [bytes.toString('latin1'), new TextDecoder('windows-1252').decode(bytes)]
}

/**
 * Every code unit outside printable ASCII replaced by `?`, as a log line's
 * sanitiser writes a remote's answer; kept only when enough of the secret
 * stays readable that the form cannot match a run of question marks.
 */
function printableOnly(text: string): string[] {
  const printable = text.replace(/[^\x20-\x7e]/g, '?')
  if (printable === text || printable.replace(/\?/g, '').length < 4) return []
  return [printable]
}

/** Percent-encoded as in a URL path or query (`%C3%A9`, also lower-case hex) and form-encoded (`+` for space). */
function urlForms(text: string): string[] {
  const component = encodeURIComponent(text)
  const form = new URLSearchParams({v: text}).toString().slice(2)
  const lower = (s: string): string => s.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase())
  return [component, lower(component), form, lower(form)]
}

/**
 * Base64 of the secret on its own, and, for each of the three byte
 * alignments it can have inside a longer value (`user:secret` of a Basic
 * header), the run of base64 characters that depends on the secret's bytes
 * only. Masking that run hides the secret without knowing what surrounds it.
 */
function base64Forms(bytes: Buffer): string[] {
  const out: string[] = []
  for (const encoding of ['base64', 'base64url'] as const) {
    out.push(bytes.toString(encoding))
    for (let align = 0; align < 3; align++) {
      const encoded = Buffer.concat([Buffer.alloc(align), bytes]).toString(encoding)
      const start = Math.ceil((align * 8) / 6)
      const end = Math.floor(((align + bytes.length) * 8) / 6)
      if (end - start >= MIN_BASE64_CORE) out.push(encoded.slice(start, end))
    }
  }
  return out
}
