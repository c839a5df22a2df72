import type {HttpAnswer} from '../http.js'

/** Reading a JSON API's answer without trusting its shape: every accessor checks the type it returns. */
export type Json = unknown

/** The parsed body, or undefined when it is not JSON. */
export function parseJson(answer: HttpAnswer): Json {
  try {
    return JSON.parse(answer.body) as Json
  } catch {
    return undefined
  }
}

export function asObject(value: Json): Record<string, Json> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, Json>)
    : undefined
}

export function asArray(value: Json): Json[] | undefined {
  return Array.isArray(value) ? value : undefined
}

/** A non-empty string (ids, addresses, names). */
export function asString(value: Json): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** `obj.a.b.c`, each step checked. */
export function at(value: Json, ...path: (string | number)[]): Json {
  let current = value
  for (const key of path) {
    if (typeof key === 'number') current = asArray(current)?.[key]
    else current = asObject(current)?.[key]
    if (current === undefined) return undefined
  }
  return current
}
