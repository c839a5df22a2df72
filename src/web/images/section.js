// @ts-check
// Image updates section of the homeops web UI: workloads with a pending version (current → newest
// allowed by their strategy, newest overall), the last check, and the history of applied updates.
// "Apply" asks for confirmation, then POSTs /images/update (needs serve.apiKey).
// Plain DOM; `api` is the mode's client (`/images/...`): GET /status, GET /history, POST /update, POST /check.
import {badge, confirmDialog, el, poll, replace, table, timeAgo, toast} from '/web/shared/ui.js'

const STATUS_KIND = {
  update_available: 'warn',
  up_to_date: 'ok',
  error: 'bad',
  local_image: 'info',
  disabled: 'info',
  unknown: 'info',
}
const RESULT_KIND = {applied: 'ok', failed: 'bad', rolled_back: 'bad', refused: 'warn'}

function statusBadge(row) {
  const text = String(row.status || 'unknown').replace(/_/g, ' ')
  const node = badge(text, STATUS_KIND[row.status] ?? 'info')
  // Why, in words visible on touch too: the error, else why there is no candidate (strategy, variant, local image).
  const why = row.error || row.note
  return why ? el('span', null, node, el('span', {class: 'reason small'}, ` ${why}`)) : node
}

function target(row) {
  if (row.update && row.update.type === 'digest') return `${row.update.tag} (new build)`
  return row.newestAllowed || (row.update && row.update.tag) || '–'
}

export function mount(element, api, context = {}) {
  const ask = context.confirm || confirmDialog
  const summary = el('p', {class: 'muted small', 'data-testid': 'images-summary'}, 'Loading…')
  const error = el('p', {class: 'notice error', hidden: true, 'data-testid': 'images-error'})
  const checkButton = el('button', {type: 'button', 'data-testid': 'images-check'}, 'Check now')
  const pending = el('div', {'data-testid': 'images-pending'})
  const all = el('div', {'data-testid': 'images-workloads'})
  const history = el('div', {'data-testid': 'images-history'})
  replace(
    element,
    el('div', {class: 'toolbar'}, summary, checkButton),
    error,
    el('h3', null, 'Pending updates'),
    pending,
    el('details', null, el('summary', null, 'All workloads'), all),
    el('h3', null, 'History'),
    history,
  )

  async function apply(row, button) {
    const to = target(row)
    const question = `Update ${row.workload} from ${row.currentTag ?? '?'} to ${to}? ${
      row.kind === 'service'
        ? 'Swarm rolls the service back if the new version fails. If a GitOps repository (homeops swarm) deploys this service, change the tag there too, or the next reconcile puts the old one back.'
        : 'The container is recreated; the old one comes back if the new one does not start.'
    }`
    if (!(await ask(question, {confirmLabel: `Update ${row.workload}`}))) return
    button.disabled = true
    button.textContent = 'Updating…'
    try {
      const body = {workload: row.workload}
      if (row.update && row.update.type === 'version') body.to = row.update.tag
      const result = await api.post('/update', body)
      toast(
        result.action === 'up_to_date' ? `${row.workload} is already up to date` : `${row.workload} now runs ${to}`,
        'ok',
      )
      await refresh()
    } catch (e) {
      toast(`Update of ${row.workload} failed: ${e && e.message ? e.message : String(e)}`, 'error')
    } finally {
      button.disabled = false
      button.textContent = 'Apply'
    }
  }

  let lastSignature = ''
  function renderStatus(status, past) {
    const results = status.results || []
    // An update applied since the last check is no longer pending (the next check confirms it).
    const checkedAt = status.lastRunAt ? Date.parse(status.lastRunAt) : 0
    const applied = new Set(
      (past.updates || []).filter((u) => u.result === 'applied' && Date.parse(u.at) > checkedAt).map((u) => u.workload),
    )
    const updates = results.filter((r) => r.status === 'update_available' && !applied.has(r.workload))
    const errors = results.filter((r) => r.status === 'error')
    context.attention?.([
      ...(status.lastError
        ? [{text: `Image updates: last check failed: ${status.lastError}`, href: '#mode-images'}]
        : []),
      ...(errors.length
        ? [{text: `Image updates: ${errors.length} of ${results.length} checks failed`, href: '#mode-images'}]
        : []),
    ])
    const signature = JSON.stringify([status, past, [...applied]])
    if (signature === lastSignature) return
    lastSignature = signature
    const parts = [`${results.length} workloads`, `${updates.length} with updates`]
    if (errors.length) parts.push(`${errors.length} errors`)
    parts.push(status.lastRunAt ? `checked ${new Date(status.lastRunAt).toLocaleString()}` : 'not checked yet')
    if (status.nextRunAt) parts.push(`next ${new Date(status.nextRunAt).toLocaleString()}`)
    if (status.running) parts.push('checking…')
    replace(summary, parts.join(' · '))
    error.hidden = !status.lastError
    if (status.lastError) replace(error, `Last check failed: ${status.lastError}`)

    replace(
      pending,
      table(
        [
          {key: 'workload', label: 'Workload', render: (r) => el('span', {title: r.kind}, r.workload)},
          {key: 'image', label: 'Image', render: (r) => el('code', null, r.image)},
          {key: 'currentTag', label: 'Current', render: (r) => el('code', null, r.currentTag ?? '–')},
          {key: 'target', label: 'New', render: (r) => el('code', null, target(r))},
          {key: 'newestOverall', label: 'Newest overall', render: (r) => r.newestOverall ?? '–'},
          {key: 'mode', label: 'Mode', render: (r) => `${r.mode ?? '–'} / ${r.strategy ?? '–'}`},
          {
            key: 'action',
            label: '',
            render: (r) => {
              const button = el(
                'button',
                {
                  type: 'button',
                  class: 'primary',
                  'data-workload': r.workload,
                  'aria-label': `Apply ${target(r)} to ${r.workload}`,
                },
                'Apply',
              )
              button.addEventListener('click', () => void apply(r, button))
              return button
            },
          },
        ],
        updates,
        {
          empty: status.lastError
            ? 'Unknown: the last check failed (see above).'
            : errors.length
              ? `No pending update among the workloads checked; ${errors.length} could not be checked (see All workloads).`
              : results.length
                ? 'Everything is up to date.'
                : 'Not checked yet.',
        },
      ),
    )
    replace(
      all,
      table(
        [
          {key: 'workload', label: 'Workload'},
          {key: 'kind', label: 'Kind'},
          {key: 'image', label: 'Image', render: (r) => el('code', null, r.image)},
          {key: 'currentTag', label: 'Current'},
          {key: 'newestAllowed', label: 'Allowed', render: (r) => r.newestAllowed ?? '–'},
          {key: 'newestOverall', label: 'Newest', render: (r) => r.newestOverall ?? '–'},
          {key: 'mode', label: 'Mode', render: (r) => `${r.mode ?? '–'} / ${r.strategy ?? '–'}`},
          {key: 'status', label: 'Status', render: statusBadge},
        ],
        results,
        {empty: 'No workloads checked yet.', rowClass: (r) => (r.status === 'error' ? 'bad' : undefined)},
      ),
    )
  }

  function renderHistory(data) {
    replace(
      history,
      table(
        [
          {key: 'at', label: 'When', render: (u) => timeAgo(u.at)},
          {key: 'workload', label: 'Workload'},
          {key: 'change', label: 'Change', render: (u) => `${u.previousVersion ?? '?'} → ${u.newVersion}`},
          {key: 'by', label: 'By'},
          {
            key: 'result',
            label: 'Result',
            render: (u) => {
              const node = badge(String(u.result).replace(/_/g, ' '), RESULT_KIND[u.result] ?? 'info')
              return u.error ? el('span', null, node, el('span', {class: 'reason small'}, ` ${u.error}`)) : node
            },
          },
        ],
        data.updates || [],
        {empty: 'No update applied yet.'},
      ),
    )
  }

  async function refresh() {
    const [status, past] = await Promise.all([api.get('/status'), api.get('/history?limit=50')])
    renderStatus(status, past)
    renderHistory(past)
  }

  checkButton.addEventListener('click', async () => {
    checkButton.disabled = true
    checkButton.textContent = 'Checking…'
    try {
      const result = await api.post('/check', {})
      const status = await api.get('/status')
      const results = status.results || []
      const failed = results.filter((r) => r.status === 'error')
      const found = results.filter((r) => r.status === 'update_available').length
      if (!result.ok) toast(`Check failed: ${result.lastError}`, 'error')
      else if (failed.length)
        toast(
          `Checked ${results.length}: ${failed.length} failed (${failed
            .slice(0, 5)
            .map((r) => r.workload)
            .join(', ')}${failed.length > 5 ? ', …' : ''}), ${found} update(s) found`,
          'error',
        )
      else toast(`Checked ${results.length}: ${found} update(s) available`, 'ok')
      await refresh()
    } catch (e) {
      toast(e && e.message ? e.message : String(e), 'error')
    } finally {
      checkButton.disabled = false
      checkButton.textContent = 'Check now'
    }
  })

  return poll(refresh, 30_000, (e) => {
    error.hidden = false
    replace(error, e.message)
  })
}
