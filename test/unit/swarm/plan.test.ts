import {describe, expect, it} from 'vitest'

import type {DriftEntry} from '../../../src/lib/swarm/drift.js'
import {type StackFacts, guardPrune, planStack, planSummary, removalPlans} from '../../../src/lib/swarm/plan.js'
import type {Prepared} from '../../../src/lib/swarm/prepare.js'
import type {HashParts} from '../../../src/lib/swarm/stack-hash.js'
import type {StackRow} from '../../../src/lib/swarm/store.js'

const REPO = {id: 1, name: 'homelab', url: 'https://git.example.org/homelab.git'}
const parts = (compose: string): HashParts => ({compose, bindings: {}, volumes: 'v', nfs: 'n', secrets: 's'})

function row(over: Partial<StackRow> = {}): StackRow {
  return {
    id: 1,
    repositoryId: REPO.id,
    name: 'web',
    hash: 'hash-1',
    hashParts: JSON.stringify(parts('c1')),
    renderKey: 'key',
    status: 'deployed',
    deployedCommit: 'abc',
    lastError: null,
    deployedAt: null,
    attemptedAt: null,
    updatedAt: '2026-01-01T00:00:00Z',
    ...over,
  }
}

const prepared = (hash: string, compose = 'c1') => ({hash, parts: parts(compose)}) as Prepared

/** Facts of a stack of REPO; counts what the planner asked for (rendering is what it must avoid). */
function facts(over: Partial<StackFacts> = {}) {
  const calls = {reuse: 0, prepare: 0, drift: 0}
  const base: StackFacts = {
    stack: 'web',
    repository: REPO,
    force: false,
    driftPolicy: 'heal',
    reuse: () => {
      calls.reuse++
      return undefined
    },
    prepare: () => {
      calls.prepare++
      return prepared('hash-1')
    },
    drift: () => {
      calls.drift++
      return []
    },
  }
  const merged = {...base, ...over}
  return {
    calls,
    facts: {
      ...merged,
      reuse: () => (calls.reuse++, over.reuse ? over.reuse() : undefined),
      prepare: () => (calls.prepare++, over.prepare ? over.prepare() : prepared('hash-1')),
      drift: () => (calls.drift++, over.drift ? over.drift() : []),
    } satisfies StackFacts,
  }
}

const inSwarm = new Set([REPO.url])
const drifted: DriftEntry[] = [{service: 'web_app', field: 'image', deployed: 'app:1', running: 'app:2'}]

describe('planStack', () => {
  it('creates a new stack, and leaves one whose recorded hash still holds unrendered', () => {
    const fresh = facts()
    expect(planStack(fresh.facts).result).toMatchObject({action: 'create', reason: 'new stack', hash: 'hash-1'})

    const same = facts({row: row(), deployedFrom: inSwarm, reuse: () => 'hash-1'})
    expect(planStack(same.facts).result).toMatchObject({action: 'unchanged', reason: 'hash unchanged'})
    expect(same.calls).toEqual({reuse: 1, prepare: 0, drift: 1})
  })

  it('says which parts changed, and retries a failed or interrupted deploy', () => {
    const changed = facts({row: row(), deployedFrom: inSwarm, prepare: () => prepared('hash-2', 'c2')})
    expect(planStack(changed.facts).result).toMatchObject({action: 'update', reason: 'changed: compose'})
    const failed = facts({row: row({status: 'failed'}), deployedFrom: inSwarm})
    expect(planStack(failed.facts).result).toMatchObject({action: 'update', reason: 'retrying the failed deploy'})
    const interrupted = facts({row: row({status: 'deploying'}), deployedFrom: inSwarm})
    expect(planStack(interrupted.facts).result.reason).toBe('the previous run was interrupted mid-deploy')
    const missing = facts({row: row()})
    expect(planStack(missing.facts).result).toMatchObject({action: 'update', reason: 'missing from the Swarm'})
    const forced = facts({row: row(), deployedFrom: inSwarm, force: true})
    expect(planStack(forced.facts).result).toMatchObject({action: 'update', reason: '--force'})
    expect(forced.calls.reuse).toBe(0)
  })

  it("refuses another repository's stack and one homeops did not deploy, without recording them", () => {
    const owned = planStack(facts({row: row({repositoryId: 2}), ownerName: 'other', deployedFrom: inSwarm}).facts)
    expect(owned).toMatchObject({record: false, result: {action: 'fail', outcome: 'failed'}})
    expect(owned.result.error).toMatch(/owned by repository other, which deployed it first/)

    const foreign = planStack(facts({deployedFrom: new Set([''])}).facts)
    expect(foreign).toMatchObject({record: false, result: {action: 'fail'}})
    expect(foreign.result.error).toMatch(/was not deployed by homeops from this repository; refusing to take it over/)

    const rival = planStack(facts({rival: 'first'}).facts)
    expect(rival.result.error).toMatch(/also listed by repository first/)
  })

  it('adopts its own stack after an unwatch that kept it running', () => {
    const adopted = planStack(facts({row: row({status: 'removed', repositoryId: null}), deployedFrom: inSwarm}).facts)
    expect(adopted.result).toMatchObject({
      action: 'update',
      reason: 'adopted: deployed from this repository before it was unwatched',
    })
  })

  it('skips a stopped stack unless forced', () => {
    expect(planStack(facts({row: row({status: 'stopped'})}).facts).result.action).toBe('skip')
    expect(planStack(facts({row: row({status: 'stopped'}), force: true}).facts).result).toMatchObject({
      action: 'update',
      reason: 'stopped by `swarm stop`, restarted by --force',
    })
  })

  it('fails a stack that cannot be rendered, recording it', () => {
    const broken = planStack(facts({prepare: () => ({error: 'web/compose.yaml: bad'})}).facts)
    expect(broken).toMatchObject({record: true, result: {action: 'fail', error: 'web/compose.yaml: bad'}})
  })

  it('heals drift from git, or reports it (driftPolicy), and takes a baseline when nothing was recorded', () => {
    const unchanged = {row: row(), deployedFrom: inSwarm, reuse: () => 'hash-1'}
    const healed = planStack(facts({...unchanged, drift: () => drifted}).facts)
    expect(healed.result).toMatchObject({action: 'update', drift: drifted})
    expect(healed.result.reason).toMatch(/^drifted, redeployed from git: /)
    expect(healed.prepared).toBeDefined()

    const reported = facts({...unchanged, drift: () => drifted, driftPolicy: 'report'})
    const plan = planStack(reported.facts)
    expect(plan.result).toMatchObject({action: 'unchanged', drift: drifted})
    expect(plan.result.reason).toMatch(/^drifted, left as it runs \(swarm\.driftPolicy: report\): /)
    expect(reported.calls.prepare).toBe(0)

    expect(planStack(facts({...unchanged, drift: () => 'unrecorded'}).facts)).toMatchObject({baseline: true})
    expect(planStack(facts({...unchanged, drift: () => undefined}).facts).baseline).toBeUndefined()
  })
})

describe('removals and the prune guard', () => {
  const recorded = ['a', 'b', 'c', 'd'].map((name, id) => row({id, name}))

  it('removes what stacks.yaml dropped, and lets a small share go', () => {
    const plans = removalPlans('homelab', recorded, new Set(['a', 'b', 'c']))
    expect(plans.map((p) => [p.result.stack, p.result.action, p.result.reason])).toEqual([
      ['d', 'remove', 'no longer in stacks.yaml'],
    ])
    expect(guardPrune(plans, {repository: 'homelab', recorded, listed: 3, maxShare: 0.5})).toEqual({plans})
  })

  it('refuses the whole repository when it would remove too many, and says how to allow it', () => {
    const kept = planStack(
      facts({stack: 'a', row: row({name: 'a'}), deployedFrom: inSwarm, reuse: () => 'hash-1'}).facts,
    )
    const plans = [kept, ...removalPlans('homelab', recorded, new Set(['a']))]
    const guarded = guardPrune(plans, {repository: 'homelab', recorded, listed: 1, maxShare: 0.5})
    expect(guarded.error).toMatch(/would remove 3 of the 4 stacks .*--allow-prune-all/)
    expect(guarded.plans.map((p) => [p.result.stack, p.result.action, p.record])).toEqual([
      ['a', 'skip', false],
      ['b', 'fail', false],
      ['c', 'fail', false],
      ['d', 'fail', false],
    ])
    expect(planSummary(guarded.plans)).toBe('1 skip, 3 fail')
    expect(planSummary([])).toBe('no stacks')
  })
})
