/**
 * Process-wide registry of secret values. The config loader registers every
 * secret it reads; the logger and the error renderer pass all text through
 * `redact`, so a secret that leaks into a message (a URL, an upstream error)
 * is still never printed.
 */
const secrets = new Set<string>()
const MASK = '***'
// Very short values would mask ordinary words; they are still never logged on purpose.
const MIN_LENGTH = 4

export function registerSecret(value: string | undefined): void {
  if (value && value.length >= MIN_LENGTH) secrets.add(value)
}

export function redact(text: string): string {
  if (secrets.size === 0) return text
  let out = text
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(MASK)
  }
  return out
}

/** For tests. */
export function clearSecrets(): void {
  secrets.clear()
}
