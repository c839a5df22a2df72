// @ts-check
// homeops web UI: shared helpers. Plain ES module, no build step, no framework, no external URLs.

const SVG_NS = 'http://www.w3.org/2000/svg'

/**
 * What `el` and `replace` take as children: nodes, text, numbers, nested lists; null, undefined and booleans are skipped.
 * @typedef {Node | string | number | boolean | null | undefined | ChildList} Child
 * @typedef {Child[]} ChildList
 * The JSON a route answers; each section gives it its own type where it reads it.
 * @typedef {any} Json
 * @typedef {{signal?: AbortSignal, retried?: boolean}} RequestOptions
 * What the page shell hands each section's `mount(element, api, context)`.
 * @typedef {{mode?: string, confirm?: typeof confirmDialog, toast?: typeof toast, shellApi?: Api,
 *   requireKey?: () => Promise<boolean>, attention?: (items: {text: string, href: string}[]) => void}} SectionContext
 * @typedef {{base: string, get: (path: string, options?: RequestOptions) => Promise<Json>,
 *   post: (path: string, body?: unknown, options?: RequestOptions) => Promise<Json>,
 *   delete: (path: string, options?: RequestOptions) => Promise<Json>}} Api
 */

/** An error from the API: `status` is the HTTP status (0 when the server could not be reached). */
export class ApiError extends Error {
  /** @param {string} message @param {number} status @param {unknown} [body] */
  constructor(message, status, body) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.body = body
  }
}

const REASONS = /** @type {Record<number, string>} */ ({
  400: 'bad request',
  401: 'the API key is missing or wrong',
  403: 'forbidden',
  404: 'not found',
  405: 'method not allowed',
  409: 'conflict',
  413: 'request too large',
  423: 'locked',
  429: 'too many requests',
  500: 'server error',
  502: 'bad gateway',
  503: 'service unavailable',
  504: 'gateway timeout',
})

/**
 * An API client for one mode: `createApi('/monitor', () => key)`.
 * Sends the key as `X-API-Key` when `getKey()` returns one; throws an `ApiError`
 * with a readable message ("POST /monitor/update: the API key is missing or wrong (401)").
 * `options.onUnauthorized(error)` is called on a 401 (the page shell opens its key dialog).
 */
/**
 * @param {string} base
 * @param {() => string | undefined} [getKey]
 * @param {{onUnauthorized?: (error: ApiError) => Promise<boolean>}} [options]
 * @returns {Api}
 */
export function createApi(base, getKey = () => undefined, options = {}) {
  const prefix = String(base || '').replace(/\/+$/, '')
  /** @param {string} method @param {string} path @param {unknown} body @param {RequestOptions} [requestOptions] @returns {Promise<Json>} */
  async function request(method, path, body, requestOptions = {}) {
    const url = prefix + (path.startsWith('/') ? path : '/' + path)
    /** @type {Record<string, string>} */
    const headers = {accept: 'application/json'}
    const key = getKey && getKey()
    if (key) headers['x-api-key'] = key
    /** @type {RequestInit} */
    const init = {method, headers, cache: 'no-store', credentials: 'same-origin', signal: requestOptions.signal}
    if (body !== undefined) {
      headers['content-type'] = 'application/json'
      init.body = JSON.stringify(body)
    }
    let response
    try {
      response = await fetch(url, init)
    } catch (error) {
      if (error instanceof Error && error.name === 'AbortError') throw error
      throw new ApiError(`${method} ${url}: the server cannot be reached`, 0)
    }
    const text = await response.text()
    let data
    if (text) {
      try {
        data = JSON.parse(text)
      } catch {
        data = text
      }
    }
    if (!response.ok) {
      const reason = describeError(data) || REASONS[response.status] || response.statusText || 'request failed'
      const error = new ApiError(`${method} ${url}: ${reason} (${response.status})`, response.status, data)
      // A change answered 401: ask for the key (the shell's dialog) and run it once more with the new key.
      if (
        response.status === 401 &&
        method !== 'GET' &&
        !requestOptions.retried &&
        typeof options.onUnauthorized === 'function'
      ) {
        if (await options.onUnauthorized(error)) return request(method, path, body, {...requestOptions, retried: true})
      }
      throw error
    }
    return data
  }
  return {
    base: prefix,
    get: (path, options) => request('GET', path, undefined, options),
    post: (path, body, options) => request('POST', path, body === undefined ? {} : body, options),
    delete: (path, options) => request('DELETE', path, undefined, options),
  }
}

/** @param {unknown} data */
function describeError(data) {
  if (!data) return ''
  if (typeof data === 'string') return data.length > 200 ? data.slice(0, 200) + '…' : data
  if (typeof data !== 'object') return ''
  const fields = /** @type {{error?: unknown, message?: unknown, reason?: unknown, hint?: unknown}} */ (data)
  /** @type {string[]} */
  const parts = []
  if (typeof fields.error === 'string')
    parts.push(fields.error === 'unauthorized' ? (REASONS[401] ?? '') : fields.error.replace(/_/g, ' '))
  if (typeof fields.message === 'string' && fields.message !== fields.error) parts.push(fields.message)
  if (typeof fields.reason === 'string') parts.push(fields.reason)
  if (typeof fields.hint === 'string') parts.push(`(${fields.hint})`)
  return parts.join(': ')
}

/**
 * Creates an element. `attrs`: `class`, `style` (string or object), `dataset` (object),
 * `on<event>` (function), boolean attributes (`disabled: true`), anything else as an attribute.
 * Children: nodes, strings, numbers, arrays, null/undefined/false (skipped).
 */
/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown> | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag)
  applyAttrs(node, attrs)
  append(node, children)
  return node
}

/** @param {HTMLElement} node @param {Record<string, unknown> | null | undefined} attrs */
function applyAttrs(node, attrs) {
  if (!attrs) return
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue
    if (name === 'class' || name === 'className')
      node.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : String(value))
    else if (name === 'style' && typeof value === 'object') Object.assign(node.style, value)
    else if (name === 'dataset') Object.assign(node.dataset, value)
    else if (name.startsWith('on') && typeof value === 'function')
      node.addEventListener(name.slice(2).toLowerCase(), /** @type {EventListener} */ (value))
    else if (name === 'text') node.textContent = String(value)
    else if (value === true) node.setAttribute(name, '')
    else if (name === 'value' && 'value' in node) /** @type {HTMLInputElement} */ (node).value = String(value)
    else node.setAttribute(name, String(value))
  }
}

/** @param {Node} node @param {ChildList} children */
function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false || child === true) continue
    if (Array.isArray(child)) append(node, child)
    else if (child instanceof Node) node.appendChild(child)
    else node.appendChild(document.createTextNode(String(child)))
  }
}

/** Replaces the children of `node`. */
/** @template {Element} N @param {N} node @param {...Child} children @returns {N} */
export function replace(node, ...children) {
  node.replaceChildren()
  append(node, children)
  return node
}

/**
 * A data table that turns into cards on a phone.
 * `columns`: `[{key, label, render?(row) → node|string, align?: 'num', className?}]` (or plain strings, used as key and label).
 * `rows`: objects. `options.empty`: text when there are no rows; `options.rowClass(row)`.
 */
/**
 * @template T
 * @param {(string | {key: string, label?: string, render?: (row: T) => Child, align?: 'num', className?: string})[]} columns
 * @param {T[] | undefined} rows
 * @param {{empty?: string, rowClass?: (row: T) => string | undefined}} [options]
 */
export function table(columns, rows, options = {}) {
  const cols = columns.map((c) => (typeof c === 'string' ? {key: c, label: c} : c))
  const head = el(
    'thead',
    null,
    el(
      'tr',
      null,
      cols.map((c) => el('th', {class: c.align === 'num' ? 'num' : undefined, scope: 'col'}, c.label ?? c.key)),
    ),
  )
  const body = el('tbody')
  if (!rows || rows.length === 0) {
    body.appendChild(
      el('tr', null, el('td', {class: 'empty', colspan: cols.length}, options.empty ?? 'Nothing here yet')),
    )
  } else {
    for (const row of rows) {
      const tr = el('tr', {class: options.rowClass ? options.rowClass(row) : undefined})
      for (const c of cols) {
        const value = /** @type {Child} */ (
          c.render ? c.render(row) : /** @type {Record<string, unknown>} */ (row)[c.key]
        )
        tr.appendChild(
          el(
            'td',
            {
              'data-label': c.label ?? c.key,
              class: [c.align === 'num' ? 'num' : '', c.className || ''].filter(Boolean).join(' ') || undefined,
            },
            value ?? '',
          ),
        )
      }
      body.appendChild(tr)
    }
  }
  return el('div', {class: 'table-wrap'}, el('table', {class: 'data'}, head, body))
}

/**
 * @template T
 * @typedef {{key: string, label: string, className?: string, render: (row: T) => Node | string | null}} KeyedColumn
 */

/**
 * A table whose rows are kept by key and changed in place: a row is redrawn only when its data changed,
 * rows move only when out of place, and the focused control comes back after a redraw (by its
 * `data-focus-key`), so refreshes never drop the keyboard focus, a half-typed value or an open row.
 * @template T
 * @param {KeyedColumn<T>[]} columns
 * @param {{key: (row: T) => string, className?: string, caption?: string, rowClass?: (row: T) => string | undefined}} options
 * @returns {{element: HTMLElement, update: (rows: T[], how: {empty: string, group?: (row: T) => string, extra?: (row: T) => string}) => void}}
 */
export function keyedTable(columns, options) {
  const tbody = el('tbody')
  const table = el(
    'table',
    {class: ['data', 'keyed', options.className]},
    options.caption ? el('caption', {class: 'visually-hidden'}, options.caption) : null,
    el(
      'thead',
      null,
      el(
        'tr',
        null,
        columns.map((c) => el('th', {scope: 'col', class: c.className}, c.label)),
      ),
    ),
    tbody,
  )
  /** @type {Map<string, {tr: HTMLTableRowElement, sig: string}>} */
  const entries = new Map()
  /** @type {Map<string, HTMLTableRowElement>} */
  const headers = new Map()
  const emptyCell = el('td', {class: 'empty', colspan: columns.length})
  const emptyRow = el('tr', {class: 'empty-row'}, emptyCell)
  return {
    element: el('div', {class: 'table-wrap'}, table),
    update(rows, how) {
      const active = document.activeElement
      const focusKey = active instanceof HTMLElement && tbody.contains(active) ? active.dataset.focusKey : undefined
      /** @type {Element[]} */
      const wanted = []
      const seen = new Set()
      /** @type {string | undefined} */
      let group
      // One group only: headers would add nothing.
      const grouping = how.group
      const grouped = grouping !== undefined && new Set(rows.map((row) => grouping(row) || '')).size > 1
      for (const row of rows) {
        if (grouped && how.group) {
          const name = how.group(row) || 'No stack or project'
          if (name !== group) {
            group = name
            let header = headers.get(name)
            if (!header) {
              header = /** @type {HTMLTableRowElement} */ (
                el('tr', {class: 'group-row'}, el('th', {colspan: columns.length, scope: 'colgroup'}, name))
              )
              headers.set(name, header)
            }
            wanted.push(header)
          }
        }
        const key = options.key(row)
        seen.add(key)
        let entry = entries.get(key)
        if (!entry) {
          entry = {tr: /** @type {HTMLTableRowElement} */ (el('tr', {'data-key': key})), sig: ''}
          entries.set(key, entry)
        }
        const sig = JSON.stringify(row) + (how.extra ? how.extra(row) : '')
        if (sig !== entry.sig) {
          entry.sig = sig
          const extra = options.rowClass ? options.rowClass(row) : undefined
          entry.tr.className = extra || ''
          replace(
            entry.tr,
            columns.map((c) => el('td', {'data-label': c.label || undefined, class: c.className}, c.render(row))),
          )
        }
        wanted.push(entry.tr)
      }
      for (const key of [...entries.keys()]) if (!seen.has(key)) entries.delete(key)
      if (rows.length === 0) {
        replace(emptyCell, how.empty)
        wanted.push(emptyRow)
      }
      placeRows(tbody, wanted)
      if (focusKey && document.activeElement !== active) {
        const again = tbody.querySelector(`[data-focus-key="${window.CSS.escape(focusKey)}"]`)
        if (again instanceof HTMLElement) again.focus()
      } else if (active instanceof HTMLElement && active.isConnected && document.activeElement !== active)
        active.focus()
    },
  }
}

/**
 * Makes `parent`'s children exactly `wanted`, in order, moving only the nodes out of place: a row that
 * stays where it was is never detached, so its focus, typed text and open details survive a refresh.
 * @param {Element} parent @param {Element[]} wanted
 */
export function placeRows(parent, wanted) {
  const keep = new Set(wanted)
  for (const child of [...parent.children]) if (!keep.has(child)) child.remove()
  /** @type {Element | null} */
  let cursor = parent.firstElementChild
  for (const node of wanted) {
    if (node === cursor) {
      cursor = cursor.nextElementSibling
      continue
    }
    parent.insertBefore(node, cursor)
  }
}

/** A badge: `badge('running', 'ok')`; kinds: ok, warn, bad, info. */
/** @param {string} text @param {string} [kind] */
export function badge(text, kind) {
  return el('span', {class: ['badge', kind]}, text)
}

/**
 * An inline SVG sparkline of `values` (numbers; null/NaN are gaps treated as 0).
 * Options: width (120), height (28), min, max (default: the data's), fill (true), title.
 */
/**
 * @param {(number | null | undefined)[]} values
 * @param {{width?: number, height?: number, min?: number, max?: number, fill?: boolean, title?: string}} [options]
 */
export function sparkline(values, options = {}) {
  const width = options.width ?? 120
  const height = options.height ?? 28
  const data = (values || []).map((v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0))
  const svg = document.createElementNS(SVG_NS, 'svg')
  svg.setAttribute('class', 'sparkline')
  svg.setAttribute('width', String(width))
  svg.setAttribute('height', String(height))
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`)
  svg.setAttribute('role', 'img')
  const last = data.length ? data[data.length - 1] : undefined
  svg.setAttribute('aria-label', options.title ?? (last === undefined ? 'no data' : `latest ${last}`))
  if (options.title) {
    const title = document.createElementNS(SVG_NS, 'title')
    title.textContent = options.title
    svg.appendChild(title)
  }
  if (data.length === 0) return svg
  const min = options.min ?? Math.min(...data)
  let max = options.max ?? Math.max(...data)
  if (max === min) max = min + 1
  const pad = 1.5
  const step = data.length > 1 ? (width - 2 * pad) / (data.length - 1) : 0
  const points = data.map((v, i) => {
    const x = pad + i * step
    const y = height - pad - ((Math.min(Math.max(v, min), max) - min) / (max - min)) * (height - 2 * pad)
    return [Number(x.toFixed(2)), Number(y.toFixed(2))]
  })
  const first = /** @type {number[]} */ (points[0])
  if (points.length === 1) points.push([width - pad, first[1] ?? 0])
  const line = points.map(([x, y], i) => `${i ? 'L' : 'M'}${x} ${y}`).join(' ')
  if (options.fill !== false) {
    const area = document.createElementNS(SVG_NS, 'path')
    area.setAttribute('class', 'area')
    const last = /** @type {number[]} */ (points[points.length - 1])
    area.setAttribute('d', `${line} L${last[0]} ${height} L${first[0]} ${height} Z`)
    svg.appendChild(area)
  }
  const path = document.createElementNS(SVG_NS, 'path')
  path.setAttribute('class', 'line')
  path.setAttribute('d', line)
  svg.appendChild(path)
  return svg
}

/**
 * Asks before an action that changes something. Resolves true on confirm, false on cancel/Escape.
 * Options: confirmLabel ('Confirm'), danger (false).
 */
/**
 * @param {string | Node} text
 * @param {{confirmLabel?: string, cancelLabel?: string, danger?: boolean}} [options]
 * @returns {Promise<boolean>}
 */
export function confirmDialog(text, options = {}) {
  return new Promise((resolve) => {
    const cancel = el('button', {type: 'button', value: 'cancel'}, options.cancelLabel ?? 'Cancel')
    const ok = el(
      'button',
      {type: 'button', value: 'ok', class: options.danger ? 'danger' : 'primary'},
      options.confirmLabel ?? 'Confirm',
    )
    const dialog = el(
      'dialog',
      {class: 'confirm', role: 'alertdialog', 'aria-modal': 'true'},
      text instanceof Node ? text : el('p', null, text),
      el('div', {class: 'actions'}, cancel, ok),
    )
    let settled = false
    const finish = (/** @type {boolean} */ answer) => {
      if (settled) return
      settled = true
      if (dialog.open) dialog.close()
      dialog.remove()
      resolve(answer)
    }
    cancel.addEventListener('click', () => finish(false))
    ok.addEventListener('click', () => finish(true))
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault()
      finish(false)
    })
    dialog.addEventListener('close', () => finish(false))
    document.body.appendChild(dialog)
    if (typeof dialog.showModal === 'function') dialog.showModal()
    else dialog.setAttribute('open', '')
    // Cancel takes the focus: Enter on a risky question must not confirm it.
    cancel.focus()
  })
}

/** A short message in the corner: `toast('Updated', 'ok')`, `toast(error.message, 'error')`. */
/** @param {string} message @param {string} [kind] @param {number} [ms] */
export function toast(message, kind = 'info', ms = 5000) {
  let holder = document.querySelector('.toasts')
  if (!holder) {
    holder = el('div', {class: 'toasts', role: 'status', 'aria-live': 'polite'})
    document.body.appendChild(holder)
  }
  const toasts = holder
  // Failures stay until dismissed: a person must be able to read why.
  const close = el('button', {type: 'button', class: 'link', 'aria-label': 'Dismiss'}, '×')
  const node = el('div', {class: ['toast', kind]}, el('span', null, message), close)
  close.addEventListener('click', () => node.remove())
  toasts.appendChild(node)
  if (kind !== 'error') setTimeout(() => node.remove(), ms)
  while (toasts.children.length > 5) toasts.firstElementChild?.remove()
  return node
}

/**
 * Runs a changing action: asks `question`, disables `button` while it runs, reports the result as a toast.
 * Returns the action's result, or undefined when cancelled or failed.
 */
/** @param {string} question @param {() => Promise<any>} action @param {{button?: HTMLButtonElement, done?: string | ((result: any) => string), danger?: boolean}} [options] */
export async function confirmAndRun(question, action, {button, done, danger} = {}) {
  if (!(await confirmDialog(question, {danger}))) return undefined
  if (button) button.disabled = true
  try {
    const result = await action()
    if (done) toast(typeof done === 'function' ? done(result) : done, 'ok')
    return result
  } catch (error) {
    toast(error instanceof Error ? error.message : String(error), 'error', 9000)
    return undefined
  } finally {
    if (button) button.disabled = false
  }
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/** 1536 → "1.5 KiB"; null/undefined → "–". */
/** @param {number | null | undefined} bytes @param {number} [digits] */
export function formatBytes(bytes, digits = 1) {
  if (bytes === null || bytes === undefined || !Number.isFinite(Number(bytes))) return '–'
  let value = Math.abs(Number(bytes))
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  const sign = Number(bytes) < 0 ? '-' : ''
  return `${sign}${unit === 0 ? value : value.toFixed(value >= 100 ? 0 : digits)} ${UNITS[unit]}`
}

/** A date (Date, ISO string or epoch ms) as "just now", "5 min ago", "3 h ago", "2 d ago", or "in 5 min". */
/** @param {Date | string | number | null | undefined} when @param {number} [now] */
export function formatAgo(when, now = Date.now()) {
  if (when === null || when === undefined || when === '') return 'never'
  const time = when instanceof Date ? when.getTime() : typeof when === 'number' ? when : Date.parse(when)
  if (!Number.isFinite(time)) return '–'
  const seconds = Math.round((now - time) / 1000)
  const future = seconds < 0
  const s = Math.abs(seconds)
  let text
  if (s < 10) return 'just now'
  if (s < 60) text = `${s} s`
  else if (s < 3600) text = `${Math.round(s / 60)} min`
  else if (s < 86_400) text = `${Math.round(s / 3600)} h`
  else if (s < 86_400 * 60) text = `${Math.round(s / 86_400)} d`
  else return new Date(time).toISOString().slice(0, 10)
  return future ? `in ${text}` : `${text} ago`
}

/** "12.3 %" for a 0–100 number. */
/** @param {number | null | undefined} value @param {number} [digits] */
export function formatPercent(value, digits = 1) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return '–'
  return `${Number(value).toFixed(digits)} %`
}

/** A <time> element with the relative text and the exact time as tooltip. */
/** @param {Date | string | number | null | undefined} when */
export function timeAgo(when) {
  if (!when) return el('span', {class: 'muted'}, 'never')
  const date = new Date(when)
  return el(
    'time',
    {
      datetime: Number.isFinite(date.getTime()) ? date.toISOString() : undefined,
      title: Number.isFinite(date.getTime()) ? date.toLocaleString() : undefined,
    },
    formatAgo(when),
  )
}

/**
 * Calls `fn` now and every `ms` while the page is visible; returns a stop function.
 * Failures are passed to `onError` (default: ignored) so one bad poll does not stop the loop.
 */
/** @param {() => Promise<unknown>} fn @param {number} ms @param {(error: any) => void} [onError] */
export function poll(fn, ms, onError = () => {}) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer
  let stopped = false
  const tick = async () => {
    if (stopped) return
    if (document.visibilityState !== 'hidden') {
      try {
        await fn()
      } catch (error) {
        onError(error)
      }
    }
    if (!stopped) timer = setTimeout(tick, ms)
  }
  void tick()
  return () => {
    stopped = true
    clearTimeout(timer)
  }
}

const THEME_KEY = 'homeops-theme'

function storedTheme() {
  try {
    return window.localStorage.getItem(THEME_KEY)
  } catch {
    return null // storage disabled: follow the system
  }
}

function effectiveTheme() {
  const chosen = document.documentElement.dataset.theme
  if (chosen === 'dark' || chosen === 'light') return chosen
  return window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'
}

/** @param {string | null} theme @param {HTMLElement | null | undefined} button */
function applyTheme(theme, button) {
  if (theme === 'dark' || theme === 'light') document.documentElement.dataset.theme = theme
  else delete document.documentElement.dataset.theme
  if (button) {
    const next = effectiveTheme() === 'dark' ? 'light' : 'dark'
    button.textContent = next === 'dark' ? '☾ Dark' : '☀ Light'
    button.title = `Switch to the ${next} theme`
  }
}

/** The dark/light toggle of every page: the choice is remembered; without one the system setting applies. */
/** @param {HTMLElement | null} button */
export function setupThemeToggle(button) {
  applyTheme(storedTheme(), button)
  button?.addEventListener('click', () => {
    const next = effectiveTheme() === 'dark' ? 'light' : 'dark'
    try {
      window.localStorage.setItem(THEME_KEY, next)
    } catch {
      // not persisted
    }
    applyTheme(next, button)
  })
}
