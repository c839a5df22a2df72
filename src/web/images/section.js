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
  // Why: the error, else why there is no candidate (strategy, variant, local image).
  if (row.error || row.note) node.title = row.error || row.note
  return node
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
        ? 'Swarm rolls the service back if the new version fails.'
        : 'The container is recreated; the old one comes back if the new one does not start.'
    }`
    if (!(await ask(question, {confirmLabel: 'Update'}))) return
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
      if (e && e.status === 401 && context.requireKey) context.requireKey()
      toast(e && e.message ? e.message : String(e), 'error', 9000)
    } finally {
      button.disabled = false
      button.textContent = 'Apply'
    }
  }

  function renderStatus(status) {
    const results = status.results || []
    const updates = results.filter((r) => r.status === 'update_available')
    const errors = results.filter((r) => r.status === 'error')
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
              const button = el('button', {type: 'button', class: 'primary', 'data-workload': r.workload}, 'Apply')
              button.addEventListener('click', () => void apply(r, button))
              return button
            },
          },
        ],
        updates,
        {empty: 'Everything is up to date.'},
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
              if (u.error) node.title = u.error
              return node
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
    renderStatus(status)
    renderHistory(past)
  }

  checkButton.addEventListener('click', async () => {
    checkButton.disabled = true
    checkButton.textContent = 'Checking…'
    try {
      const result = await api.post('/check', {})
      toast(result.ok ? 'Check done' : `Check failed: ${result.lastError}`, result.ok ? 'ok' : 'error')
      await refresh()
    } catch (e) {
      if (e && e.status === 401 && context.requireKey) context.requireKey()
      toast(e && e.message ? e.message : String(e), 'error', 9000)
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
