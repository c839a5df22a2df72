import {readdirSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import * as prettier from 'prettier'
import {beforeAll, describe, expect, it} from 'vitest'

import type {Schema} from '../../support/json-contract.js'
import {type CommandSchemas, generateSchemas} from '../../support/json-schema.js'

/**
 * `--json` output is an interface: scripts, Home Assistant templates and
 * monitoring read it. The schema of every command's output, derived from its
 * declared return type, is committed under test/contract/json/, so a change to
 * a shape fails here and shows in review as a diff of that file.
 */
const contractDir = new URL('../../contract/json/', import.meta.url)
const UPDATE = 'if the change is intended, run `npm run contract:update` and commit test/contract/'

function schemaFile(id: string): string {
  return `${id.replace(/ /g, '-')}.schema.json`
}

async function text(schema: Schema, file: string): Promise<string> {
  const options = await prettier.resolveConfig(fileURLToPath(new URL(file, contractDir)))
  return prettier.format(JSON.stringify(schema), {...options, parser: 'json'})
}

let schemas: CommandSchemas

beforeAll(() => {
  schemas = generateSchemas()
}, 120_000)

describe('the --json contract', () => {
  it('keeps the shape of every command output', async () => {
    expect(schemas.commands.size).toBeGreaterThan(20)
    for (const [id, schema] of schemas.commands) {
      const file = schemaFile(id)
      await expect(
        await text(schema, file),
        `the --json shape of \`homeops ${id}\` changed: ${UPDATE}`,
      ).toMatchFileSnapshot(fileURLToPath(new URL(file, contractDir)))
    }
  })

  it('keeps the shape of the error object every command prints on failure', async () => {
    await expect(
      await text(schemas.error, 'error.schema.json'),
      `the --json error shape changed: ${UPDATE}`,
    ).toMatchFileSnapshot(fileURLToPath(new URL('error.schema.json', contractDir)))
  })

  it('has a schema file for each command and none for a command that is gone', () => {
    const expected = [...schemas.commands.keys()].map(schemaFile).concat('error.schema.json').sort()
    const present = readdirSync(contractDir)
      .filter((f) => f.endsWith('.schema.json'))
      .sort()
    expect(present, `remove the schema of a removed command from test/contract/json/`).toEqual(expected)
  })
})
