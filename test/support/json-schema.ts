import {readdirSync} from 'node:fs'
import {join, relative, sep} from 'node:path'
import {fileURLToPath} from 'node:url'
import ts from 'typescript'

const root = fileURLToPath(new URL('../..', import.meta.url))
const commandsDir = join(root, 'src/commands')
const baseCommand = join(root, 'src/cli/homeops-command.ts')

import type {Schema} from './json-contract.js'

export interface CommandSchemas {
  /** Command id (`ddns update`) → the schema of what `--json` prints on success. */
  commands: Map<string, Schema>
  /** What `--json` prints on failure, for every command. */
  error: Schema
}

export function commandFiles(dir = commandsDir): string[] {
  return readdirSync(dir, {withFileTypes: true})
    .flatMap((entry) =>
      entry.isDirectory()
        ? commandFiles(join(dir, entry.name))
        : entry.name.endsWith('.ts')
          ? [join(dir, entry.name)]
          : [],
    )
    .sort()
}

export function commandId(file: string): string {
  return relative(commandsDir, file).replace(/\.ts$/, '').split(sep).join(' ')
}

/**
 * Derives the JSON Schema of each command's `--json` output from its declared
 * return type (`extends HomeopsCommand<T>`: T is what `run()` returns and oclif
 * prints), and of the error object from `JsonError` in the base command.
 * TypeScript's checker resolves the whole type, through imports, generics and
 * types inferred from the config schema, so a field added, removed, renamed,
 * retyped or made optional anywhere in a report changes the schema. Types JSON
 * cannot carry faithfully (a Map or Set prints as `{}`, a function or bigint
 * not at all) are refused here, since the printed shape would not say what the
 * type says.
 */
export function generateSchemas(): CommandSchemas {
  const files = commandFiles()
  const parsed = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'))
      },
    },
  )
  if (!parsed) throw new Error('cannot read tsconfig.json')
  const program = ts.createProgram([...files, baseCommand], {...parsed.options, noEmit: true})
  const checker = program.getTypeChecker()

  const commands = new Map<string, Schema>()
  for (const file of files) {
    const source = program.getSourceFile(file)!
    const output = outputTypeNode(source)
    if (!output) throw new Error(`${commandId(file)}: no \`extends HomeopsCommand<T>\` to read the --json shape from`)
    try {
      commands.set(commandId(file), new SchemaWriter(checker).document(checker.getTypeFromTypeNode(output)))
    } catch (error) {
      throw new Error(`${commandId(file)}: the --json shape of ${output.getText(source)}: ${(error as Error).message}`)
    }
  }
  const jsonError = program
    .getSourceFile(baseCommand)!
    .statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'JsonError')
  if (!jsonError) throw new Error('src/cli/homeops-command.ts: no JsonError interface')
  const error = new SchemaWriter(checker).document(checker.getTypeAtLocation(jsonError))
  return {commands, error}
}

function outputTypeNode(source: ts.SourceFile): ts.TypeNode | undefined {
  for (const statement of source.statements) {
    if (!ts.isClassDeclaration(statement)) continue
    for (const clause of statement.heritageClauses ?? []) {
      for (const type of clause.types) {
        if (type.expression.getText(source) === 'HomeopsCommand' && type.typeArguments?.length === 1)
          return type.typeArguments[0]
      }
    }
  }
  return undefined
}

const NAMELESS = new Set(['__type', '__object', 'Array', 'ReadonlyArray'])

/** One schema document: named object types become `definitions` (so recursion and reuse stay finite). */
class SchemaWriter {
  private readonly definitions = new Map<string, Schema>()
  private readonly names = new Map<ts.Type, string>()
  private readonly path: string[] = []
  private readonly inline = new Set<ts.Type>()

  constructor(private readonly checker: ts.TypeChecker) {}

  document(type: ts.Type): Schema {
    const body = this.schema(type)
    const definitions = Object.fromEntries([...this.definitions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    return {
      $schema: 'http://json-schema.org/draft-07/schema#',
      ...body,
      ...(this.definitions.size > 0 ? {definitions} : {}),
    }
  }

  private fail(message: string): never {
    throw new Error(`${message} at ${this.path.length > 0 ? this.path.join('.') : 'the top'}`)
  }

  private schema(type: ts.Type): Schema {
    const f = type.flags
    if (f & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return {}
    if (f & ts.TypeFlags.Never) return {not: {}}
    if (f & ts.TypeFlags.Null) return {type: 'null'}
    if (f & (ts.TypeFlags.Undefined | ts.TypeFlags.Void)) return this.fail('undefined is not printed by JSON')
    if (f & ts.TypeFlags.StringLiteral) return {const: (type as ts.StringLiteralType).value}
    if (f & ts.TypeFlags.NumberLiteral) return {const: (type as ts.NumberLiteralType).value}
    if (f & ts.TypeFlags.BooleanLiteral) return {const: type === this.checker.getTrueType()}
    if (f & ts.TypeFlags.EnumLiteral && !(f & ts.TypeFlags.Union)) return {const: (type as ts.LiteralType).value}
    if (f & ts.TypeFlags.String || f & ts.TypeFlags.TemplateLiteral) return {type: 'string'}
    if (f & ts.TypeFlags.Number) return {type: 'number'}
    if (f & ts.TypeFlags.Boolean) return {type: 'boolean'}
    if (f & (ts.TypeFlags.BigInt | ts.TypeFlags.BigIntLiteral)) return this.fail('a bigint cannot be printed as JSON')
    if (f & (ts.TypeFlags.ESSymbol | ts.TypeFlags.UniqueESSymbol)) return this.fail('a symbol is not printed by JSON')
    if (type.isUnion()) return this.union(type.types)
    if (f & ts.TypeFlags.Object || type.isIntersection()) return this.object(type)
    return this.fail(`unsupported type ${this.checker.typeToString(type)}`)
  }

  private union(members: readonly ts.Type[]): Schema {
    const present = members.filter((t) => !(t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Void)))
    if (present.length === 0) return this.fail('undefined is not printed by JSON')
    const schemas = present.map((t) => this.schema(t))
    // `true | false` is `boolean`; literals of one kind become one enum.
    const consts = schemas.filter((s) => 'const' in s && Object.keys(s).length === 1).map((s) => s.const)
    const rest = schemas.filter((s) => !('const' in s && Object.keys(s).length === 1))
    const out: Schema[] = []
    const bools = consts.filter((c) => typeof c === 'boolean')
    if (bools.length === 2) out.push({type: 'boolean'})
    else if (bools.length === 1) out.push({const: bools[0]})
    for (const kind of ['string', 'number'] as const) {
      const values = consts.filter((c) => typeof c === kind).sort() as (string | number)[]
      if (values.length === 1) out.push({const: values[0]})
      else if (values.length > 1) out.push({type: kind, enum: values})
    }
    // Primitive keywords in one `type` list (`string | null` → ["null", "string"]).
    const simple = rest.filter((s) => typeof s.type === 'string' && Object.keys(s).length === 1)
    const complex = rest.filter((s) => !simple.includes(s))
    if (simple.length > 1) out.push({type: [...new Set(simple.map((s) => s.type as string))].sort()})
    else out.push(...simple)
    out.push(...complex)
    const unique = [...new Map(out.map((s) => [JSON.stringify(s), s])).values()]
    if (unique.length === 1) return unique[0]!
    return {anyOf: unique.sort((a, b) => order(a).localeCompare(order(b)))}
  }

  private object(type: ts.Type): Schema {
    const checker = this.checker
    const toJSON = type.getProperty('toJSON')
    if (toJSON) {
      const signature = checker.getTypeOfSymbol(toJSON).getCallSignatures()[0]
      if (!signature) return this.fail('toJSON is not a method')
      if (type.symbol?.name === 'Date') return {type: 'string', format: 'date-time'}
      return this.schema(checker.getReturnTypeOfSignature(signature))
    }
    if (checker.isArrayType(type)) {
      const [item] = checker.getTypeArguments(type as ts.TypeReference)
      this.path.push('[]')
      const items = this.schema(item!)
      this.path.pop()
      return {type: 'array', items}
    }
    if (checker.isTupleType(type)) {
      const items = checker.getTypeArguments(type as ts.TypeReference).map((t, i) => {
        this.path.push(`[${i}]`)
        const s = this.schema(t)
        this.path.pop()
        return s
      })
      return {type: 'array', items, minItems: items.length, maxItems: items.length}
    }
    const symbolName = type.symbol?.name
    if (symbolName === 'Map' || symbolName === 'Set' || symbolName === 'WeakMap' || symbolName === 'WeakSet')
      return this.fail(`a ${symbolName} prints as {} in JSON`)
    if (type.getCallSignatures().length > 0 && type.getProperties().length === 0)
      return this.fail('a function is not printed by JSON')

    const name = this.nameOf(type)
    if (name === undefined) {
      if (this.inline.has(type)) return this.fail(`${checker.typeToString(type)} contains itself`)
      this.inline.add(type)
      try {
        return this.shape(type)
      } finally {
        this.inline.delete(type)
      }
    }
    const known = this.names.get(type)
    if (known) return {$ref: `#/definitions/${known}`}
    let unique = name
    for (let n = 2; [...this.names.values()].includes(unique); n++) unique = `${name}_${n}`
    this.names.set(type, unique)
    this.definitions.set(unique, {})
    this.definitions.set(unique, this.shape(type))
    return {$ref: `#/definitions/${unique}`}
  }

  /**
   * Non-generic type aliases, interfaces and classes are definitions, under their own name; instances of
   * generic types (the config's `InferShape<…>`), object literal and mapped types are written inline.
   */
  private nameOf(type: ts.Type): string | undefined {
    if (type.aliasSymbol) return (type.aliasTypeArguments ?? []).length > 0 ? undefined : type.aliasSymbol.name
    const symbol = type.symbol as ts.Symbol | undefined
    if (!symbol || NAMELESS.has(symbol.name)) return undefined
    if (!(symbol.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.Class))) return undefined
    if ((type as ts.TypeReference).typeArguments?.length) return undefined
    return symbol.name
  }

  private shape(type: ts.Type): Schema {
    const checker = this.checker
    const properties: Record<string, Schema> = {}
    const required: string[] = []
    for (const property of [...checker.getPropertiesOfType(type)].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (property.flags & ts.SymbolFlags.Method) continue
      const propertyType = checker.getTypeOfSymbol(property)
      // A function-valued property is left out by JSON.stringify, as a method is.
      if (propertyType.getCallSignatures().length > 0 && propertyType.getProperties().length === 0) continue
      const optional =
        (property.flags & ts.SymbolFlags.Optional) !== 0 ||
        (propertyType.isUnion() && propertyType.types.some((t) => t.flags & ts.TypeFlags.Undefined)) ||
        (propertyType.flags & ts.TypeFlags.Undefined) !== 0
      if (propertyType.flags & ts.TypeFlags.Undefined) continue
      this.path.push(property.name)
      properties[property.name] = this.schema(propertyType)
      this.path.pop()
      if (!optional) required.push(property.name)
    }
    const index = checker.getIndexInfosOfType(type).find((info) => info.keyType.flags & ts.TypeFlags.String)
    let additional: Schema | false = false
    if (index) {
      this.path.push('*')
      additional = this.schema(index.type)
      this.path.pop()
    }
    return {
      type: 'object',
      ...(Object.keys(properties).length > 0 ? {properties} : {}),
      ...(required.length > 0 ? {required} : {}),
      additionalProperties: additional,
    }
  }
}

function order(schema: Schema): string {
  return JSON.stringify(schema)
}
