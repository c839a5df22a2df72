import {readdirSync} from 'node:fs'
import {join, relative, sep} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

/**
 * The command-line interface is part of the product: scripts, cron entries and
 * systemd units depend on command names, flags and their env variables. This
 * snapshot makes any change to it show in review.
 */
const commandsDir = fileURLToPath(new URL('../../../src/commands', import.meta.url))

function commandFiles(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) =>
    entry.isDirectory()
      ? commandFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  )
}

interface FlagLike {
  type: string
  char?: string
  env?: string
  multiple?: boolean
  options?: readonly string[]
  allowNo?: boolean
}

describe('command-line interface', () => {
  it('keeps its commands, flags and arguments', async () => {
    const shape: Record<string, unknown> = {}
    for (const file of commandFiles(commandsDir).sort()) {
      const id = relative(commandsDir, file).replace(/\.ts$/, '').split(sep).join(' ')
      const {default: command} = (await import(file)) as {
        default: {
          summary?: string
          examples?: unknown[]
          enableJsonFlag?: boolean
          flags?: Record<string, FlagLike>
          args?: Record<string, {required?: boolean}>
        }
      }
      expect(command.summary, `${id} has a summary`).toBeTruthy()
      expect(command.examples?.length ?? 0, `${id} has an example`).toBeGreaterThan(0)
      shape[id] = {
        json: command.enableJsonFlag ?? false,
        args: Object.entries(command.args ?? {}).map(([name, arg]) => `${name}${arg.required ? '' : '?'}`),
        flags: describeFlags(command.flags ?? {}),
      }
    }
    expect(shape).toMatchSnapshot()
  })

  it('keeps the global flags every command takes, and its topics', async () => {
    const {HomeopsCommand} = await import('../../../src/cli/homeops-command.js')
    const {default: pkg} = (await import('../../../package.json', {with: {type: 'json'}})) as {
      default: {oclif: {topicSeparator: string; topics: Record<string, unknown>}}
    }
    expect({
      baseFlags: describeFlags(HomeopsCommand.baseFlags as Record<string, FlagLike>),
      json: HomeopsCommand.enableJsonFlag,
      topicSeparator: pkg.oclif.topicSeparator,
      topics: Object.keys(pkg.oclif.topics).sort(),
    }).toMatchSnapshot()
  })
})

function describeFlags(flags: Record<string, FlagLike>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(flags)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, flag]) => [
        name,
        [
          flag.type,
          flag.char ? `-${flag.char}` : '',
          flag.env ? `$${flag.env}` : '',
          flag.multiple ? 'multiple' : '',
          flag.allowNo ? 'allow-no' : '',
          flag.options ? flag.options.join('|') : '',
        ]
          .filter(Boolean)
          .join(' '),
      ]),
  )
}
