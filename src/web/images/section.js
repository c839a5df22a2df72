// @ts-check
// Image updates section of the homeops web UI: workloads with a pending version (current → newest
// allowed by their strategy, newest overall), every workload with its status and the reason in words,
// and the history of updates from every place (this page, Containers, apply links, the API, the CLI).
// Search, filter, sort and grouping by stack or compose project; rows are kept by key and updated in
// place. "Apply" asks for confirmation, shows the steps while it runs, then POSTs /images/update.
// `api` is the mode's client (`/images/...`): GET /status, /history, /activity; POST /update, /check.
import {badge, confirmDialog, el, keyedTable, poll, replace, timeAgo, toast} from '/web/shared/ui.js'

/**
 * @typedef {{type: 'version', tag: string} | {type: 'digest', tag: string, digest: string}} Update
 * @typedef {{workload: string, kind: string, image: string, currentTag: string | null, newestAllowed: string | null,
 *   newestOverall: string | null, mode: string | null, strategy: string | null, status: string, update: Update | null,
 *   error: string | null, note: string | null, checkedAt: string, appliedAt?: string, group?: string}} Result
 * @typedef {{running: boolean, lastRunAt: string | null, nextRunAt: string | null, lastError: string | null,
 *   results: Result[]}} Status
 * @typedef {{id?: number, at: string, workload: string, previousVersion: string | null, newVersion: string,
 *   by: string, result: string, error: string | null}} HistoryRow
 * @typedef {{id: number, action: string, target: string, state: string, step?: string}} ActivityEntry
 * @typedef {{confirm?: typeof confirmDialog, toast?: typeof toast,
 *   attention?: (items: {text: string, href: string}[]) => void}} SectionContext
 */

const STATUS_KIND = /** @type {Record<string, 'ok' | 'warn' | 'bad' | 'info'>} */ ({
  update_available: 'warn',
  up_to_date: 'ok',
  error: 'bad',
  local_image: 'info',
  disabled: 'info',
  unknown: 'info',
})
const STATUS_RANK = /** @type {Record<string, number>} */ ({error: 0, update_available: 1, unknown: 2, local_image: 3})
const RESULT_KIND = /** @type {Record<string, 'ok' | 'warn' | 'bad' | 'info'>} */ ({
  applied: 'ok',
  failed: 'bad',
  rolled_back: 'bad',
  refused: 'warn',
})
const BY_TEXT = /** @type {Record<string, string>} */ ({
  auto: 'automatically',
  manual: 'by hand (page, API or CLI)',
  link: 'apply link',
})
const POLL_MS = 30_000
const STEP_POLL_MS = 1000

/** @param {Result} row */
function statusCell(row) {
  const text = String(row.status || 'unknown').replace(/_/g, ' ')
  const node = badge(text, STATUS_KIND[row.status] ?? 'info')
  // Why, in words visible on touch too: the error, else why there is no candidate (strategy, variant, local image).
  const why = row.error || row.note
  return why ? el('span', null, node, el('span', {class: 'reason small'}, why)) : node
}

/** @param {Result} row */
function target(row) {
  if (row.update && row.update.type === 'digest') return `${row.update.tag} (new build)`
  return row.newestAllowed || (row.update && row.update.tag) || '–'
}

/** An image reference that breaks after `/`, `:` and `@`, never inside a tag. @param {string} image */
function imageText(image) {
  const parts = (image || '–').split(/(?<=[/:@])/)
  return el(
    'code',
    {class: 'image-ref'},
    parts.flatMap((p, i) => (i ? [el('wbr'), p] : [p])),
  )
}

/**
 * @param {HTMLElement} element
 * @param {ReturnType<typeof import('/web/shared/ui.js').createApi>} api
 * @param {SectionContext} [context]
 */
export function mount(element, api, context = {}) {
  const ask = context.confirm || confirmDialog
  const say = context.toast || toast
  /** @type {Set<string>} workloads with an apply in flight from this page */
  const inFlight = new Set()
  /** @type {Map<string, string>} the step each in-flight apply is at */
  const steps = new Map()
  /** @type {Status | undefined} */
  let status
  /** @type {HistoryRow[]} */
  let past = []

  const summary = el('p', {class: 'muted small', 'data-testid': 'images-summary', role: 'status'}, 'Loading…')
  const error = el('p', {class: 'notice error', hidden: true, 'data-testid': 'images-error'})
  const checkButton = /** @type {HTMLButtonElement} */ (
    el('button', {type: 'button', 'data-testid': 'images-check'}, 'Check now')
  )
  const search = /** @type {HTMLInputElement} */ (
    el('input', {
      type: 'search',
      name: 'images-search',
      placeholder: 'Search workload or image',
      'aria-label': 'Search workloads',
    })
  )
  const filter = /** @type {HTMLSelectElement} */ (
    el(
      'select',
      {name: 'images-filter', 'aria-label': 'Show workloads'},
      el('option', {value: 'all'}, 'All workloads'),
      el('option', {value: 'updates'}, 'Updates available'),
      el('option', {value: 'errors'}, 'Check failed'),
      el('option', {value: 'current'}, 'Up to date'),
      el('option', {value: 'other'}, 'Local, disabled or unknown'),
      el('option', {value: 'services'}, 'Swarm services'),
      el('option', {value: 'containers'}, 'Containers'),
    )
  )
  const sort = /** @type {HTMLSelectElement} */ (
    el(
      'select',
      {name: 'images-sort', 'aria-label': 'Sort workloads by'},
      el('option', {value: 'severity'}, 'Problems first'),
      el('option', {value: 'name'}, 'Name'),
      el('option', {value: 'image'}, 'Image'),
    )
  )
  const groupBox = /** @type {HTMLInputElement} */ (
    el('input', {type: 'checkbox', name: 'images-group', checked: true})
  )
  const allBox = /** @type {HTMLDetailsElement} */ (el('details', {'data-testid': 'images-all'}))

  const pending = keyedTable(
    [
      {key: 'workload', label: 'Workload', className: 'col-name', render: (r) => workloadCell(r)},
      {key: 'image', label: 'Image', className: 'col-image', render: (r) => imageText(r.image)},
      {
        key: 'currentTag',
        label: 'Current',
        className: 'secondary',
        render: (r) => el('code', null, r.currentTag ?? '–'),
      },
      {key: 'target', label: 'New', render: (r) => el('code', {class: 'new-version'}, target(r))},
      {key: 'newestOverall', label: 'Newest overall', className: 'secondary', render: (r) => r.newestOverall ?? '–'},
      {key: 'mode', label: 'Mode', className: 'secondary', render: (r) => `${r.mode ?? '–'} / ${r.strategy ?? '–'}`},
      {key: 'action', label: 'Action', className: 'col-action', render: (r) => applyCell(r)},
    ],
    {key: (r) => r.workload, className: 'images-pending'},
  )
  const all = keyedTable(
    [
      {key: 'workload', label: 'Workload', className: 'col-name', render: (r) => workloadCell(r)},
      {
        key: 'kind',
        label: 'Kind',
        className: 'secondary',
        render: (r) => (r.kind === 'service' ? 'Swarm service' : 'container'),
      },
      {key: 'image', label: 'Image', className: 'col-image', render: (r) => imageText(r.image)},
      {key: 'currentTag', label: 'Current', render: (r) => el('code', null, r.currentTag ?? '–')},
      {key: 'newestAllowed', label: 'Allowed', className: 'secondary', render: (r) => r.newestAllowed ?? '–'},
      {key: 'newestOverall', label: 'Newest', className: 'secondary', render: (r) => r.newestOverall ?? '–'},
      {key: 'mode', label: 'Mode', className: 'secondary', render: (r) => `${r.mode ?? '–'} / ${r.strategy ?? '–'}`},
      {key: 'status', label: 'Status', className: 'col-status', render: statusCell},
    ],
    {key: (r) => r.workload, className: 'images-all', rowClass: (r) => (r.status === 'error' ? 'bad' : undefined)},
  )
  const history = keyedTable(
    [
      {key: 'at', label: 'When', render: (u) => timeAgo(u.at)},
      {key: 'workload', label: 'Workload', className: 'col-name', render: (u) => el('strong', null, u.workload)},
      {
        key: 'change',
        label: 'Change',
        render: (u) => el('code', null, `${u.previousVersion ?? '?'} → ${u.newVersion}`),
      },
      {key: 'by', label: 'By', className: 'secondary', render: (u) => el('span', {title: BY_TEXT[u.by] ?? u.by}, u.by)},
      {
        key: 'result',
        label: 'Result',
        render: (u) => {
          const node = badge(String(u.result).replace(/_/g, ' '), RESULT_KIND[u.result] ?? 'info')
          return u.error ? el('span', null, node, el('span', {class: 'reason small'}, u.error)) : node
        },
      },
    ],
    {key: (u) => String(u.id ?? `${u.at}|${u.workload}`), className: 'images-history'},
  )

  replace(
    element,
    el('div', {class: 'toolbar'}, summary, checkButton),
    error,
    el(
      'div',
      {class: 'toolbar filters'},
      search,
      filter,
      sort,
      el('label', {class: 'check'}, groupBox, 'Group by stack'),
    ),
    el('h3', null, 'Pending updates'),
    el('div', {'data-testid': 'images-pending'}, pending.element),
    replace(allBox, el('summary', null, 'All workloads'), el('div', {'data-testid': 'images-workloads'}, all.element)),
    el('h3', null, 'History'),
    el('p', {class: 'muted small'}, 'Every image update, from this page, Containers, apply links, the API or the CLI.'),
    el('div', {'data-testid': 'images-history'}, history.element),
  )

  /** @param {Result} r */
  function workloadCell(r) {
    return el('strong', {class: 'workload', title: r.kind === 'service' ? 'Swarm service' : 'container'}, r.workload)
  }

  /** @param {Result} r */
  function applyCell(r) {
    const busy = inFlight.has(r.workload)
    if (r.mode === 'DISABLED')
      return el('span', {class: 'muted small'}, 'updates disabled (homeops.images.mode=DISABLED)')
    const button = el(
      'button',
      {
        type: 'button',
        class: 'primary',
        'data-workload': r.workload,
        'data-focus-key': `apply:${r.workload}`,
        'aria-label': `Apply ${target(r)} to ${r.workload}`,
        disabled: busy,
      },
      busy ? 'Updating…' : 'Apply',
    )
    button.addEventListener('click', () => void apply(r))
    const step = steps.get(r.workload)
    return el(
      'span',
      {class: 'action-cell'},
      button,
      busy ? el('span', {class: 'progress small', role: 'status'}, step ? `${step}…` : 'starting…') : null,
    )
  }

  /** @param {Result} r */
  function matches(r) {
    const q = search.value.trim().toLowerCase()
    if (q && !`${r.workload} ${r.image} ${r.group ?? ''} ${r.currentTag ?? ''}`.toLowerCase().includes(q)) return false
    switch (filter.value) {
      case 'updates':
        return r.status === 'update_available'
      case 'errors':
        return r.status === 'error'
      case 'current':
        return r.status === 'up_to_date'
      case 'other':
        return !['update_available', 'error', 'up_to_date'].includes(r.status)
      case 'services':
        return r.kind === 'service'
      case 'containers':
        return r.kind === 'container'
      default:
        return true
    }
  }

  /** @param {Result} a @param {Result} b */
  function compare(a, b) {
    if (groupBox.checked && (a.group ?? '') !== (b.group ?? ''))
      return (a.group || '\uffff').localeCompare(b.group || '\uffff')
    switch (sort.value) {
      case 'name':
        return a.workload.localeCompare(b.workload)
      case 'image':
        return a.image.localeCompare(b.image) || a.workload.localeCompare(b.workload)
      default:
        return (STATUS_RANK[a.status] ?? 9) - (STATUS_RANK[b.status] ?? 9) || a.workload.localeCompare(b.workload)
    }
  }

  function render() {
    if (!status) return
    const results = status.results || []
    const updates = results.filter((r) => r.status === 'update_available')
    const errors = results.filter((r) => r.status === 'error')
    context.attention?.([
      ...(status.lastError
        ? [{text: `Image updates: last check failed: ${status.lastError}`, href: '#mode-images'}]
        : []),
      ...(errors.length
        ? [{text: `Image updates: ${errors.length} of ${results.length} checks failed`, href: '#mode-images'}]
        : []),
    ])
    const parts = [`${results.length} workloads`, `${updates.length} with updates`]
    if (errors.length) parts.push(`${errors.length} could not be checked`)
    parts.push(status.lastRunAt ? `checked ${new Date(status.lastRunAt).toLocaleString()}` : 'not checked yet')
    if (status.nextRunAt) parts.push(`next ${new Date(status.nextRunAt).toLocaleString()}`)
    if (status.running) parts.push('checking…')
    const text = parts.join(' · ')
    if (summary.textContent !== text) summary.textContent = text
    error.hidden = !status.lastError
    if (status.lastError) replace(error, `Last check failed: ${status.lastError}`)

    const group = groupBox.checked ? (/** @type {Result} */ r) => r.group ?? '' : undefined
    const filtered = results.filter(matches).sort(compare)
    const narrowed = search.value.trim() !== '' || filter.value !== 'all'
    pending.update(
      filtered.filter((r) => r.status === 'update_available'),
      {
        group,
        extra: (r) => `${inFlight.has(r.workload)}|${steps.get(r.workload) ?? ''}`,
        empty: status.lastError
          ? 'Unknown: the last check failed (see above).'
          : narrowed && updates.length
            ? 'No pending update matches the search or filter.'
            : errors.length
              ? `No pending update among the workloads checked; ${errors.length} could not be checked (see All workloads).`
              : results.length
                ? 'Everything is up to date.'
                : 'Not checked yet.',
      },
    )
    all.update(filtered, {group, empty: results.length ? 'No workload matches.' : 'No workloads checked yet.'})
    // A search or filter that finds nothing pending shows the matching workloads at once.
    if (narrowed && !allBox.open && filtered.length) allBox.open = true
    history.update(past, {empty: 'No update applied yet.'})
  }

  async function refresh() {
    const [s, h] = await Promise.all([api.get('/status'), api.get('/history?limit=50')])
    status = s
    past = h.updates || []
    render()
  }

  /** @param {Result} row */
  async function apply(row) {
    const to = target(row)
    const question = `Update ${row.workload} from ${row.currentTag ?? '?'} to ${to}? ${
      row.kind === 'service'
        ? 'Swarm rolls the service back if the new version fails. If a GitOps repository (homeops swarm) deploys this service, the new tag is written there (or the update is refused), so the next reconcile keeps it.'
        : 'The container is recreated; the old one comes back if the new one does not start.'
    }`
    if (!(await ask(question, {confirmLabel: `Update ${row.workload}`}))) return
    inFlight.add(row.workload)
    render()
    const ticker = setInterval(async () => {
      try {
        /** @type {{entries: ActivityEntry[]}} */
        const data = await api.get('/activity?limit=10')
        const mine = data.entries.find(
          (e) => e.action === 'update' && e.state === 'running' && e.target.split(' ')[0] === row.workload,
        )
        if (mine?.step && steps.get(row.workload) !== mine.step) {
          steps.set(row.workload, mine.step)
          render()
        }
      } catch {
        // the next tick tries again
      }
    }, STEP_POLL_MS)
    try {
      const body = /** @type {{workload: string, to?: string}} */ ({workload: row.workload})
      if (row.update && row.update.type === 'version') body.to = row.update.tag
      /** @type {{action: string, message?: string}} */
      const result = await api.post('/update', body)
      say(
        result.message ||
          (result.action === 'up_to_date' ? `${row.workload}: nothing to do` : `${row.workload} now runs ${to}`),
        'ok',
      )
    } catch (e) {
      const data = e && typeof e === 'object' && 'body' in e ? /** @type {{message?: string}} */ (e.body) : undefined
      say(`Update of ${row.workload} failed: ${data?.message || (e instanceof Error ? e.message : String(e))}`, 'error')
    } finally {
      clearInterval(ticker)
      inFlight.delete(row.workload)
      steps.delete(row.workload)
      await refresh().catch(() => {})
    }
  }

  for (const control of [search, filter, sort, groupBox]) control.addEventListener('input', render)

  checkButton.addEventListener('click', async () => {
    checkButton.disabled = true
    checkButton.textContent = 'Checking…'
    try {
      /** @type {{ok: boolean, lastError: string | null}} */
      const result = await api.post('/check', {})
      await refresh()
      const results = status?.results || []
      const failed = results.filter((r) => r.status === 'error')
      const found = results.filter((r) => r.status === 'update_available').length
      if (!result.ok) say(`Check failed: ${result.lastError}`, 'error')
      else if (failed.length)
        say(
          `Checked ${results.length}: ${failed.length} could not be checked (${failed
            .slice(0, 5)
            .map((r) => r.workload)
            .join(', ')}${failed.length > 5 ? ', …' : ''}), ${found} update(s) found`,
          'error',
        )
      else say(`Checked ${results.length}: ${found} update(s) available`, 'ok')
    } catch (e) {
      say(e instanceof Error ? e.message : String(e), 'error')
    } finally {
      checkButton.disabled = false
      checkButton.textContent = 'Check now'
    }
  })

  return poll(refresh, POLL_MS, (/** @type {unknown} */ e) => {
    error.hidden = false
    replace(error, e instanceof Error ? e.message : String(e))
  })
}
