import {existsSync, readFileSync} from 'node:fs'
import {join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

/** A JSON Schema (draft-07), as test/support/json-schema.ts writes them into test/contract/json/. */
export type Schema = {[key: string]: unknown}

const root = fileURLToPath(new URL('../..', import.meta.url))
const contractDir = join(root, 'test/contract/json')

/**
 * Checks a value against a schema of the kind written above (type, const, enum, properties, required,
 * additionalProperties, items, anyOf, $ref into definitions); returns where it does not match.
 */
export function schemaProblems(value: unknown, schema: Schema, rootSchema: Schema = schema, at = '$'): string[] {
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.replace('#/definitions/', '')
    const target = (rootSchema.definitions as Record<string, Schema> | undefined)?.[name]
    if (!target) return [`${at}: unknown $ref ${schema.$ref}`]
    return schemaProblems(value, target, rootSchema, at)
  }
  if (Array.isArray(schema.anyOf)) {
    const options = schema.anyOf as Schema[]
    return options.some((option) => schemaProblems(value, option, rootSchema, at).length === 0)
      ? []
      : [`${at}: ${JSON.stringify(value)?.slice(0, 80)} matches none of ${options.length} alternatives`]
  }
  if ('not' in schema) return [`${at}: no value is allowed here`]
  if ('const' in schema && value !== schema.const) return [`${at}: expected ${JSON.stringify(schema.const)}`]
  if (Array.isArray(schema.enum) && !schema.enum.includes(value))
    return [`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`]
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string]
    if (!types.includes(jsonType(value))) return [`${at}: expected ${types.join(' or ')}, got ${jsonType(value)}`]
  }
  const problems: string[] = []
  if (Array.isArray(value)) {
    if (Array.isArray(schema.items)) {
      const items = schema.items as Schema[]
      if (value.length !== items.length) problems.push(`${at}: expected ${items.length} items, got ${value.length}`)
      items.forEach((item, i) => problems.push(...schemaProblems(value[i], item, rootSchema, `${at}[${i}]`)))
    } else if (schema.items) {
      value.forEach((v, i) => problems.push(...schemaProblems(v, schema.items as Schema, rootSchema, `${at}[${i}]`)))
    }
  } else if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>
    const properties = (schema.properties ?? {}) as Record<string, Schema>
    for (const key of (schema.required ?? []) as string[]) if (!(key in record)) problems.push(`${at}: missing ${key}`)
    for (const [key, v] of Object.entries(record)) {
      const property = properties[key]
      if (property) problems.push(...schemaProblems(v, property, rootSchema, `${at}.${key}`))
      else if (schema.additionalProperties === false) problems.push(`${at}: unexpected property ${key}`)
      else if (typeof schema.additionalProperties === 'object')
        problems.push(...schemaProblems(v, schema.additionalProperties as Schema, rootSchema, `${at}.${key}`))
    }
  }
  return problems
}

function jsonType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value
}

/**
 * What `homeops <args>` printed under `--json`, checked against the committed
 * schema: the command's own, or the error object's when it printed `{error}`.
 * Returns the problems, empty when it conforms or when stdout is not one JSON
 * document (the caller's own assertions deal with that).
 */
export function jsonOutputProblems(args: readonly string[], stdout: string): string[] {
  if (!args.includes('--json') || stdout.trim() === '') return []
  let value: unknown
  try {
    value = JSON.parse(stdout)
  } catch {
    return []
  }
  const isError =
    typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).join() === 'error'
  // The command id: the first word (or two) of the arguments that names a committed schema.
  const words = args.filter((a) => /^[a-z]+$/.test(a))
  const candidates = isError ? ['error'] : words.flatMap((w, i) => [`${w}-${words[i + 1]}`, w])
  const file = candidates.map((c) => join(contractDir, `${c}.schema.json`)).find((f) => existsSync(f))
  if (!file) return isError ? ['test/contract/json/error.schema.json is missing'] : []
  const schema = JSON.parse(readFileSync(file, 'utf8')) as Schema
  return schemaProblems(value, schema).map((p) => `${relative(root, file)}: ${p}`)
}
