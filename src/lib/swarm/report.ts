import {type Terminal, type Tone, paint, renderTable} from '../ui/terminal.js'
import type {ImageCleanup, ReconcileReport, StackResult} from './reconcile-report.js'
import {describeDrift} from './drift.js'
import {shortHash} from './stack-hash.js'
import type {SwarmStatus} from './status.js'

/** Text for people (the commands print it); `--json` returns the plain data instead. */
const outcomeTone: Record<StackResult['outcome'], Tone> = {
  deployed: 'ok',
  removed: 'warn',
  unchanged: 'muted',
  drifted: 'warn',
  skipped: 'muted',
  failed: 'bad',
  planned: 'plain',
}

const actionTone: Record<StackResult['action'], Tone> = {
  create: 'ok',
  update: 'warn',
  unchanged: 'muted',
  remove: 'bad',
  skip: 'muted',
  fail: 'bad',
}

export function formatReconcile(term: Terminal, report: ReconcileReport): string {
  const lines: string[] = []
  const repoIssues = report.repositories.filter((r) => r.result !== 'ok' && r.error)
  if (report.stacks.length > 0) {
    lines.push(
      report.dryRun
        ? renderTable(
            term,
            [
              {header: 'stack', value: (r) => r.stack},
              {header: 'repository', value: (r) => r.repository},
              {header: 'plan', value: (r) => r.action, tone: (r) => actionTone[r.action]},
              {header: 'why', value: (r) => r.reason},
            ],
            report.stacks,
          )
        : renderTable(
            term,
            [
              {header: 'stack', value: (r) => r.stack},
              {header: 'repository', value: (r) => r.repository},
              {header: 'result', value: (r) => r.outcome, tone: (r) => outcomeTone[r.outcome]},
              {header: 'detail', value: (r) => r.error ?? r.reason},
            ],
            report.stacks,
          ),
    )
  } else if (repoIssues.length === 0) {
    lines.push(report.repositories.length === 0 ? 'no repository is watched (homeops swarm watch URL)' : 'no stacks')
  }
  for (const r of repoIssues) {
    const what = r.result === 'unreachable' ? 'unreachable, kept what is deployed' : 'not applied'
    lines.push(paint(term, 'bad', `✖ ${r.name} ${what}: ${r.error}`))
  }
  lines.push(...formatImages(term, report.images))
  if (report.dryRun) lines.push(paint(term, 'muted', 'dry run: nothing was changed'))
  return lines.join('\n')
}

export function formatImages(term: Terminal, images: ImageCleanup): string[] {
  const lines: string[] = []
  if (images.removed.length > 0) lines.push(paint(term, 'muted', `images removed: ${images.removed.join(', ')}`))
  for (const k of images.kept) lines.push(paint(term, 'muted', `image kept: ${k.reference} (${k.reason})`))
  return lines
}

const statusTone: Record<string, Tone> = {
  deployed: 'ok',
  failed: 'bad',
  deploying: 'warn',
  removed: 'muted',
  stopped: 'muted',
}

export function formatStatus(term: Terminal, status: SwarmStatus): string {
  const out: string[] = []
  out.push(paint(term, 'bold', 'Repositories'))
  out.push(
    status.repositories.length === 0
      ? '  none watched (homeops swarm watch URL)'
      : renderTable(
          term,
          [
            {header: 'name', value: (r) => r.name},
            {header: 'url', value: (r) => r.url},
            {header: 'branch', value: (r) => `${r.branch ?? '-'}${r.followsDefault ? ' (default)' : ''}`},
            {header: 'commit', value: (r) => r.lastCommit?.slice(0, 7) ?? '-'},
            {header: 'last run', value: (r) => r.lastRunAt ?? '-'},
            {
              header: 'result',
              value: (r) => r.lastResult ?? '-',
              tone: (r) => (r.lastResult === 'ok' ? 'ok' : r.lastResult ? 'bad' : 'muted'),
            },
          ],
          status.repositories,
        ),
  )
  for (const r of status.repositories) if (r.lastError) out.push(paint(term, 'bad', `  ${r.name}: ${r.lastError}`))
  out.push('', paint(term, 'bold', 'Stacks'))
  out.push(
    status.stacks.length === 0
      ? '  none'
      : renderTable(
          term,
          [
            {header: 'stack', value: (s) => s.name},
            {header: 'repository', value: (s) => s.repository ?? '-'},
            {
              header: 'status',
              value: (s) => (s.drift && s.drift.length > 0 ? `${s.status} (drifted)` : s.status),
              tone: (s) => (s.drift && s.drift.length > 0 ? 'warn' : (statusTone[s.status] ?? 'plain')),
            },
            {
              header: 'services',
              value: (s) => (s.services ? `${s.services.running}/${s.services.desired}` : '?'),
              tone: (s) => (!s.services ? 'muted' : s.services.running < s.services.desired ? 'warn' : 'plain'),
              align: 'right',
            },
            {header: 'hash', value: (s) => shortHash(s.hash)},
            {header: 'commit', value: (s) => s.deployedCommit?.slice(0, 7) ?? '-'},
            {header: 'deployed', value: (s) => s.deployedAt ?? '-'},
          ],
          status.stacks,
        ),
  )
  for (const s of status.stacks) if (s.lastError) out.push(paint(term, 'bad', `  ${s.name}: ${s.lastError}`))
  for (const s of status.stacks) {
    if (s.drift && s.drift.length > 0) out.push(paint(term, 'warn', `  ${s.name} drifted: ${describeDrift(s.drift)}`))
  }
  const placed = status.stacks.filter((s) => s.tasks && s.tasks.length > 0)
  if (placed.length > 0) {
    out.push('', paint(term, 'bold', 'Tasks'))
    out.push(
      renderTable(
        term,
        [
          {header: 'stack', value: (t) => t.stack},
          {header: 'task', value: (t) => t.task},
          {header: 'node', value: (t) => t.node ?? '-'},
          {header: 'state', value: (t) => t.state, tone: (t) => (t.state === 'running' ? 'ok' : 'warn')},
          {header: 'reason', value: (t) => t.reason ?? ''},
        ],
        placed.flatMap((s) => (s.tasks ?? []).map((t) => ({...t, stack: s.name}))),
      ),
    )
  }
  out.push('', paint(term, 'bold', 'Images'))
  out.push(
    status.images.length === 0
      ? '  none'
      : renderTable(
          term,
          [
            {header: 'image', value: (i) => i.reference},
            {header: 'refs', value: (i) => String(i.references), align: 'right'},
            {header: 'pulled by homeops', value: (i) => (i.pulledByHomeops ? 'yes' : 'no')},
            {header: 'stacks', value: (i) => i.stacks.join(', ') || '-'},
          ],
          status.images,
        ),
  )
  if (status.swarmError) out.push('', paint(term, 'warn', `! live service counts unavailable: ${status.swarmError}`))
  return out.join('\n')
}
