// Containers section of the homeops web UI: state, update status, CPU/RAM sparklines, one-click
// update (with confirmation), image prune and the settings dialog.
// Used by `homeops serve` (mounted under /monitor) and by the page of `homeops monitor serve`.
// `api` is the mode's client (`createApi(base, getKey)` of shared/ui.js); the page's own routes are
// under `ui/` so it works while the Home Assistant API is switched off.
import {
  ApiError,
  badge,
  confirmAndRun,
  createApi,
  el,
  formatBytes,
  formatPercent,
  poll,
  replace,
  sparkline,
  table,
  toast,
} from '/web/shared/ui.js'

/** Where the monitor's API key is kept in the browser (only when auth is on). */
export const KEY_STORAGE = 'homeops-monitor-api-key'
const HISTORY = 60 // samples kept per container (5 minutes at one poll every 5 s)
const POLL_MS = 5000

const STATE_KIND = {running: 'ok', restarting: 'warn', paused: 'warn', created: 'info', exited: 'bad', dead: 'bad'}
const UPDATE_KIND = {
  up_to_date: 'ok',
  update_available: 'warn',
  registry_error: 'bad',
  unknown_image: 'info',
  unknown_local_digest: 'info',
}
const UPDATE_TEXT = {
  up_to_date: 'up to date',
  update_available: 'update available',
  registry_error: 'registry error',
  unknown_image: 'unknown image',
  unknown_local_digest: 'local image',
}

function readKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) || undefined
  } catch {
    return undefined
  }
}

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
  const link = el('link', {rel: 'stylesheet', href: '/web/monitor/monitor.css', 'data-monitor-css': ''})
  document.head.appendChild(link)
}

export async function mount(element, api, context = {}) {
  ensureStyles()
  const base = api && typeof api.base === 'string' ? api.base : ''
  let key = readKey()
  let client = key ? createApi(base, () => key) : api
  const history = new Map()
  let lastStatus

  const summary = el('span', {class: 'summary muted'}, 'Loading…')
  const refreshButton = el('button', {type: 'button', title: 'Refresh now'}, 'Refresh')
  const checkButton = el(
    'button',
    {type: 'button', title: 'Ask the registries again (at most once a minute per image)'},
    'Check updates',
  )
  const pruneButton = el('button', {type: 'button', class: 'danger', 'data-action': 'prune'}, 'Prune images')
  const settingsButton = el('button', {type: 'button', 'data-action': 'settings'}, 'Settings')
  const notice = el('div', {class: 'monitor-notice'})
  const body = el('div', {class: 'monitor-table'})
  replace(
    element,
    el('div', {class: 'monitor-toolbar'}, summary, refreshButton, checkButton, pruneButton, settingsButton),
    notice,
    body,
  )

  function useKey(next) {
    key = next || undefined
    storeKey(key)
    client = key ? createApi(base, () => key) : api
  }

  function keyForm(message) {
    const input = el('input', {
      type: 'password',
      name: 'api-key',
      placeholder: 'API key',
      autocomplete: 'current-password',
    })
    const form = el(
      'form',
      {class: 'row'},
      el('span', null, message),
      input,
      el('button', {type: 'submit', class: 'primary'}, 'Use key'),
    )
    form.addEventListener('submit', (event) => {
      event.preventDefault()
      useKey(input.value.trim())
      replace(notice)
      void refresh()
    })
    replace(notice, el('div', {class: 'notice warn'}, form))
    input.focus()
  }

  function showError(error) {
    if (error instanceof ApiError && error.status === 401) {
      keyForm(key ? 'The API key was refused. Enter the monitor API key:' : 'This monitor requires its API key:')
      return
    }
    replace(notice, el('p', {class: 'notice error'}, error.message || String(error)))
  }

  function remember(name, meta) {
    let h = history.get(name)
    if (!h) history.set(name, (h = {cpu: [], mem: []}))
    h.cpu.push(typeof meta.cpu === 'number' ? meta.cpu : null)
    h.mem.push(typeof meta.mem_usage === 'number' ? meta.mem_usage : null)
    if (h.cpu.length > HISTORY) h.cpu.shift()
    if (h.mem.length > HISTORY) h.mem.shift()
    return h
  }

  function metric(values, text, title, max) {
    return el(
      'span',
      {class: 'monitor-metric'},
      sparkline(values, {width: 72, height: 22, min: 0, max, title}),
      el('span', {class: 'value'}, text),
    )
  }

  function render(status) {
    const names = Object.keys(status.meta).sort((a, b) => a.localeCompare(b))
    const seen = new Set(names)
    for (const name of [...history.keys()]) if (!seen.has(name)) history.delete(name)
    const rows = names.map((name) => {
      const meta = status.meta[name] || {}
      const h = remember(name, meta)
      return {name, meta, update: status.updates[name], history: h}
    })
    const running = rows.filter((r) => r.meta.state === 'running').length
    const updates = rows.filter((r) => r.update === 'update_available').length
    replace(
      summary,
      `${rows.length} containers, ${running} running`,
      updates ? el('span', null, ' · ', badge(`${updates} update${updates > 1 ? 's' : ''} available`, 'warn')) : '',
    )
    const view = table(
      [
        {key: 'name', label: 'Name', render: (r) => el('strong', null, r.name)},
        {
          key: 'state',
          label: 'State',
          render: (r) => badge(r.meta.state || 'unknown', STATE_KIND[r.meta.state] || 'info'),
        },
        {
          key: 'image',
          label: 'Image',
          render: (r) =>
            el(
              'span',
              {class: 'monitor-image', title: r.meta.image || ''},
              (r.meta.image || '–').replace(/@sha256:[0-9a-f]{64}$/, '@…'),
            ),
        },
        {
          key: 'update',
          label: 'Update',
          render: (r) => badge(UPDATE_TEXT[r.update] || r.update || 'not checked', UPDATE_KIND[r.update] || 'info'),
        },
        {
          key: 'cpu',
          label: 'CPU',
          render: (r) =>
            r.meta.state === 'running'
              ? metric(
                  r.history.cpu,
                  formatPercent(r.meta.cpu),
                  `CPU of ${r.name}, last ${r.history.cpu.length} samples`,
                )
              : el('span', {class: 'muted'}, '–'),
        },
        {
          key: 'memory',
          label: 'Memory',
          render: (r) =>
            r.meta.state === 'running'
              ? metric(
                  r.history.mem,
                  formatBytes(r.meta.mem_usage),
                  `Memory of ${r.name}: ${formatBytes(r.meta.mem_usage)} of ${formatBytes(r.meta.mem_limit)} (${formatPercent(r.meta.mem_perc)})`,
                  undefined,
                )
              : el('span', {class: 'muted'}, '–'),
        },
        {
          key: 'net',
          label: 'Net rx / tx',
          align: 'num',
          render: (r) =>
            r.meta.net_rx == null ? '–' : `${formatBytes(r.meta.net_rx)} / ${formatBytes(r.meta.net_tx)}`,
        },
        {key: 'action', label: '', render: (r) => updateButton(r)},
      ],
      rows,
      {empty: 'No containers.', rowClass: (r) => (r.update === 'update_available' ? 'update-available' : undefined)},
    )
    view.querySelectorAll('tbody tr').forEach((tr, i) => {
      if (rows[i]) tr.dataset.name = rows[i].name
    })
    replace(body, view)
  }

  function updateButton(row) {
    const available = row.update === 'update_available'
    const button = el(
      'button',
      {
        type: 'button',
        class: available ? 'primary' : undefined,
        'data-action': 'update',
        'data-name': row.name,
        title: available ? 'A newer image is available' : 'Pull the image again and recreate if it changed',
      },
      'Update',
    )
    button.addEventListener('click', async () => {
      const result = await confirmAndRun(
        `Update ${row.name}? The image ${row.meta.image || ''} is pulled and the container recreated with the same configuration. If the new one does not start (or is not healthy), the old one is restored.`,
        () => client.post('ui/update_container', {name: row.name}),
        {button, done: (r) => r.message},
      )
      if (result) await refresh(true)
    })
    return button
  }

  async function refresh(force = false) {
    try {
      const status = await client.get(force ? 'ui/status?force=1' : 'ui/status')
      lastStatus = status
      if (notice.firstChild && !notice.querySelector('form')) replace(notice)
      render(status)
    } catch (error) {
      showError(error)
    }
  }

  refreshButton.addEventListener('click', () => void refresh())
  checkButton.addEventListener('click', async () => {
    checkButton.disabled = true
    try {
      await refresh(true)
      toast('Registries checked', 'ok')
    } finally {
      checkButton.disabled = false
    }
  })

  pruneButton.addEventListener('click', async () => {
    let unused
    try {
      unused = await client.get('ui/images/unused')
    } catch (error) {
      toast(error.message, 'error', 9000)
      return
    }
    if (!unused.count) {
      toast('No unused images: nothing to remove', 'ok')
      return
    }
    const size = unused.items.reduce((sum, i) => sum + (i.size || 0), 0)
    await confirmAndRun(
      `Remove ${unused.count} image${unused.count > 1 ? 's' : ''} no container uses (${formatBytes(size)})? Images of stopped containers are kept.`,
      () => client.post('ui/images/prune', {}),
      {
        button: pruneButton,
        danger: true,
        done: (r) =>
          `Removed ${(r.ImagesDeleted || []).filter((d) => d.Deleted).length} layers, reclaimed ${formatBytes(r.SpaceReclaimed)}`,
      },
    )
  })

  settingsButton.addEventListener('click', () => void openSettings())

  async function openSettings() {
    let current
    try {
      current = await client.get('settings')
    } catch (error) {
      showError(error)
      return
    }
    const apiEnabled = el('input', {type: 'checkbox', name: 'api_enabled', checked: current.api_enabled})
    const authEnabled = el('input', {type: 'checkbox', name: 'auth_enabled', checked: current.auth_enabled})
    const apiKey = el('input', {
      type: 'password',
      name: 'api_key',
      autocomplete: 'new-password',
      placeholder: current.api_key ? 'unchanged (leave empty to keep it)' : 'none set',
    })
    const cidrs = el('textarea', {name: 'allowed_cidrs', rows: 3}, (current.allowed_cidrs || []).join(', '))
    const output = el('div', {class: 'stack'})
    const generate = el('button', {type: 'button', 'data-action': 'generate'}, 'Generate a new key')
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
    const dialog = el('dialog', {class: 'monitor-settings', 'aria-label': 'Monitor settings'}, form)
    document.body.appendChild(dialog)
    const close = () => {
      if (dialog.open) dialog.close()
      dialog.remove()
    }
    cancel.addEventListener('click', close)
    dialog.addEventListener('cancel', close)

    const apply = async (change) => {
      try {
        const result = await client.post('settings', change)
        if (result.generated_api_key) {
          useKey(result.generated_api_key)
          replace(
            output,
            el(
              'div',
              {class: 'notice warn'},
              el('p', null, 'New API key (copy it now, it is not shown again):'),
              el('p', {class: 'monitor-key', 'data-generated-key': ''}, result.generated_api_key),
            ),
          )
        } else if (change.api_key) {
          useKey(change.api_key)
        }
        toast(result.changed && result.changed.length ? `Saved: ${result.changed.join(', ')}` : 'Nothing changed', 'ok')
        return result
      } catch (error) {
        replace(output, el('p', {class: 'notice error'}, error.message))
        return undefined
      }
    }
    generate.addEventListener('click', () => void apply({generate_api_key: true}))
    form.addEventListener('submit', async (event) => {
      event.preventDefault()
      const change = {
        api_enabled: apiEnabled.checked,
        auth_enabled: authEnabled.checked,
        allowed_cidrs: cidrs.value,
      }
      if (apiKey.value.trim()) change.api_key = apiKey.value.trim()
      const result = await apply(change)
      if (result && !result.generated_api_key) close()
    })
    dialog.showModal()
  }

  const stop = poll(() => refresh(), POLL_MS)
  void lastStatus
  void context
  return stop
}
