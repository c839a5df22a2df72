import {mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {Router} from '../../src/lib/http/router.js'
import {type RunningHttpServer, startHttpServer} from '../../src/lib/http/server.js'
import {staticFiles, webRoot} from '../../src/lib/http/static-files.js'
import {silentLogger} from '../../src/lib/log/logger.js'
import {MetricsRegistry} from '../../src/lib/metrics/registry.js'
import {createSwarmMode} from '../../src/lib/swarm/mode.js'
import {watch} from '../../src/lib/swarm/repositories.js'
import {Workspace, removeStacks, stackName} from '../integration/swarm/harness.js'
import {repoRoot} from '../support/cli.js'
import {testEnv} from '../support/testenv.js'
import {launchChromium, collectPageProblems} from '../support/browser.js'

// The swarm section alone, mounted by a minimal page the way the shell mounts it: `mount(element, api)`.
const PAGE = `<!doctype html><meta charset="utf-8"><title>swarm</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/web/shared/base.css"><link rel="stylesheet" href="/web/shared/shell.css"><div id="s"></div>
<script type="module">
  import {createApi} from '/web/shared/ui.js'
  import {mount} from '/web/swarm/section.js'
  mount(document.getElementById('s'), createApi('/swarm'))
</script>`

const ws = new Workspace()
const WEB = stackName('webui')
const mode = createSwarmMode({initialDelayMs: 3_600_000})
let server: RunningHttpServer

beforeAll(async () => {
  process.env.DOCKER_CONFIG = testEnv().dockerConfigDir
  const repo = ws.repo('webui').stacks([WEB]).stack(WEB)
  repo.commit('webui')
  const report = await watch(await ws.swarm(), {url: repo.dir})
  expect(report.reconcile.exitCode).toBe(0)
  const router = new Router()
  const swarm = new Router()
  mode.routes!(swarm)
  router.mount(swarm, '/swarm')
  router.get('/web/*', staticFiles(webRoot()))
  router.get('/', () => ({status: 200, headers: {'content-type': 'text/html; charset=utf-8'}, body: PAGE}))
  server = await startHttpServer({listen: {host: '127.0.0.1', port: 0}, router, logger: silentLogger})
  await mode.start({
    context: await ws.context(),
    metrics: new MetricsRegistry(),
    signal: new AbortController().signal,
    crashed: () => {},
  })
}, 180_000)

afterAll(async () => {
  await mode.stop()
  await server?.close(100)
  await ws.close()
  await removeStacks([WEB])
  ws.cleanup()
}, 180_000)

describe('swarm web section', () => {
  it('shows repositories and stacks, and reconciles after a confirmation', async () => {
    const browser = await launchChromium()
    try {
      const page = await browser.newPage()
      const problems = collectPageProblems(page)
      await page.goto(server.url + '/', {waitUntil: 'load'})
      await page.waitForSelector('[data-testid="swarm-stacks"] tbody tr td[data-label="Stack"]', {timeout: 20_000})
      const stacks = await page.$$eval('[data-testid="swarm-stacks"] tbody tr', (trs) =>
        trs.map((tr) => (tr as HTMLElement).innerText.replace(/\s+/g, ' ').trim()),
      )
      // the Tasks (node) cell sits between the service count and the hash
      expect(stacks[0]).toMatch(
        new RegExp(`${WEB} webui deployed 1/1 ${WEB}_\\w+\\.1 on \\S+: running [0-9a-f]{12} [0-9a-f]{7}`),
      )
      const repos = await page.textContent('[data-testid="swarm-repositories"]')
      expect(repos).toContain('webui')
      expect(repos).toContain('main')

      // Cancel first: nothing runs.
      await page.click('[data-testid="swarm-reconcile"]')
      await page.click('dialog.confirm button[value="cancel"]')
      expect(await page.textContent('[data-testid="swarm-summary"]')).not.toContain('last reconcile')

      await page.click('[data-testid="swarm-reconcile"]')
      await page.click('dialog.confirm button[value="ok"]')
      await page.waitForSelector('.toast.ok', {timeout: 60_000})
      expect(await page.textContent('.toast.ok')).toContain('Reconcile finished')
      await page.waitForFunction(
        () => document.querySelector('[data-testid="swarm-summary"]')?.textContent?.includes('last reconcile'),
        undefined,
        {timeout: 20_000},
      )
      expect(problems).toEqual([])
      mkdirSync(join(repoRoot, 'test-results'), {recursive: true})
      await page.screenshot({path: join(repoRoot, 'test-results', 'swarm-section.png'), fullPage: true})
    } finally {
      await browser.close()
    }
  })
})
