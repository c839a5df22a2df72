import {afterEach, describe, expect, it, vi} from 'vitest'

import type {Context} from '../../../src/lib/context.js'
import {LockedError} from '../../../src/lib/errors.js'
import type {HttpRequest} from '../../../src/lib/http/router.js'
import {type ApplyLinkDeps, applyFromLink, confirmPage} from '../../../src/lib/images/apply-link.js'
import {createApplyToken, linkKey, nonceUsed} from '../../../src/lib/images/links.js'
import {captureLogs, configFrom, fakeContext} from '../serve/fakes.js'

// The update itself needs Docker; here it is what the test says it is.
const apply = vi.hoisted(() => ({next: [] as (() => unknown)[]}))
vi.mock('../../../src/lib/images/watcher.js', () => ({
  applyWorkloadUpdate: async () => (apply.next.shift() ?? (() => ({})))(),
}))

const contexts: Context[] = []
afterEach(async () => {
  apply.next = []
  await Promise.all(contexts.splice(0).map((c) => c.close()))
})

async function setup() {
  const context = await fakeContext(configFrom('').config, captureLogs().logger)
  contexts.push(context)
  const applied: string[] = []
  const deps: ApplyLinkDeps = {
    context: () => context,
    facts: async () => ({image: 'registry.example.org/web', currentTag: '1.1.0', kind: 'service'}),
    applied: (result) => applied.push(result),
  }
  const token = createApplyToken(linkKey(await context.state()), 'web', '1.2.0', 60_000).token
  return {context, deps, applied, token}
}

function post(body: string, headers: Record<string, string>): HttpRequest {
  return {text: async () => body, headers, query: new URLSearchParams()} as unknown as HttpRequest
}

describe('apply link', () => {
  it('shows the confirmation without changing anything, then applies once on the form post', async () => {
    const {context, deps, applied, token} = await setup()
    const page = await confirmPage(deps, {query: new URLSearchParams({token})} as unknown as HttpRequest)
    expect(page.status).toBe(200)
    expect(String(page.body)).toContain('<code>1.1.0</code> → <strong><code>1.2.0</code>')
    apply.next.push(() => ({workload: 'web', action: 'updated', outcome: {result: 'applied'}}))
    const done = await applyFromLink(
      deps,
      post(`token=${token}`, {'content-type': 'application/x-www-form-urlencoded'}),
    )
    expect(done.status).toBe(200)
    expect(String(done.body)).toContain('web now runs 1.2.0.')
    expect(applied).toEqual(['applied'])
    const payload = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as {n: string}
    expect(nonceUsed(await context.state(), payload.n)).toBe(true)
    const again = await applyFromLink(
      deps,
      post(JSON.stringify({token}), {'content-type': 'application/json', accept: 'application/json'}),
    )
    expect(again.status).toBe(410)
    expect(again.json).toEqual({error: 'used', message: 'this link was already used'})
  })

  it('gives the link back when another update holds the lock, so it works a minute later', async () => {
    const {deps, token} = await setup()
    apply.next.push(() => {
      throw new LockedError('images update lock held', 4242)
    })
    const busy = await applyFromLink(
      deps,
      post(JSON.stringify({token}), {'content-type': 'application/json', accept: 'application/json'}),
    )
    expect(busy.status).toBe(409)
    expect(busy.json).toEqual({error: 'locked'})
    apply.next.push(() => ({workload: 'web', action: 'up_to_date', outcome: null}))
    const later = await applyFromLink(
      deps,
      post(`token=${token}`, {'content-type': 'application/x-www-form-urlencoded'}),
    )
    expect(later.status).toBe(200)
    expect(String(later.body)).toContain('web already runs 1.2.0.')
  })

  it('answers a body that is not JSON with 400 and a forged token with 403, changing nothing', async () => {
    const {deps} = await setup()
    await expect(applyFromLink(deps, post('{token', {'content-type': 'application/json'}))).rejects.toMatchObject({
      status: 400,
    })
    const forged = createApplyToken(Buffer.alloc(32, 7), 'web', '1.2.0', 60_000).token
    const refused = await applyFromLink(
      deps,
      post(`token=${forged}`, {'content-type': 'application/x-www-form-urlencoded'}),
    )
    expect(refused.status).toBe(403)
    expect(String(refused.body)).toContain('Nothing was changed.')
  })
})
