import {type ChildProcess, spawn} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {type Browser, type Page} from 'playwright-core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {
  Cleanup,
  appImage,
  buildImage,
  docker,
  pushImage,
  runContainer,
  tagImage,
  uniqueName,
  waitFor,
} from '../integration/monitor/harness.js'
import {cliPath, repoRoot} from '../support/cli.js'
import {testEnv} from '../support/testenv.js'
import {launchChromium} from '../support/browser.js'
import {freePort} from '../support/free-port.js'

const d = docker()
const cleanup = new Cleanup(d)
const names = {current: uniqueName('webcur'), outdated: uniqueName('webold')}
let server: ChildProcess
let url: string
let browser: Browser
let page: Page
let log = ''

beforeAll(async () => {
  const ref = `${testEnv().registry.host}/${uniqueName('web')}/app:1`
  const v1 = await buildImage(d, cleanup, ref, 'echo one > /marker')
  await pushImage(d, ref)
  await runContainer(d, cleanup, {name: names.outdated, Image: ref})
  await buildImage(d, cleanup, ref, 'echo two > /marker')
  await pushImage(d, ref)
  await tagImage(d, cleanup, v1, ref)
  await runContainer(d, cleanup, {name: names.current, Image: appImage('1.0.0')})

  const dir = cleanup.tempDir()
  writeFileSync(join(dir, 'config.yaml'), '# empty: defaults and environment\n')
  const port = await freePort()
  url = `http://127.0.0.1:${port}`
  server = spawn(process.execPath, [cliPath, 'monitor', 'serve', '--listen', `127.0.0.1:${port}`], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      DOCKER_HOST: testEnv().dockerHost,
      HOMEOPS_DB_PATH: join(dir, 'homeops.db'),
      HOMEOPS_CONFIG: join(dir, 'config.yaml'),
      SETTINGS_PATH: join(dir, 'settings.json'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  server.stdout!.on('data', (b: Buffer) => (log += b.toString()))
  server.stderr!.on('data', (b: Buffer) => (log += b.toString()))
  await waitFor(
    `monitor serve on ${url}`,
    async () => ((await fetch(`${url}/health`)).ok ? true : undefined),
    30_000,
  ).catch((error: Error) => {
    throw new Error(`${error.message}\nserver output:\n${log}`)
  })

  browser = await launchChromium()
  page = await browser.newPage()
}, 180_000)

afterAll(async () => {
  await browser?.close()
  if (server && server.exitCode === null) {
    server.kill('SIGTERM')
    await new Promise((r) => server.once('exit', r))
  }
  await cleanup.run()
}, 120_000)

describe('monitor web page', () => {
  it('loads and shows the test containers with state, update status and sparklines', async () => {
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    await page.goto(url + '/')
    const current = page.locator(`tr[data-name="${names.current}"]`)
    const outdated = page.locator(`tr[data-name="${names.outdated}"]`)
    await current.waitFor({timeout: 20_000})
    await expect.poll(() => current.textContent(), {timeout: 20_000}).toContain('up to date')
    expect(await current.textContent()).toContain('running')
    expect(await current.textContent()).toContain(appImage('1.0.0'))
    await expect.poll(() => outdated.textContent(), {timeout: 20_000}).toContain('update available')
    // Two polls later the CPU and memory cells hold sparklines with data.
    await expect
      .poll(() => current.locator('svg.sparkline path.line').count(), {timeout: 20_000, interval: 1000})
      .toBe(2)
    expect(errors).toEqual([])
  })

  it('updates a container after confirmation', async () => {
    const before = await d.getContainer(names.outdated).inspect()
    const button = page.locator(`button[data-action="update"][data-name="${names.outdated}"]`)
    await button.click()
    // Cancel first: nothing happens.
    await page.locator('dialog.confirm button[value="cancel"]').click()
    expect((await d.getContainer(names.outdated).inspect()).Id).toBe(before.Id)
    await button.click()
    await page.locator('dialog.confirm button[value="ok"]').click()
    await page.locator('.toast.ok').filter({hasText: 'updated'}).waitFor({timeout: 60_000})
    const after = await d.getContainer(names.outdated).inspect()
    expect(after.Id).not.toBe(before.Id)
    expect(after.State.Running).toBe(true)
    const row = page.locator(`tr[data-name="${names.outdated}"]`)
    await expect.poll(() => row.textContent(), {timeout: 20_000}).toContain('up to date')
  })

  it('opens the settings dialog and switches between dark and light', async () => {
    await page.locator('button[data-action="settings"]').click()
    const dialog = page.locator('dialog.monitor-settings')
    await dialog.waitFor()
    expect(await dialog.locator('textarea[name="allowed_cidrs"]').inputValue()).toContain('127.0.0.1/32')
    expect(await dialog.locator('input[name="api_enabled"]').isChecked()).toBe(false)
    await dialog.locator('button', {hasText: 'Close'}).click()
    const before = await page.evaluate(() => document.documentElement.dataset.theme ?? '')
    await page.locator('#theme-button').click()
    const after = await page.evaluate(() => document.documentElement.dataset.theme ?? '')
    expect(after).not.toBe(before)
    expect(['dark', 'light']).toContain(after)
  })

  it('asks before pruning and removes nothing when cancelled', async () => {
    const imagesBefore = (await d.listImages()).length
    await page.locator('button[data-action="prune"]').click()
    const confirm = page.locator('dialog.confirm')
    const toastOk = page.locator('.toast.ok', {hasText: 'No unused images'})
    await Promise.race([confirm.waitFor({timeout: 10_000}), toastOk.waitFor({timeout: 10_000})])
    if (await confirm.isVisible()) {
      expect(await confirm.textContent()).toMatch(/Remove \d+ image/)
      await confirm.locator('button[value="cancel"]').click()
    }
    expect((await d.listImages()).length).toBe(imagesBefore)
  })

  it('stops cleanly on SIGTERM: exit 0 within 5 s', async () => {
    const started = Date.now()
    server.kill('SIGTERM')
    const code = await new Promise<number | null>((resolve) => server.once('exit', (c) => resolve(c)))
    expect(code, log).toBe(0)
    expect(Date.now() - started).toBeLessThan(5000)
  })
})
