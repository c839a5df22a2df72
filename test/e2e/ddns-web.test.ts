import {mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type Dyndns2Fake, type EchoFake, startDyndns2, startEcho} from '../integration/ddns/fakes.js'
import {ddnsContext} from '../integration/ddns/harness.js'
import {repoRoot} from '../support/cli.js'
import type {Harness} from '../integration/ddns/harness.js'
import {createDdnsMode} from '../../src/lib/ddns/mode.js'
import {Router} from '../../src/lib/http/router.js'
import {type RunningHttpServer, startHttpServer} from '../../src/lib/http/server.js'
import {staticFiles, webRoot} from '../../src/lib/http/static-files.js'
import {silentLogger} from '../../src/lib/log/logger.js'
import {MetricsRegistry} from '../../src/lib/metrics/registry.js'
import {launchChromium, collectPageProblems} from '../support/browser.js'

// The ddns section alone, mounted by a minimal page the way the shell mounts it: `mount(element, api)`.
const PAGE = `<!doctype html><meta charset="utf-8"><title>ddns</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/web/shared/base.css"><link rel="stylesheet" href="/web/shared/shell.css"><div id="s"></div>
<script type="module">
  import {createApi} from '/web/shared/ui.js'
  import {mount} from '/web/ddns/section.js'
  mount(document.getElementById('s'), createApi('/ddns'))
</script>`

let provider: Dyndns2Fake
let source: EchoFake
let harness: Harness
let server: RunningHttpServer
const mode = createDdnsMode({intervalMs: 60_000})

beforeAll(async () => {
  provider = await startDyndns2()
  source = await startEcho('84.16.66.10')
  const yaml = `ddns:
  server: ${provider.url}
  ipSources: {v4: ['${source.url}']}
  retryBackoff: 0
  records:
    - {name: home, provider: dyndns2, hostname: home.example.org, username: user, password: pass-word-1}
    - {name: typo, provider: dyndns2, hostname: nas.example.org, username: user, password: pass-word-1}
`
  harness = await ddnsContext({yaml})
  const router = new Router()
  const ddns = new Router()
  mode.routes!(ddns)
  router.mount(ddns, '/ddns')
  router.get('/web/*', staticFiles(webRoot()))
  router.get('/', () => ({status: 200, headers: {'content-type': 'text/html; charset=utf-8'}, body: PAGE}))
  server = await startHttpServer({listen: {host: '127.0.0.1', port: 0}, router, logger: silentLogger})
  const first = mode.passed()
  await mode.start({
    context: harness.context,
    metrics: new MetricsRegistry(),
    signal: new AbortController().signal,
    crashed: () => {},
  })
  await first
})

afterAll(async () => {
  await mode.stop()
  await server?.close(100)
  await harness?.context.close()
  await provider?.close()
  await source?.close()
})

describe('ddns web section', () => {
  it('shows records, current IPs, the blocked record and the history timeline', async () => {
    const browser = await launchChromium()
    try {
      const page = await browser.newPage()
      const problems = collectPageProblems(page)
      await page.goto(server.url + '/', {waitUntil: 'load'})
      await page.waitForSelector('[data-testid="ddns-records"] tbody tr:nth-child(2)', {timeout: 20_000})
      const rows = await page.$$eval('[data-testid="ddns-records"] tbody tr', (trs) =>
        trs.map((tr) => (tr as HTMLElement).innerText.replace(/\s+/g, ' ').trim()),
      )
      expect(rows[0]).toMatch(/home dyndns2 IPv4 84\.16\.66\.10 good .* ok/)
      expect(rows[1]).toMatch(
        /typo dyndns2 IPv4 – nohost .* blocked nohost \(the hostname does not exist in this account\)/,
      )
      expect(await page.textContent('[data-testid="ddns-summary"]')).toContain('IPv4 84.16.66.10')
      const history = await page.$$eval('[data-testid="ddns-history"] li', (lis) =>
        lis.map((li) => li.getAttribute('data-result')),
      )
      expect(history).toEqual(['nohost', 'good'])
      expect(await page.textContent('[data-testid="ddns-history"]')).toContain('(none) → 84.16.66.10')
      expect(problems).toEqual([])
      mkdirSync(join(repoRoot, 'test-results'), {recursive: true})
      await page.screenshot({path: join(repoRoot, 'test-results', 'ddns-section.png'), fullPage: true})
    } finally {
      await browser.close()
    }
  })

  it("forces a blocked record only after a warning with Cancel focused, and tells the provider's answer", async () => {
    const browser = await launchChromium()
    try {
      const page = await browser.newPage()
      await page.goto(server.url + '/', {waitUntil: 'load'})
      const force = page.getByRole('button', {name: 'Force send typo'})
      await force.waitFor({timeout: 20_000})
      const before = provider.requests.length
      await force.click()
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel')
      await page.click('dialog.confirm button[value="cancel"]')
      expect(provider.requests.length).toBe(before)
      await force.click()
      await page.click('dialog.confirm button[value="ok"]')
      // The provider still refuses the hostname: the page says so, in red, and names the record.
      const toast = page.locator('.toast.error', {hasText: 'typo'})
      await toast.waitFor({timeout: 20_000})
      expect(await toast.textContent()).toContain('nohost')
      expect(provider.requests.length).toBeGreaterThan(before)
    } finally {
      await browser.close()
    }
  })
})
