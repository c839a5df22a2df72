import {readFileSync, readdirSync} from 'node:fs'
import {join, relative, sep} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

const root = fileURLToPath(new URL('../../..', import.meta.url))
const commandsDir = join(root, 'src/commands')

function commandFiles(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) =>
    entry.isDirectory()
      ? commandFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  )
}

/** The generated section of one command in docs/commands.md: from its heading to the next one. */
function section(reference: string, id: string): string | undefined {
  const start = reference.search(new RegExp(`^## \`homeops ${id}[\` ]`, 'm'))
  if (start < 0) return undefined
  const next = reference.indexOf('\n## ', start + 1)
  return reference.slice(start, next < 0 ? undefined : next)
}

describe('docs/commands.md (npm run readme)', () => {
  it('has a section for every command, naming each of its flags', async () => {
    const reference = readFileSync(join(root, 'docs/commands.md'), 'utf8')
    const stale: string[] = []
    for (const file of commandFiles(commandsDir).sort()) {
      const id = relative(commandsDir, file).replace(/\.ts$/, '').split(sep).join(' ')
      const {default: command} = (await import(file)) as {
        default: {flags?: Record<string, {hidden?: boolean}>; baseFlags?: Record<string, {hidden?: boolean}>}
      }
      const text = section(reference, id)
      if (text === undefined) {
        stale.push(`${id}: no section`)
        continue
      }
      const flags = {...command.baseFlags, ...command.flags}
      for (const [name, flag] of Object.entries(flags)) {
        if (!flag.hidden && !text.includes(`--${name}`)) stale.push(`${id}: --${name} missing`)
      }
    }
    expect(stale).toEqual([])
  })
})
