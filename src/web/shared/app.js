// @ts-check
// The page frame of `homeops serve`: theme, API key, one section per enabled mode.
// Each mode's UI is `/web/<mode>/section.js` exporting `mount(element, api, context)`;
// a mode without one (or whose module fails to load) gets a generic view of its snapshot.
import {
  ApiError,
  badge,
  confirmDialog,
  createApi,
  el,
  poll,
  replace,
  setupThemeToggle,
  table,
  timeAgo,
  toast,
} from './ui.js'

/**
 * @typedef {import('./ui.js').Json} Json
 * @typedef {{name: string, title?: string, up: boolean, state: string, detail?: string, section?: boolean,
 *   hasSnapshot?: boolean}} Mode
 * @typedef {{element: HTMLElement, status: HTMLElement, detail: HTMLElement, body: HTMLElement, mounted: boolean,
 *   stop: (() => void) | undefined}} SectionEntry
 * @typedef {{text: string, href: string}} AttentionItem
 */

/** An element of the page frame (index.html always has it). @param {string} id @returns {HTMLElement} */
function byId(id) {
  const node = document.getElementById(id)
  if (!node) throw new Error(`the page has no #${id}`)
  return node
}

const API_KEY = 'homeops-api-key'
const POLL_MS = 10_000

/** @param {'local' | 'session'} kind */
function safeStorage(kind) {
  try {
    return kind === 'local' ? window.localStorage : window.sessionStorage
  } catch {
    return undefined
  }
}

setupThemeToggle(document.getElementById('theme-button'))

// ---------- API key ----------

let apiKey = safeStorage('session')?.getItem(API_KEY) || safeStorage('local')?.getItem(API_KEY) || ''
const getKey = () => apiKey || undefined

/** @param {string} value @param {boolean} remember */
function saveKey(value, remember) {
  apiKey = value
  for (const kind of /** @type {const} */ (['session', 'local'])) safeStorage(kind)?.removeItem(API_KEY)
  if (value) safeStorage(remember ? 'local' : 'session')?.setItem(API_KEY, value)
  updateKeyButton()
}

/** @type {{writes: boolean, reads: boolean, access?: string}} */
let authInfo = {writes: false, reads: false}

function updateKeyButton() {
  const button = document.getElementById('key-button')
  if (!button) return
  button.hidden = !authInfo.writes && !apiKey
  button.textContent = apiKey ? 'Key set' : 'Set key'
  button.classList.toggle('primary', Boolean(authInfo.writes && !apiKey))
}

/** @returns {Promise<boolean>} */
function keyDialog() {
  return new Promise((resolve) => {
    const input = el('input', {
      type: 'password',
      name: 'api-key',
      autocomplete: 'current-password',
      placeholder: 'API key',
      value: apiKey,
      'aria-label': 'API key',
    })
    const remember = el('input', {type: 'checkbox', id: 'remember-key'})
    remember.checked = Boolean(safeStorage('local')?.getItem(API_KEY))
    const message = el('p', {class: 'muted small'}, 'Actions that change something need the key set as serve.apiKey.')
    const save = el('button', {type: 'submit', class: 'primary'}, 'Save')
    const clear = el('button', {type: 'button'}, 'Forget')
    const cancel = el('button', {type: 'button'}, 'Cancel')
    const form = el(
      'form',
      {method: 'dialog'},
      el('h3', null, 'API key'),
      message,
      el('div', {class: 'key-form'}, input),
      el('label', {class: 'row small'}, remember, 'Remember on this device'),
      el('div', {class: 'actions'}, clear, cancel, save),
    )
    const dialog = el('dialog', {class: 'confirm'}, form)
    const done = (/** @type {boolean} */ value) => {
      if (dialog.open) dialog.close()
      dialog.remove()
      resolve(value)
    }
    cancel.addEventListener('click', () => done(false))
    clear.addEventListener('click', () => {
      saveKey('', false)
      toast('API key forgotten', 'ok')
      done(true)
    })
    form.addEventListener('submit', async (event) => {
      event.preventDefault()
      const value = input.value.trim()
      save.disabled = true
      try {
        await createApi('', () => value || undefined).post('/api/auth', {})
        saveKey(value, remember.checked)
        toast('API key accepted', 'ok')
        done(true)
      } catch (error) {
        replace(
          message,
          el(
            'span',
            {class: 'notice error'},
            error instanceof ApiError && error.status === 401
              ? 'This key is not accepted.'
              : error instanceof Error
                ? error.message
                : String(error),
          ),
        )
      } finally {
        save.disabled = false
      }
    })
    dialog.addEventListener('cancel', () => done(false))
    document.body.appendChild(dialog)
    if (dialog.showModal) dialog.showModal()
    else dialog.setAttribute('open', '')
    input.focus()
  })
}

// One key dialog at a time, opened when an action answers 401.
/** @type {Promise<boolean> | undefined} */
let keyPrompt
/** @returns {Promise<boolean>} */
function askForKey() {
  keyPrompt ??= keyDialog().finally(() => {
    keyPrompt = undefined
  })
  return keyPrompt
}

// ---------- sections ----------

const shellApi = createApi('', getKey)
/** @type {Map<string, SectionEntry>} */
const sections = new Map()
/** @type {Map<string, AttentionItem[]>} */
const attention = new Map()
/** @type {Mode[]} */
let lastModes = []

/** The one summary of the header: down, needs attention (with the list), all fine, or nothing enabled. */
function renderOverall() {
  const overall = document.getElementById('overall')
  const list = document.getElementById('attention-list')
  if (!overall || !list) return
  const unconfigured = (/** @type {Mode} */ m) => /not configured|no records|nothing to/i.test(m.detail || '')
  const down = lastModes.filter((m) => !m.up && !unconfigured(m))
  const troubled = lastModes.filter((m) => m.up && /fail|exited|not connected|error|unreachable/i.test(m.detail || ''))
  const items = [
    ...down.map((m) => ({text: `${m.title || m.name}: ${m.detail || m.state}`, href: `#mode-${m.name}`})),
    ...troubled.map((m) => ({text: `${m.title || m.name}: ${m.detail}`, href: `#mode-${m.name}`})),
    ...[...attention].filter(([name]) => !down.some((m) => m.name === name)).flatMap(([, entries]) => entries),
  ]
  const kind = down.length ? 'bad' : items.length ? 'warn' : 'ok'
  overall.className = `badge ${kind}`
  overall.textContent = down.length
    ? `${down.length} down`
    : items.length
      ? `needs attention (${items.length})`
      : lastModes.length
        ? 'all fine'
        : 'nothing enabled'
  overall.setAttribute('aria-expanded', String(!list.hidden))
  replace(
    list,
    items.slice(0, 30).map((item) => el('li', null, el('a', {href: item.href}, item.text))),
    items.length > 30 ? el('li', {class: 'muted'}, `and ${items.length - 30} more`) : null,
  )
  if (!items.length) list.hidden = true
}

/** @param {Mode} mode */
function stateBadge(mode) {
  if (!mode.up && /not configured|no records|nothing to/i.test(mode.detail || ''))
    return badge('not configured', 'info')
  if (mode.up) return badge('up', 'ok')
  if (mode.state === 'up') return badge('degraded', 'warn')
  if (mode.state === 'starting') return badge('starting', 'info')
  return badge(mode.state === 'backoff' ? 'down' : mode.state, 'bad')
}

/** @param {Mode} mode @returns {SectionEntry} */
function sectionFor(mode) {
  let entry = sections.get(mode.name)
  if (entry) return entry
  const status = el('span', {class: 'section-status'})
  const detail = el('span', {class: 'muted small'})
  const body = el('div', {class: 'section-body'})
  const element = el(
    'section',
    {class: 'section', id: `mode-${mode.name}`, 'data-mode': mode.name, 'aria-labelledby': `title-${mode.name}`},
    el('header', null, el('h2', {id: `title-${mode.name}`}, mode.title || mode.name), status),
    detail,
    body,
  )
  entry = {element, status, detail, body, mounted: false, stop: undefined}
  sections.set(mode.name, entry)
  return entry
}

/** @param {SectionEntry} entry @param {Mode} mode */
function updateSection(entry, mode) {
  replace(entry.status, stateBadge(mode))
  entry.element.dataset.state = mode.up ? 'up' : mode.state
  replace(entry.detail, mode.up ? '' : mode.detail || '')
  entry.detail.hidden = mode.up || !mode.detail
}

/** @param {SectionEntry} entry @param {Mode} mode */
async function mountSection(entry, mode) {
  entry.mounted = true
  const api = createApi(`/${mode.name}`, getKey, {onUnauthorized: askForKey})
  const context = {
    mode: mode.name,
    confirm: confirmDialog,
    toast,
    shellApi,
    requireKey: askForKey,
    // What in this section needs a human (blocked record, failed stack, unhealthy container): the header lists it.
    attention: (/** @type {AttentionItem[]} */ items) => {
      attention.set(mode.name, Array.isArray(items) ? items : [])
      renderOverall()
    },
  }
  if (mode.section) {
    try {
      const module = await import(`/web/${mode.name}/section.js`)
      if (typeof module.mount !== 'function') throw new Error(`/web/${mode.name}/section.js does not export mount()`)
      replace(entry.body)
      const cleanup = await module.mount(entry.body, api, context)
      if (typeof cleanup === 'function') entry.stop = cleanup
      return
    } catch (error) {
      replace(
        entry.body,
        el(
          'p',
          {class: 'notice error'},
          `The ${mode.title || mode.name} view could not be loaded: ${error instanceof Error ? error.message : String(error)}`,
        ),
      )
      console.error(error)
    }
  }
  if (mode.hasSnapshot) {
    const holder = el('div', {class: 'snapshot'})
    entry.body.appendChild(holder)
    entry.stop = poll(
      async () => replace(holder, renderValue(await shellApi.get(`/api/modes/${mode.name}/snapshot`))),
      15_000,
      (error) =>
        replace(holder, el('p', {class: 'notice error'}, error instanceof Error ? error.message : String(error))),
    )
  } else if (!mode.section) {
    entry.body.appendChild(el('p', {class: 'muted'}, 'This mode has no web view.'))
  }
}

// A readable view of any JSON snapshot: tables for lists of objects, definition lists for objects.
/** @param {Json} value @param {number} [depth] @returns {HTMLElement | string} */
function renderValue(value, depth = 0) {
  if (value === null || value === undefined || value === '') return el('span', {class: 'muted'}, '–')
  if (Array.isArray(value)) {
    if (value.length === 0) return el('span', {class: 'muted'}, 'none')
    if (value.every((v) => v && typeof v === 'object' && !Array.isArray(v))) {
      const keys = [...new Set(value.flatMap((v) => Object.keys(v)))].slice(0, 8)
      return table(
        keys.map((key) => ({key, label: key, render: (/** @type {Json} */ row) => renderScalar(row[key], key)})),
        value.slice(0, 200),
      )
    }
    return el('span', null, value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', '))
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value)
    if (entries.length === 0) return el('span', {class: 'muted'}, 'none')
    const scalars = entries.filter(([, v]) => v === null || typeof v !== 'object')
    const nested = entries.filter(([, v]) => v !== null && typeof v === 'object')
    return el(
      'div',
      {class: 'stack'},
      scalars.length
        ? el(
            'dl',
            null,
            scalars.map(([k, v]) => [el('dt', null, k), el('dd', null, renderScalar(v, k))]),
          )
        : null,
      nested.map(([k, v]) => el('div', null, el(depth === 0 ? 'h3' : 'h4', null, k), renderValue(v, depth + 1))),
    )
  }
  return renderScalar(value)
}

/** @param {Json} value @param {string} [key] @returns {HTMLElement | string} */
function renderScalar(value, key = '') {
  if (value === null || value === undefined || value === '') return el('span', {class: 'muted'}, '–')
  if (typeof value === 'boolean') return badge(value ? 'yes' : 'no', value ? 'ok' : undefined)
  if (typeof value === 'object') return el('code', null, JSON.stringify(value))
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) return timeAgo(value)
  if (/status|state/i.test(key) && typeof value === 'string') {
    const kind = /fail|error|down|bad|exited|dead/i.test(value)
      ? 'bad'
      : /pending|update|warn|starting|restart/i.test(value)
        ? 'warn'
        : /ok|up|running|healthy|deployed|current|success/i.test(value)
          ? 'ok'
          : undefined
    return badge(value, kind)
  }
  return String(value)
}

// ---------- main ----------

async function refresh() {
  let report
  try {
    report = await shellApi.get('/api/modes')
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      replace(byId('overall'), 'key needed')
      authInfo = {writes: true, reads: true}
      updateKeyButton()
      // A missing or wrong stored key: say so instead of "Loading…" for ever.
      const loading = document.getElementById('loading')
      if (loading) {
        const button = el('button', {type: 'button', class: 'primary'}, apiKey ? 'Enter another key' : 'Enter the key')
        button.addEventListener('click', async () => {
          if (await askForKey()) void refresh().catch(() => {})
        })
        loading.replaceWith(
          el(
            'div',
            {class: 'notice warn row', id: 'loading'},
            el(
              'span',
              null,
              apiKey
                ? 'The stored API key is not accepted.'
                : 'This dashboard needs the API key (serve.apiKey) to show anything.',
            ),
            button,
          ),
        )
      }
      return
    }
    const overall = byId('overall')
    overall.className = 'badge bad'
    overall.textContent = 'unreachable'
    throw error
  }
  authInfo = report.auth || authInfo
  updateKeyButton()
  byId('version').textContent = `homeops ${report.version}`
  const main = byId('sections')
  document.getElementById('loading')?.remove()
  // No key configured and this browser is on another machine: the server refuses changes (README "Security").
  const readOnly = document.getElementById('read-only')
  if (authInfo.access === 'refused' && !readOnly) {
    main.prepend(
      el(
        'p',
        {class: 'notice', id: 'read-only'},
        'Read only: no API key is configured, so changes are accepted from the machine running homeops only. Set ',
        el('code', null, 'serve.apiKey'),
        ' (16+ characters) to act from here.',
      ),
    )
  } else if (authInfo.access !== 'refused') readOnly?.remove()
  const nav = byId('nav')
  if (report.modes.length === 0 && !document.getElementById('no-modes')) {
    main.appendChild(
      el(
        'p',
        {class: 'notice', id: 'no-modes'},
        'No mode is enabled. Set ',
        el('code', null, '<mode>.enabled: true'),
        ' in the config file (ddns, images, monitor, swarm, dns) and reload (SIGHUP).',
      ),
    )
  }
  /** @type {Mode[]} */
  const modes = report.modes
  const names = new Set(modes.map((m) => m.name))
  for (const [name, entry] of sections) {
    if (names.has(name)) continue
    entry.stop?.()
    entry.element.remove()
    sections.delete(name)
  }
  replace(
    nav,
    modes.map((m) => el('a', {href: `#mode-${m.name}`}, m.title || m.name)),
  )
  for (const mode of report.modes) {
    const entry = sectionFor(mode)
    if (!entry.element.isConnected) main.appendChild(entry.element)
    updateSection(entry, mode)
    if (!entry.mounted && (mode.state === 'up' || mode.state === 'starting')) {
      if (mode.state === 'up') void mountSection(entry, mode)
    } else if (!entry.mounted && !entry.body.hasChildNodes()) {
      entry.body.appendChild(el('p', {class: 'muted'}, 'Shown when the mode is up.'))
    }
  }
  lastModes = report.modes
  renderOverall()
}

function start() {
  const overall = byId('overall')
  overall.addEventListener('click', () => {
    const list = byId('attention-list')
    list.hidden = !list.hidden || !list.hasChildNodes()
    overall.setAttribute('aria-expanded', String(!list.hidden))
  })
  byId('key-button').addEventListener('click', async () => {
    if (await keyDialog()) void refresh().catch(() => {})
  })
  updateKeyButton()
  poll(refresh, POLL_MS, (error) => console.warn(error))
  // Mode views ask for the key when an action answers 401.
  window.addEventListener('homeops:key-required', () => void askForKey())
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start)
else start()
