// The dashboard with serve.apiKey protecting reads: a wrong key stored in the browser never leaves
// "Loading…" on screen; the page says so, asks for the key, and shows the sections once it is right.
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {type Browser} from 'playwright-core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {launchChromium} from '../support/browser.js'
import {type ServeProcess, startServe} from '../support/serve-process.js'
import {testEnv} from '../support/testenv.js'
import {freePort} from '../support/free-port.js'

const KEY = 'hotest-webui-key-0123456789abcdef'
const dir = mkdtempSync(join(tmpdir(), 'hotest-webui-key-'))
let serve: ServeProcess
let browser: Browser

beforeAll(async () => {
  const port = await freePort()
  const config = join(dir, 'serve.yaml')
  writeFileSync(
    config,
    [
      'serve:',
      `  listen: 127.0.0.1:${port}`,
      `  apiKey: ${KEY}`,
      '  protectReads: true',
      'monitor:',
      '  enabled: true',
      `  settingsPath: ${join(dir, 's.json')}`,
      '',
    ].join('\n'),
  )
  serve = startServe({
    args: ['--config', config],
    env: {HOMEOPS_DB_PATH: join(dir, 'homeops.db'), HOME: dir, DOCKER_HOST: testEnv().dockerHost},
    port,
  })
  await serve.waitFor('/health', async () => ((await fetch(`${serve.url}/health`)).status < 500 ? true : undefined))
  browser = await launchChromium()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await serve?.kill()
  rmSync(dir, {recursive: true, force: true})
})

describe('the dashboard and its API key', () => {
  it('says a stored key is wrong instead of "Loading…", and loads once the right key is given', async () => {
    const page = await browser.newPage()
    await page.addInitScript(() => sessionStorage.setItem('homeops-api-key', 'a-wrong-key-that-is-long-enough'))
    await page.goto(serve.url + '/')
    const notice = page.locator('#loading')
    await expect.poll(() => notice.textContent(), {timeout: 15_000}).toContain('The stored API key is not accepted.')
    await page.getByRole('button', {name: 'Enter another key'}).click()
    const input = page.locator('dialog input[name="api-key"]')
    await input.fill(KEY)
    await page.locator('dialog button[type="submit"]').click()
    await page.locator('section#mode-monitor').waitFor({timeout: 15_000})
    expect(await page.locator('#loading').count()).toBe(0)
    await page.close()
  }, 60_000)
})
