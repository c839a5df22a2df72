import {readdirSync, readFileSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'
import ts from 'typescript'

/** One `import`/`export … from` or `import()` of a module of the tree, as written in `from`. */
export interface ImportEdge {
  /** Paths relative to the source root, with `.ts`: `lib/http/router.ts`. */
  from: string
  to: string
  /** `import type` / `export type`, or every name imported as a type: erased at run time. */
  typeOnly: boolean
  /** `import('…')`: loaded when the code runs, not when the module loads. */
  dynamic: boolean
}

/** The imports of one TypeScript source between modules of the tree (packages and `node:` are left out). */
export function importsOf(file: string, text: string): ImportEdge[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const edges: ImportEdge[] = []
  const add = (specifier: string, typeOnly: boolean, dynamic: boolean) => {
    if (!specifier.startsWith('.')) return
    const to = join(dirname(file), specifier).replace(/\.js$/, '.ts')
    edges.push({from: file, to, typeOnly, dynamic})
  }
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause
      const named = clause?.namedBindings
      const everyNameAType =
        clause !== undefined &&
        clause.name === undefined &&
        named !== undefined &&
        ts.isNamedImports(named) &&
        named.elements.length > 0 &&
        named.elements.every((e) => e.isTypeOnly)
      add(node.moduleSpecifier.text, Boolean(clause?.isTypeOnly) || everyNameAType, false)
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly, false)
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      add(node.arguments[0].text, false, true)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return edges
}

/** Every `.ts` file under `root`, relative to it. */
export function sourceFiles(root: string): string[] {
  return readdirSync(root, {recursive: true, encoding: 'utf8'})
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => f.split('\\').join('/'))
    .sort()
}

/** The import edges of the tree under `root` (`src`). */
export function importGraph(root: string): ImportEdge[] {
  const base = resolve(root)
  return sourceFiles(base).flatMap((f) =>
    importsOf(f, readFileSync(join(base, f), 'utf8')).map((e) => ({
      ...e,
      to: relative(base, resolve(base, e.to)).split('\\').join('/'),
    })),
  )
}

/**
 * The cycles among the modules as they load: static imports, types included (a type cycle is still a
 * knot to untie before either side can move); `import()` runs later, so it cannot knot a load. Each
 * cycle once, as the path `a > b > a`.
 */
export function findCycles(edges: ImportEdge[]): string[] {
  const next = new Map<string, string[]>()
  for (const e of edges) if (!e.dynamic) next.set(e.from, [...(next.get(e.from) ?? []), e.to])
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const cycles = new Set<string>()
  const walk = (node: string): void => {
    state.set(node, 'open')
    stack.push(node)
    for (const to of next.get(node) ?? []) {
      if (state.get(to) === 'open') cycles.add([...stack.slice(stack.indexOf(to)), to].join(' > '))
      else if (!state.has(to)) walk(to)
    }
    stack.pop()
    state.set(node, 'done')
  }
  for (const node of [...next.keys()].sort()) if (!state.has(node)) walk(node)
  return [...cycles]
}

/** The modules `entry` loads with it: its static value imports, transitively (types and `import()` left out). */
export function loadedWith(edges: ImportEdge[], entry: string): Set<string> {
  const seen = new Set<string>([entry])
  const queue = [entry]
  while (queue.length > 0) {
    const at = queue.shift()!
    for (const e of edges) {
      if (e.from === at && !e.dynamic && !e.typeOnly && !seen.has(e.to)) {
        seen.add(e.to)
        queue.push(e.to)
      }
    }
  }
  return seen
}

/**
 * Imports that run up the structure: a module outside the groups (the core: config, state, http, serve,
 * doctor…) importing a group's module, statically or with `import()`. The list of areas (`lib/areas.ts`)
 * is the one junction and may import each group's `area.ts`, nothing else of it; commands and the CLI
 * entry sit above everything. Also a library module importing a command or the CLI.
 */
export function upwardImports(edges: ImportEdge[], groups: readonly string[]): string[] {
  const groupOf = (path: string) => groups.find((g) => path.startsWith(`lib/${g}/`))
  const top = (path: string) => path.startsWith('commands/') || path.startsWith('cli/')
  return edges
    .filter((e) => {
      if (e.from.startsWith('lib/') && top(e.to)) return true
      const target = groupOf(e.to)
      if (!target || top(e.from) || groupOf(e.from)) return false
      return !(e.from === 'lib/areas.ts' && e.to === `lib/${target}/area.ts`)
    })
    .map((e) => `${e.from} -> ${e.to}${e.dynamic ? ' (import())' : e.typeOnly ? ' (type)' : ''}`)
}

/** The packages a source imports statically for its values (what loading it costs). */
export function packagesLoadedBy(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false)
  return source.statements.flatMap((s) =>
    ts.isImportDeclaration(s) &&
    ts.isStringLiteral(s.moduleSpecifier) &&
    !s.moduleSpecifier.text.startsWith('.') &&
    !s.moduleSpecifier.text.startsWith('node:') &&
    !s.importClause?.isTypeOnly
      ? [s.moduleSpecifier.text]
      : [],
  )
}
