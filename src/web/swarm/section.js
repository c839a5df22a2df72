// @ts-check
// Swarm stacks section of the homeops web UI: watched repositories, managed stacks
// (status, services running/desired, last error), images, and a "Reconcile now" button.
// Plain DOM; `api` is the mode's client (`/swarm/...`), `context` the page's helpers.
import {badge, el, poll, replace, table, timeAgo, toast, confirmDialog} from '/web/shared/ui.js'

/** @typedef {import('/web/shared/ui.js').Json} Json @typedef {import('/web/shared/ui.js').SectionContext} SectionContext @typedef {import('/web/shared/ui.js').Api} Api */

const STATUS_KIND = /** @type {Record<string, string>} */ ({
  deployed: 'ok',
  failed: 'bad',
  deploying: 'warn',
  removed: 'info',
  stopped: 'info',
})

/** @param {unknown} text @param {number} [n] */
function short(text, n = 7) {
  return text
    ? String(text)
        .replace(/^sha256:/, '')
        .slice(0, n)
    : '–'
}

/** @param {Json} stack */
function services(stack) {
  if (!stack.services) return el('span', {class: 'muted', title: 'the Swarm did not answer'}, '?')
  const {running, desired} = stack.services
  const kind = desired === 0 ? 'info' : running >= desired ? 'ok' : running === 0 ? 'bad' : 'warn'
  return badge(`${running}/${desired}`, kind)
}

// Where each task runs (node names across the Swarm), and why one is not running.
/** @param {Json} stack */
function tasks(stack) {
  if (!stack.tasks) return el('span', {class: 'muted', title: 'the Swarm did not answer'}, '?')
  if (stack.tasks.length === 0) return '–'
  return el(
    'div',
    {class: 'small', 'data-testid': 'swarm-tasks'},
    ...stack.tasks.map((/** @type {Json} */ t) =>
      el(
        'div',
        {'data-node': t.node ?? ''},
        `${t.task} on ${t.node ?? 'no node'}: `,
        badge(t.state, t.state === 'running' ? 'ok' : 'warn'),
        t.reason ? el('span', {class: 'muted'}, ` ${t.reason}`) : null,
      ),
    ),
  )
}

/** @param {HTMLElement} element @param {Api} api @param {SectionContext} [context] */
export function mount(element, api, context = {}) {
  const confirm = context.confirm ?? confirmDialog
  const notify = context.toast ?? toast
  const summary = el('p', {class: 'muted small', 'data-testid': 'swarm-summary'}, 'Loading…')
  const button = el('button', {type: 'button', class: 'primary', 'data-testid': 'swarm-reconcile'}, 'Reconcile now')
  const error = el('p', {class: 'notice error', hidden: true, 'data-testid': 'swarm-error'})
  const repos = el('div', {'data-testid': 'swarm-repositories'})
  const stacks = el('div', {'data-testid': 'swarm-stacks'})
  const images = el('div', {'data-testid': 'swarm-images'})
  replace(
    element,
    el('div', {class: 'row', style: {justifyContent: 'space-between', alignItems: 'center'}}, summary, button),
    error,
    el('h3', null, 'Repositories'),
    repos,
    el('h3', null, 'Stacks'),
    stacks,
    el('h3', null, 'Images'),
    images,
  )

  /** @param {Json} status */
  function render(status) {
    const r = status.reconcile || {}
    const parts = []
    if (r.running) parts.push('reconciling now…')
    else if (r.lastFinishedAt)
      parts.push(
        `last reconcile ${new Date(r.lastFinishedAt).toLocaleString()}${r.lastExitCode ? ` (exit ${r.lastExitCode})` : ''}`,
      )
    if (r.nextAt) parts.push(`next at ${new Date(r.nextAt).toLocaleTimeString()}`)
    if (r.intervalSeconds) parts.push(`every ${r.intervalSeconds} s`)
    replace(summary, parts.join(' · ') || 'no reconcile yet')
    button.disabled = Boolean(r.running)
    const problems = [r.lastError, status.swarmError && `live service counts unavailable: ${status.swarmError}`].filter(
      Boolean,
    )
    error.hidden = problems.length === 0
    replace(error, problems.join(' — '))
    const failedStacks = (status.stacks || []).filter((/** @type {Json} */ x) => x.status === 'failed')
    context.attention?.([
      ...failedStacks.map((/** @type {Json} */ x) => ({
        text: `Stack ${x.name} failed${x.lastError ? `: ${x.lastError}` : ''}`,
        href: '#mode-swarm',
      })),
      ...(r.lastError ? [{text: `Swarm reconcile: ${r.lastError}`, href: '#mode-swarm'}] : []),
    ])

    replace(
      repos,
      table(
        [
          {key: 'name', label: 'Name'},
          {key: 'url', label: 'URL'},
          {key: 'branch', label: 'Branch', render: (x) => x.branch ?? '–'},
          {key: 'lastCommit', label: 'Commit', render: (x) => el('code', null, short(x.lastCommit))},
          {key: 'lastRunAt', label: 'Last run', render: (x) => timeAgo(x.lastRunAt)},
          {
            key: 'lastResult',
            label: 'Result',
            render: (x) =>
              x.lastResult
                ? el(
                    'span',
                    null,
                    badge(x.lastResult, x.lastResult === 'ok' ? 'ok' : 'bad'),
                    x.lastError ? el('div', {class: 'small muted'}, x.lastError) : null,
                  )
                : el('span', {class: 'muted'}, '–'),
          },
        ],
        status.repositories,
        {empty: 'No repository is watched (homeops swarm watch URL).'},
      ),
    )
    replace(
      stacks,
      table(
        [
          {key: 'name', label: 'Stack'},
          {key: 'repository', label: 'Repository', render: (x) => x.repository ?? '–'},
          {key: 'status', label: 'Status', render: (x) => badge(x.status, STATUS_KIND[x.status] ?? 'info')},
          {key: 'services', label: 'Services', align: 'num', render: services},
          {key: 'tasks', label: 'Tasks (node)', render: tasks},
          {key: 'hash', label: 'Hash', render: (x) => el('code', {title: x.hash ?? ''}, short(x.hash, 12))},
          {key: 'deployedCommit', label: 'Commit', render: (x) => el('code', null, short(x.deployedCommit))},
          {key: 'deployedAt', label: 'Deployed', render: (x) => timeAgo(x.deployedAt)},
          {
            key: 'lastError',
            label: 'Last error',
            render: (x) =>
              x.lastError ? el('span', {class: 'small', style: {color: 'var(--bad, #c0392b)'}}, x.lastError) : '',
          },
        ],
        status.stacks,
        {empty: 'No stack deployed yet.', rowClass: (x) => (x.status === 'failed' ? 'bad' : undefined)},
      ),
    )
    replace(
      images,
      table(
        [
          {key: 'reference', label: 'Image', render: (x) => el('code', null, x.reference)},
          {key: 'references', label: 'References', align: 'num'},
          {key: 'pulledByHomeops', label: 'Pulled by homeops', render: (x) => (x.pulledByHomeops ? 'yes' : 'no')},
          {key: 'stacks', label: 'Stacks', render: (x) => (x.stacks.length ? x.stacks.join(', ') : '–')},
        ],
        status.images,
        {empty: 'No image tracked.'},
      ),
    )
  }

  const refresh = async () => render(await api.get('/status'))
  const stop = poll(refresh, 10_000, (e) => {
    error.hidden = false
    replace(error, e.message)
  })

  button.addEventListener('click', async () => {
    const ok = await confirm(
      'Reconcile every watched repository now? Changed stacks are deployed, removed ones are removed.',
      {
        confirmLabel: 'Reconcile',
      },
    )
    if (!ok) return
    button.disabled = true
    replace(summary, 'reconciling now…')
    try {
      const result = await api.post('/reconcile')
      if (result && result.running) notify('Reconcile started; it is still running.', 'info')
      else {
        const failedStacks = (result?.stacks ?? []).filter((/** @type {Json} */ s) => s.outcome === 'failed')
        const failed = failedStacks.length
        const deployed = (result?.stacks ?? []).filter((/** @type {Json} */ s) => s.outcome === 'deployed').length
        const removed = (result?.stacks ?? []).filter((/** @type {Json} */ s) => s.outcome === 'removed').length
        const done = [deployed && `${deployed} deployed`, removed && `${removed} removed`].filter(Boolean).join(', ')
        notify(
          failed
            ? `Reconcile finished: ${failedStacks.map((/** @type {Json} */ s) => `${s.stack ?? s.name}${s.error || s.reason ? ` (${s.error || s.reason})` : ''}`).join(', ')} failed`
            : `Reconcile finished: ${done || 'nothing changed'}`,
          failed ? 'error' : 'ok',
        )
      }
    } catch (e) {
      notify(e instanceof Error ? e.message : String(e), 'error', 9000)
    } finally {
      await refresh().catch(() => {})
    }
  })

  return stop
}
