// @ts-check
// Containers section of the homeops web UI. Rows are keyed by container id and updated in place
// (focus, typed text, open details and in-flight buttons survive each refresh); health, reasons and
// hints come from the server (`GET ui/containers`), so do CPU/memory history on one shared scale and
// the shared activity history (`GET ui/activity`). Used by `homeops serve` (under /monitor) and by the
// page of `homeops monitor serve`.
import {
  ApiError,
  badge,
  confirmDialog,
  createApi,
  el,
  formatBytes,
  formatPercent,
  placeRows,
  poll,
  replace,
  sparkline,
  toast,
} from '/web/shared/ui.js'

/** Where the monitor's API key is kept in the browser (only when auth is on). */
export const KEY_STORAGE = 'homeops-monitor-api-key'
const POLL_MS = 5000
const STEP_POLL_MS = 1000

/**
 * @typedef {{id: string, name: string, state: string, status: string, image: string, group: string,
 *   kind: 'container'|'swarm-task'|'old-copy', level: 'ok'|'warn'|'bad'|'info', badge: string, reason: string,
 *   hint?: string, restart_count: number, updatable: boolean, not_updatable_reason?: string,
 *   update: string|null, update_reason?: string, cpu: number|null, mem_usage: number|null, mem_limit: number|null,
 *   net_rx: number|null, net_tx: number|null, history: {cpu: (number|null)[], mem: (number|null)[]}}} Row
 * @typedef {{id: number, action: string, target: string, by: string, started: string, finished?: string,
 *   state: 'running'|'ok'|'failed'|'skipped', step?: string, steps: string[], message?: string}} Activity
 * @typedef {{tr: HTMLTableRowElement, details: HTMLTableRowElement, cells: Record<string, HTMLElement>,
 *   button: HTMLButtonElement, toggle: HTMLButtonElement, row: Row, sig: string}} RowView
 */

const UPDATE_KIND = /** @type {Record<string, string>} */ ({
  up_to_date: 'ok',
  update_available: 'warn',
  registry_error: 'bad',
  unknown_image: 'info',
  unknown_local_digest: 'info',
})
const UPDATE_TEXT = /** @type {Record<string, string>} */ ({
  up_to_date: 'up to date',
  update_available: 'update available',
  registry_error: 'registry error',
  unknown_image: 'no registry image',
  unknown_local_digest: 'local image',
})
const SEVERITY = /** @type {Record<string, number>} */ ({bad: 0, warn: 1, info: 2, ok: 3})

function readKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) || undefined
  } catch {
    return undefined
  }
}

/** @param {string|undefined} key */
function storeKey(key) {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key)
    else localStorage.removeItem(KEY_STORAGE)
  } catch {
    // storage disabled: the key lives until the page is closed
  }
}

function ensureStyles() {
  if (document.querySelector('link[data-monitor-css]')) return
  document.head.appendChild(el('link', {rel: 'stylesheet', href: '/web/monitor/monitor.css', 'data-monitor-css': ''}))
}

/** An image reference that may break after `/`, `:` and `@`, never inside a tag. @param {string} image */
function imageText(image) {
  const short = (image || '–').replace(/@sha256:[0-9a-f]{64}$/, '@sha256:…')
  const parts = short.split(/(?<=[/:@])/)
  return el(
    'span',
    {class: 'monitor-image', title: image || ''},
    parts.flatMap((p, i) => (i ? [el('wbr'), p] : [p])),
  )
}

/** Sets a node's text only when it changed (no layout work, no lost selection). @param {Node} node @param {string} text */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text
}

const KIND_GROUPS = [
  'Running containers',
  'Paused containers',
  'Stopped containers',
  'Swarm tasks',
  'Old Swarm tasks',
  'Copies kept aside by an update',
]

/** The kind-and-state group of a row: containers, paused, stopped, Swarm tasks, old tasks, aside copies. @param {Row} r */
function kindGroup(r) {
  if (r.kind === 'old-copy') return KIND_GROUPS[5]
  if (r.kind === 'swarm-task') return r.state === 'running' ? KIND_GROUPS[3] : KIND_GROUPS[4]
  if (r.state === 'paused') return KIND_GROUPS[1]
  return r.state === 'running' || r.state === 'restarting' ? KIND_GROUPS[0] : KIND_GROUPS[2]
}

/** @param {Row} r */
function kindRank(r) {
  return r.kind === 'container' ? 0 : r.kind === 'swarm-task' && r.state === 'running' ? 1 : 2
}

/** Needs a human? @param {Row} r */
function needsAttention(r) {
  return r.kind === 'container' && (r.level === 'bad' || r.level === 'warn' || r.update === 'registry_error')
}

/**
 * @param {HTMLElement} element
 * @param {ReturnType<typeof createApi>} api
 * @param {{attention?: (items: {text: string, href: string}[]) => void, requireKey?: () => Promise<boolean>}} [context]
 */
export async function mount(element, api, context = {}) {
  ensureStyles()
  const base = api && typeof api.base === 'string' ? api.base : ''
  let key = readKey()
  let client = key ? createApi(base, () => key) : api
  /** @type {Map<string, RowView>} */
  const views = new Map()
  /** @type {Set<string>} names with an update in flight from this page */
  const inFlight = new Set()
  /** @type {Row[]} */
  let rows = []
  let loaded = false

  const summary = el('p', {class: 'summary', role: 'status'}, 'Loading…')
  const search = el('input', {
    type: 'search',
    name: 'container-search',
    placeholder: 'Search name or image',
    'aria-label': 'Search containers',
  })
  const filter = el(
    'select',
    {name: 'container-filter', 'aria-label': 'Show'},
    el('option', {value: 'all'}, 'All'),
    el('option', {value: 'attention'}, 'Needs attention'),
    el('option', {value: 'running'}, 'Running'),
    el('option', {value: 'stopped'}, 'Not running'),
    el('option', {value: 'updates'}, 'Updates available'),
    el('option', {value: 'paused'}, 'Paused'),
    el('option', {value: 'tasks'}, 'Swarm tasks'),
    el('option', {value: 'old-tasks'}, 'Old Swarm tasks'),
  )
  const sort = el(
    'select',
    {name: 'container-sort', 'aria-label': 'Sort by'},
    el('option', {value: 'severity'}, 'Problems first'),
    el('option', {value: 'name'}, 'Name'),
    el('option', {value: 'cpu'}, 'CPU'),
    el('option', {value: 'mem'}, 'Memory'),
  )
  const groupBy = /** @type {HTMLSelectElement} */ (
    el(
      'select',
      {name: 'container-group', 'aria-label': 'Group by'},
      el('option', {value: 'stack'}, 'Group by stack'),
      el('option', {value: 'kind'}, 'Group by kind and state'),
      el('option', {value: 'none'}, 'No groups'),
    )
  )
  const refreshButton = el('button', {type: 'button'}, 'Refresh')
  const checkButton = el(
    'button',
    {type: 'button', title: 'Ask the registries again (at most once a minute per image)'},
    'Check updates',
  )
  const pruneButton = el('button', {type: 'button', class: 'danger', 'data-action': 'prune'}, 'Prune images')
  const settingsButton = el('button', {type: 'button', 'data-action': 'settings'}, 'Settings')
  const notice = el('div', {class: 'monitor-notice', 'aria-live': 'polite'})
  const cpuHead = el('th', {scope: 'col'}, 'CPU')
  const memHead = el('th', {scope: 'col'}, 'Memory')
  const tbody = el('tbody')
  const tableEl = el(
    'table',
    {class: 'data monitor-rows'},
    el(
      'thead',
      null,
      el(
        'tr',
        null,
        el('th', {scope: 'col'}, 'Name'),
        el('th', {scope: 'col'}, 'Health'),
        el('th', {scope: 'col', class: 'col-image'}, 'Image'),
        el('th', {scope: 'col'}, 'Update'),
        cpuHead,
        memHead,
        el('th', {scope: 'col'}, 'Actions'),
      ),
    ),
    tbody,
  )
  const empty = el('p', {class: 'muted', hidden: true}, 'No container matches.')
  const activityList = el('ol', {class: 'activity', 'aria-label': 'Activity'})
  replace(
    element,
    summary,
    el(
      'div',
      {class: 'monitor-toolbar'},
      search,
      filter,
      sort,
      groupBy,
      refreshButton,
      checkButton,
      pruneButton,
      settingsButton,
    ),
    notice,
    el('div', {class: 'table-wrap'}, tableEl),
    empty,
    el(
      'details',
      {class: 'activity-box', open: true},
      el('summary', null, 'Activity (every action, whoever started it)'),
      activityList,
    ),
  )

  /** @param {string|undefined} next */
  function useKey(next) {
    key = next || undefined
    storeKey(key)
    client = key ? createApi(base, () => key) : api
  }

  /** Asks for the monitor's key in a dialog; resolves true when one was entered. @param {string} message */
  function keyDialog(message) {
    return new Promise((resolve) => {
      const input = el('input', {
        type: 'password',
        name: 'monitor-api-key',
        autocomplete: 'current-password',
        'aria-label': 'Monitor API key',
      })
      const cancel = el('button', {type: 'button'}, 'Cancel')
      const form = el(
        'form',
        {method: 'dialog'},
        el('h3', null, 'API key'),
        el('p', null, message),
        input,
        el('div', {class: 'actions'}, cancel, el('button', {type: 'submit', class: 'primary'}, 'Use key')),
      )
      const dialog = /** @type {HTMLDialogElement} */ (el('dialog', {class: 'confirm', 'aria-label': 'API key'}, form))
      /** @param {boolean} ok */
      const done = (ok) => {
        if (dialog.open) dialog.close()
        dialog.remove()
        resolve(ok)
      }
      cancel.addEventListener('click', () => done(false))
      dialog.addEventListener('cancel', () => done(false))
      form.addEventListener('submit', (event) => {
        event.preventDefault()
        useKey(/** @type {HTMLInputElement} */ (input).value.trim())
        done(Boolean(key))
      })
      document.body.appendChild(dialog)
      dialog.showModal()
      input.focus()
    })
  }

  /** A key-protected action: on 401 ask for the key and run it once more. @template T @param {() => Promise<T>} action @returns {Promise<T>} */
  async function withKey(action) {
    try {
      return await action()
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) throw error
      const ok = await keyDialog(
        key ? 'The API key was refused. Enter the monitor API key:' : 'This action needs the monitor API key:',
      )
      if (!ok) throw new ApiError('No API key given: nothing was changed', 401)
      return action()
    }
  }

  function keyNotice() {
    const button = el('button', {type: 'button', class: 'primary'}, 'Enter key')
    button.addEventListener('click', async () => {
      if (await keyDialog('Enter the monitor API key:')) void refresh()
    })
    replace(
      notice,
      el(
        'div',
        {class: 'notice warn row'},
        el('span', null, key ? 'The stored API key is refused.' : 'This monitor needs its API key to show containers.'),
        button,
      ),
    )
    setText(summary, 'Key needed')
  }

  // ---------- rows ----------

  /** @param {Row} r */
  function createView(r) {
    const toggle = /** @type {HTMLButtonElement} */ (
      el('button', {type: 'button', class: 'link disclosure', 'aria-expanded': 'false'})
    )
    const button = /** @type {HTMLButtonElement} */ (el('button', {type: 'button', 'data-action': 'update'}, 'Update'))
    const cells = {
      name: el('td', {class: 'col-name'}),
      health: el('td', {class: 'col-health'}),
      image: el('td', {class: 'col-image'}),
      update: el('td', {class: 'col-update'}),
      cpu: el('td', {class: 'col-metric'}),
      mem: el('td', {class: 'col-metric'}),
      action: el('td', {class: 'col-action'}, button),
    }
    const tr = /** @type {HTMLTableRowElement} */ (el('tr', {class: 'item', 'data-id': r.id}, Object.values(cells)))
    const detailsBody = el('div', {class: 'row-details'})
    const details = /** @type {HTMLTableRowElement} */ (
      el('tr', {class: 'details', hidden: true}, el('td', {colspan: 7}, detailsBody))
    )
    const detailsId = `details-${r.id.slice(0, 12)}`
    detailsBody.id = detailsId
    toggle.setAttribute('aria-controls', detailsId)
    toggle.addEventListener('click', () => {
      const open = details.hidden
      details.hidden = !open
      toggle.setAttribute('aria-expanded', String(open))
    })
    button.addEventListener('click', () => void runUpdate(view.row, button))
    /** @type {RowView} */
    const view = {tr, details, cells, button, toggle, row: r, sig: ''}
    return view
  }

  /** @param {(number|null)[]} values @param {number} max @param {string} text @param {string} title */
  function metric(values, max, text, title) {
    return el(
      'span',
      {class: 'monitor-metric'},
      sparkline(values, {width: 72, height: 22, min: 0, max, title}),
      el('span', {class: 'value'}, text),
    )
  }

  /** @param {RowView} view @param {Row} r @param {{cpu: number, mem: number}} scale */
  function updateView(view, r, scale) {
    view.row = r
    view.tr.dataset.name = r.name
    view.tr.dataset.level = r.level
    view.tr.dataset.state = r.state
    const sig = JSON.stringify([
      r.name,
      r.level,
      r.badge,
      r.reason,
      r.hint,
      r.image,
      r.group,
      r.update,
      r.update_reason,
      r.updatable,
      r.not_updatable_reason,
      r.status,
      r.restart_count,
    ])
    if (sig !== view.sig) {
      view.sig = sig
      replace(
        view.toggle,
        el('strong', null, r.name),
        r.group ? el('span', {class: 'muted small group-tag'}, r.group) : '',
      )
      view.toggle.setAttribute('aria-label', `${r.name}: ${r.badge}, show details`)
      replace(view.cells.name, view.toggle)
      replace(view.cells.health, badge(r.badge, r.level), el('span', {class: 'reason small'}, r.reason))
      replace(view.cells.image, imageText(r.image))
      const updateText = r.update ? UPDATE_TEXT[r.update] || r.update : 'not checked'
      replace(
        view.cells.update,
        badge(updateText, r.update ? UPDATE_KIND[r.update] || 'info' : 'info'),
        r.update_reason ? el('span', {class: 'reason small'}, r.update_reason) : '',
      )
      replace(
        view.details.firstElementChild?.firstElementChild ?? view.details,
        el(
          'dl',
          null,
          el('dt', null, 'Health'),
          el('dd', null, r.reason),
          r.hint ? [el('dt', null, 'What to do'), el('dd', null, el('code', null, r.hint))] : '',
          el('dt', null, 'Docker status'),
          el('dd', null, r.status || '–'),
          el('dt', null, 'Restarts'),
          el('dd', null, String(r.restart_count)),
          el('dt', null, 'Image'),
          el('dd', null, imageText(r.image)),
          el('dt', null, 'Update'),
          el('dd', null, `${updateText}${r.update_reason ? `: ${r.update_reason}` : ''}`),
          r.group ? [el('dt', null, 'Stack / project'), el('dd', null, r.group)] : '',
          r.updatable ? '' : [el('dt', null, 'Not updatable'), el('dd', null, r.not_updatable_reason || '')],
        ),
      )
    }
    const running = r.state === 'running'
    replace(
      view.cells.cpu,
      running
        ? metric(
            r.history.cpu,
            scale.cpu,
            formatPercent(r.cpu),
            `CPU of ${r.name}: ${formatPercent(r.cpu)}, scale 0 to ${formatPercent(scale.cpu, 0)}`,
          )
        : el('span', {class: 'muted'}, '–'),
    )
    replace(
      view.cells.mem,
      running
        ? metric(
            r.history.mem,
            scale.mem,
            formatBytes(r.mem_usage),
            `Memory of ${r.name}: ${formatBytes(r.mem_usage)} of ${formatBytes(r.mem_limit)}, scale 0 to ${formatBytes(scale.mem)}`,
          )
        : el('span', {class: 'muted'}, '–'),
    )
    const busy = inFlight.has(r.name)
    view.button.hidden = !r.updatable && !busy
    view.button.disabled = busy
    view.button.classList.toggle('primary', r.update === 'update_available')
    setText(view.button, busy ? 'Updating…' : 'Update')
    view.button.setAttribute('aria-label', `Update ${r.name}`)
    view.button.dataset.name = r.name
    view.tr.classList.toggle('update-available', r.update === 'update_available')
  }

  /** @param {Row} r */
  function matches(r) {
    const q = /** @type {HTMLInputElement} */ (search).value.trim().toLowerCase()
    if (q && !`${r.name} ${r.image} ${r.group}`.toLowerCase().includes(q)) return false
    switch (/** @type {HTMLSelectElement} */ (filter).value) {
      case 'attention':
        return needsAttention(r)
      case 'running':
        return r.state === 'running'
      case 'stopped':
        return r.state !== 'running'
      case 'updates':
        return r.update === 'update_available'
      case 'paused':
        return r.state === 'paused'
      case 'tasks':
        return r.kind === 'swarm-task' && r.state === 'running'
      case 'old-tasks':
        return r.kind === 'swarm-task' && r.state !== 'running'
      default:
        return true
    }
  }

  /** @param {Row} a @param {Row} b */
  function compare(a, b) {
    switch (/** @type {HTMLSelectElement} */ (sort).value) {
      case 'cpu':
        return (b.cpu ?? -1) - (a.cpu ?? -1) || a.name.localeCompare(b.name)
      case 'mem':
        return (b.mem_usage ?? -1) - (a.mem_usage ?? -1) || a.name.localeCompare(b.name)
      case 'name':
        return a.name.localeCompare(b.name)
      default:
        return (SEVERITY[a.level] ?? 9) - (SEVERITY[b.level] ?? 9) || a.name.localeCompare(b.name)
    }
  }

  /** @type {Map<string, HTMLTableRowElement>} */
  const groupRows = new Map()

  /** Puts the rows in order, moving only those out of place (a moved node loses focus: restore it). */
  function layout() {
    const how = groupBy.value
    /** @param {Row} r */
    const groupOf = (r) => (how === 'stack' ? r.group || 'No stack or project' : how === 'kind' ? kindGroup(r) : '')
    const visible = rows.filter(matches).sort((a, b) => {
      if (how === 'kind') return KIND_GROUPS.indexOf(kindGroup(a)) - KIND_GROUPS.indexOf(kindGroup(b)) || compare(a, b)
      if (how === 'stack' && a.group !== b.group) return (a.group || '\uffff').localeCompare(b.group || '\uffff')
      // Inside a stack: its containers, then its running tasks, then old tasks and aside copies.
      return kindRank(a) - kindRank(b) || compare(a, b)
    })
    /** @type {Element[]} */
    const wanted = []
    /** @type {string | undefined} */
    let group
    for (const r of visible) {
      if (how !== 'none' && groupOf(r) !== group) {
        group = groupOf(r)
        const label = group
        let header = groupRows.get(label)
        if (!header) {
          header = /** @type {HTMLTableRowElement} */ (
            el('tr', {class: 'group-row'}, el('th', {colspan: 7, scope: 'colgroup'}, label))
          )
          groupRows.set(label, header)
        }
        wanted.push(header)
      }
      const view = views.get(r.id)
      if (view) wanted.push(view.tr, view.details)
    }
    const focused = document.activeElement
    placeRows(tbody, wanted)
    if (focused instanceof HTMLElement && focused !== document.activeElement && focused.isConnected) focused.focus()
    empty.hidden = visible.length > 0 || rows.length === 0
  }

  /** @param {{docker_connected: boolean, stale: boolean, error?: string, as_of: string|null, containers: Row[]}} data */
  function render(data) {
    rows = data.containers
    const ids = new Set(rows.map((r) => r.id))
    for (const [id, view] of views) {
      if (ids.has(id)) continue
      view.tr.remove()
      view.details.remove()
      views.delete(id)
    }
    const finite = (/** @type {(number|null)[]} */ values) =>
      values.filter(/** @returns {v is number} */ (v) => typeof v === 'number' && Number.isFinite(v))
    const cpuMax = Math.max(5, ...rows.flatMap((r) => finite([...r.history.cpu, r.cpu])))
    const memMax = Math.max(1, ...rows.flatMap((r) => finite([...r.history.mem, r.mem_usage])))
    const scale = {cpu: Math.ceil(cpuMax / 5) * 5, mem: memMax}
    setText(cpuHead, `CPU (0–${scale.cpu} %)`)
    setText(memHead, `Memory (0–${formatBytes(scale.mem, 0)})`)
    for (const r of rows) {
      let view = views.get(r.id)
      if (!view) views.set(r.id, (view = createView(r)))
      updateView(view, r, scale)
    }
    layout()
    const own = rows.filter((r) => r.kind === 'container')
    const attention = own.filter(needsAttention)
    const running = own.filter((r) => r.state === 'running').length
    const updates = own.filter((r) => r.update === 'update_available').length
    const tasks = rows.length - own.length
    const parts = [`${own.length} containers, ${running} running`]
    if (tasks) parts.push(`${tasks} Swarm task or aside copies`)
    if (updates) parts.push(`${updates} update${updates > 1 ? 's' : ''} available`)
    replace(
      summary,
      data.stale
        ? badge('Docker unreachable', 'bad')
        : attention.length
          ? badge(`${attention.length} need attention`, 'bad')
          : badge('all fine', 'ok'),
      ' ',
      parts.join(' · '),
      data.stale
        ? el(
            'span',
            {class: 'reason'},
            ` Last data ${data.as_of ? new Date(data.as_of).toLocaleTimeString() : 'never'}: ${data.error || ''}`,
          )
        : '',
    )
    context.attention?.([
      ...(data.stale ? [{text: `Docker unreachable: ${data.error || 'no answer'}`, href: '#mode-monitor'}] : []),
      ...attention.map((r) => ({text: `${r.name}: ${r.badge}`, href: '#mode-monitor'})),
    ])
  }

  async function refresh(force = false) {
    try {
      const data = await client.get(force ? 'ui/containers?force=1' : 'ui/containers')
      replace(notice)
      loaded = true
      render(data)
      return data
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) keyNotice()
      else replace(notice, el('p', {class: 'notice error'}, error instanceof Error ? error.message : String(error)))
      if (!loaded) setText(summary, 'Could not load the containers')
      return undefined
    }
  }

  // ---------- activity + progress ----------

  /** @type {Map<number, HTMLLIElement>} */
  const activityItems = new Map()

  async function refreshActivity() {
    /** @type {{entries: Activity[]}} */
    const data = await client.get('ui/activity?limit=30')
    for (const entry of [...data.entries].reverse()) {
      let li = activityItems.get(entry.id)
      if (!li) {
        li = /** @type {HTMLLIElement} */ (el('li'))
        activityItems.set(entry.id, li)
        activityList.prepend(li)
      }
      const [text, kind] = {
        running: [`in progress${entry.step ? `: ${entry.step}` : ''}`, 'info'],
        ok: ['done', 'ok'],
        failed: ['failed', 'bad'],
        skipped: ['skipped', 'info'],
      }[entry.state]
      const sig = `${entry.state}|${entry.step}|${entry.message}`
      if (li.dataset.sig === sig) continue
      li.dataset.sig = sig
      li.dataset.state = entry.state
      replace(
        li,
        el('time', {datetime: entry.started}, new Date(entry.started).toLocaleTimeString()),
        ' ',
        badge(text, kind),
        ' ',
        el('strong', null, `${entry.action} ${entry.target}`),
        el('span', {class: 'muted small'}, ` by ${entry.by}`),
        entry.message ? el('div', {class: 'small reason'}, entry.message) : '',
      )
    }
    while (activityList.children.length > 30) activityList.lastElementChild?.remove()
    return data.entries
  }

  /** @param {Row} r @param {HTMLButtonElement} button */
  async function runUpdate(r, button) {
    const ok = await confirmDialog(
      `Update ${r.name}? The image ${r.image} is pulled and the container recreated with the same configuration. If the new one does not start (or is not healthy), the old one is restored.`,
      {confirmLabel: `Update ${r.name}`},
    )
    if (!ok) return
    inFlight.add(r.name)
    button.disabled = true
    setText(button, 'Updating…')
    const progress = el('span', {class: 'progress small', role: 'status'}, 'starting…')
    button.after(progress)
    const ticker = setInterval(async () => {
      try {
        const entries = await refreshActivity()
        const mine = entries.find((e) => e.target === r.name && e.action === 'update' && e.state === 'running')
        if (mine?.step) setText(progress, mine.step + '…')
      } catch {
        // the next tick tries again
      }
    }, STEP_POLL_MS)
    try {
      /** @type {{message: string, updated: boolean}} */
      const result = await withKey(() => client.post('ui/update_container', {name: r.name}))
      toast(result.message, 'ok')
    } catch (error) {
      const body =
        error instanceof ApiError ? /** @type {{message?: string, error?: string}} */ (error.body) : undefined
      toast(
        `Update of ${r.name} failed: ${body?.message || body?.error || (error instanceof Error ? error.message : String(error))}`,
        'error',
        15000,
      )
    } finally {
      clearInterval(ticker)
      progress.remove()
      inFlight.delete(r.name)
      await refresh()
      await refreshActivity().catch(() => {})
    }
  }

  // ---------- toolbar ----------

  for (const control of [search, filter, sort, groupBy]) control.addEventListener('input', layout)
  refreshButton.addEventListener('click', () => void refresh())
  checkButton.addEventListener('click', async () => {
    checkButton.disabled = true
    try {
      const data = await refresh(true)
      if (!data) return
      /** @type {Row[]} */
      const checked = data.containers.filter((/** @type {Row} */ r) => r.kind === 'container')
      const failed = checked.filter((r) => r.update === 'registry_error')
      if (failed.length)
        toast(
          `Registry check failed for ${failed.length} of ${checked.length}: ${failed.map((r) => r.name).join(', ')}`,
          'error',
          15000,
        )
      else
        toast(
          `Registries checked: ${checked.filter((r) => r.update === 'update_available').length} update(s) available`,
          'ok',
        )
    } finally {
      checkButton.disabled = false
    }
  })

  pruneButton.addEventListener('click', async () => {
    /** @type {{count: number, items: {id: string, tags: string[], size: number}[]}} */
    let unused
    try {
      unused = await withKey(() => client.get('ui/images/unused'))
    } catch (error) {
      toast(error instanceof Error ? error.message : String(error), 'error', 15000)
      return
    }
    if (!unused.count) {
      toast('No unused images: nothing to remove', 'ok')
      return
    }
    const list = el(
      'ul',
      {class: 'prune-list'},
      unused.items
        .slice(0, 50)
        .map((i) => el('li', null, el('code', null, i.tags[0] || i.id.slice(7, 19)), ` ${formatBytes(i.size)}`)),
      unused.count > 50 ? el('li', null, `and ${unused.count - 50} more`) : '',
    )
    const ok = await confirmDialog(
      el(
        'div',
        null,
        el(
          'p',
          null,
          `Remove these ${unused.count} image${unused.count > 1 ? 's' : ''} no container uses? Images of stopped containers are kept. Layers shared with images still in use stay, so less space may be freed than the sizes add up to.`,
        ),
        list,
      ),
      {danger: true, confirmLabel: `Remove ${unused.count} image${unused.count > 1 ? 's' : ''}`},
    )
    if (!ok) return
    pruneButton.disabled = true
    try {
      /** @type {{ImagesDeleted?: {Deleted?: string, Untagged?: string}[], SpaceReclaimed?: number}} */
      const result = await withKey(() => client.post('ui/images/prune', {}))
      const deleted = new Set((result.ImagesDeleted || []).map((d) => d.Deleted).filter(Boolean))
      const removed = unused.items.filter((i) => deleted.has(i.id))
      const kept = unused.items.length - removed.length
      toast(
        `Removed ${removed.length} of ${unused.count} image${unused.count > 1 ? 's' : ''}${kept ? ` (${kept} kept: in use again or shared)` : ''}; Docker reports ${formatBytes(result.SpaceReclaimed || 0)} freed`,
        kept ? 'info' : 'ok',
        12000,
      )
    } catch (error) {
      toast(`Prune failed: ${error instanceof Error ? error.message : String(error)}`, 'error', 15000)
    } finally {
      pruneButton.disabled = false
      void refreshActivity().catch(() => {})
    }
  })

  settingsButton.addEventListener('click', () => void openSettings())

  async function openSettings() {
    /** @type {{api_enabled: boolean, auth_enabled: boolean, api_key?: string, allowed_cidrs?: string[], settings_path?: string}} */
    let current
    try {
      current = await withKey(() => client.get('settings'))
    } catch (error) {
      toast(error instanceof Error ? error.message : String(error), 'error', 15000)
      return
    }
    const apiEnabled = /** @type {HTMLInputElement} */ (
      el('input', {type: 'checkbox', name: 'api_enabled', checked: current.api_enabled})
    )
    const authEnabled = /** @type {HTMLInputElement} */ (
      el('input', {type: 'checkbox', name: 'auth_enabled', checked: current.auth_enabled})
    )
    const apiKey = /** @type {HTMLInputElement} */ (
      el('input', {
        type: 'password',
        name: 'api_key',
        autocomplete: 'new-password',
        placeholder: current.api_key ? 'unchanged (leave empty to keep it)' : 'none set',
      })
    )
    const cidrs = /** @type {HTMLTextAreaElement} */ (
      el('textarea', {name: 'allowed_cidrs', rows: 3}, (current.allowed_cidrs || []).join(', '))
    )
    const output = el('div', {class: 'stack', 'aria-live': 'polite'})
    const generate = el('button', {type: 'button', 'data-action': 'generate'}, 'Generate a new key…')
    const cancel = el('button', {type: 'button'}, 'Close')
    const save = el('button', {type: 'submit', class: 'primary'}, 'Save')
    const form = el(
      'form',
      {method: 'dialog'},
      el('h3', null, 'Monitor settings'),
      el('label', {class: 'check'}, apiEnabled, 'HTTP API enabled (Home Assistant)'),
      el('label', {class: 'check'}, authEnabled, 'Require the API key'),
      el('label', null, 'API key', apiKey),
      el('div', null, generate),
      el('label', null, 'Allowed addresses (CIDR ranges, comma separated)', cidrs),
      el(
        'p',
        {class: 'small muted'},
        `Saved to ${current.settings_path || 'the settings file'}; wins over the environment at the next start.`,
      ),
      output,
      el('div', {class: 'actions'}, cancel, save),
    )
    const dialog = /** @type {HTMLDialogElement} */ (
      el('dialog', {class: 'monitor-settings', 'aria-label': 'Monitor settings'}, form)
    )
    document.body.appendChild(dialog)
    const close = () => {
      if (dialog.open) dialog.close()
      dialog.remove()
    }
    cancel.addEventListener('click', close)
    dialog.addEventListener('cancel', close)

    /** @param {Record<string, unknown>} change */
    const apply = async (change) => {
      try {
        /** @type {{generated_api_key?: string, changed?: string[]}} */
        const result = await withKey(() => client.post('settings', change))
        if (result.generated_api_key) {
          useKey(result.generated_api_key)
          replace(
            output,
            el(
              'div',
              {class: 'notice warn'},
              el('p', null, 'New API key: copy it now, it is not shown again. Home Assistant needs it too.'),
              el('p', {class: 'monitor-key', 'data-generated-key': ''}, result.generated_api_key),
            ),
          )
        } else if (typeof change.api_key === 'string') {
          useKey(change.api_key)
        }
        toast(result.changed && result.changed.length ? `Saved: ${result.changed.join(', ')}` : 'Nothing changed', 'ok')
        void refreshActivity().catch(() => {})
        return result
      } catch (error) {
        replace(output, el('p', {class: 'notice error'}, error instanceof Error ? error.message : String(error)))
        return undefined
      }
    }
    generate.addEventListener('click', async () => {
      const sure = await confirmDialog(
        'Replace the API key now? Home Assistant and every browser using the current key stop working until they get the new one.',
        {
          danger: true,
          confirmLabel: 'Replace the key',
        },
      )
      if (sure) void apply({generate_api_key: true})
    })
    form.addEventListener('submit', async (event) => {
      event.preventDefault()
      /** @type {Record<string, unknown>} */
      const change = {api_enabled: apiEnabled.checked, auth_enabled: authEnabled.checked, allowed_cidrs: cidrs.value}
      if (apiKey.value.trim()) change.api_key = apiKey.value.trim()
      const result = await apply(change)
      if (result && !result.generated_api_key) close()
    })
    dialog.showModal()
  }

  const stopRows = poll(() => refresh(), POLL_MS)
  const stopActivity = poll(() => refreshActivity(), POLL_MS * 2)
  return () => {
    stopRows()
    stopActivity()
  }
}
