// @ts-check
// Dynamic DNS section of the homeops web UI: records with the address each provider holds, the
// addresses detected now, blocks and back-off, and a timeline of past updates.
// Plain DOM; `api` is the mode's client (`/ddns/...`): GET /status and GET /history.
import {badge, confirmDialog, el, poll, replace, table, timeAgo, toast} from '/web/shared/ui.js'

/** @typedef {import('/web/shared/ui.js').Json} Json @typedef {import('/web/shared/ui.js').SectionContext} SectionContext @typedef {import('/web/shared/ui.js').Api} Api */

const RESULT_KIND = /** @type {Record<string, string>} */ ({
  good: 'ok',
  nochg: 'ok',
  911: 'warn',
  dnserr: 'warn',
  timeout: 'warn',
  network: 'warn',
})

/** @param {Json} result */
function resultBadge(result) {
  if (!result) return el('span', {class: 'muted'}, 'never sent')
  const kind = RESULT_KIND[result] ?? (String(result).startsWith('http-5') ? 'warn' : 'bad')
  return badge(result, kind)
}

/** @param {Json} value */
function family(value) {
  return value === 'ipv6' ? 'IPv6' : 'IPv4'
}

/** @param {Json} record */
function state(record) {
  if (record.blocked) {
    const why = record.blocked.hint ? ` (${record.blocked.hint})` : ''
    return el(
      'span',
      {title: 'Nothing is sent until its configuration changes or `homeops ddns update --force`.'},
      badge('blocked', 'bad'),
      ` ${record.blocked.reason}${why}`,
    )
  }
  if (record.nextAttemptNotBefore) {
    return el('span', null, badge('back-off', 'warn'), ' next attempt ', timeAgo(record.nextAttemptNotBefore))
  }
  return badge('ok', 'ok')
}

/** @param {HTMLElement} element @param {Api} api @param {SectionContext} [context] */
export function mount(element, api, context = {}) {
  const busy = new Set()
  let lastSignature = ''

  // Retry a record in back-off, or force one a provider blocked (badauth…), through POST /ddns/update.
  /** @param {Json} record @param {HTMLButtonElement} button */
  async function resend(record, button) {
    const force = Boolean(record.blocked)
    if (force) {
      const ok = await confirmDialog(
        `Send ${record.record} again although ${record.provider} answered "${record.blocked.reason}"? Fix the cause first (credentials, hostname): some providers lock accounts that keep sending refused updates.`,
        {danger: true, confirmLabel: `Force ${record.record}`},
      )
      if (!ok) return
    }
    busy.add(record.record)
    button.disabled = true
    button.textContent = 'Sending…'
    try {
      const result = await api.post('/update', {record: record.record, force})
      const mine = (result.records || []).filter((/** @type {Json} */ r) => r.record === record.record)
      const failed = mine.some((/** @type {Json} */ r) => !['good', 'nochg', 'unchanged'].includes(r.result))
      toast(
        mine.length
          ? mine.map((/** @type {Json} */ r) => `${r.record} ${family(r.family)}: ${r.message}`).join(' · ')
          : 'Nothing was sent',
        failed ? 'error' : 'ok',
      )
    } catch (e) {
      toast(`${record.record}: ${e instanceof Error ? e.message : String(e)}`, 'error')
    } finally {
      busy.delete(record.record)
      lastSignature = ''
      await refresh().catch(() => {})
    }
  }

  /** @param {Json} r */
  function actionCell(r) {
    if (!r.blocked && !r.nextAttemptNotBefore) return ''
    const label = r.blocked ? 'Force send' : 'Retry now'
    const button = el(
      'button',
      {type: 'button', 'data-record': r.record, 'aria-label': `${label} ${r.record}`, disabled: busy.has(r.record)},
      busy.has(r.record) ? 'Sending…' : label,
    )
    button.addEventListener('click', () => void resend(r, button))
    return button
  }

  const summary = el('p', {class: 'muted small', 'data-testid': 'ddns-summary'}, 'Loading…')
  const error = el('p', {class: 'notice error', hidden: true, 'data-testid': 'ddns-error'})
  const records = el('div', {'data-testid': 'ddns-records'})
  const timeline = el('ol', {class: 'timeline', 'data-testid': 'ddns-history', style: {paddingLeft: '1.2em'}})
  replace(element, summary, error, el('h3', null, 'Records'), records, el('h3', null, 'History'), timeline)

  /** @param {Json} status */
  function renderStatus(status) {
    const ips = status.currentIps || {}
    const families = new Set((status.records || []).map((/** @type {Json} */ r) => r.family))
    const parts = []
    if (families.has('ipv4')) parts.push(`IPv4 ${ips.ipv4 ?? '–'}`)
    if (families.has('ipv6')) parts.push(`IPv6 ${ips.ipv6 ?? '–'}`)
    if (status.checks !== undefined) parts.push(`${status.checks} check${status.checks === 1 ? '' : 's'}`)
    if (status.updates) parts.push(`${status.updates.ok} updates ok, ${status.updates.failed} failed`)
    if (status.nextCheckAt) parts.push(`next check ${new Date(status.nextCheckAt).toLocaleTimeString()}`)
    replace(summary, parts.join(' · '))
    const blocked = (status.records || []).filter((/** @type {Json} */ r) => r.blocked)
    context.attention?.(
      blocked.map((/** @type {Json} */ r) => ({
        text: `DNS record ${r.record}: blocked (${r.blocked.reason})`,
        href: '#mode-ddns',
      })),
    )
    const signature = JSON.stringify([status.records, [...busy]])
    if (signature === lastSignature) return
    lastSignature = signature
    replace(
      records,
      table(
        [
          {key: 'record', label: 'Record', render: (r) => el('span', {title: r.hostname}, r.record)},
          {key: 'provider', label: 'Provider'},
          {key: 'family', label: 'Family', render: (r) => family(r.family)},
          {key: 'lastIp', label: 'Provider has', render: (r) => el('code', null, r.lastIp ?? '–')},
          {key: 'lastResult', label: 'Last result', render: (r) => resultBadge(r.lastResult)},
          {key: 'lastResultAt', label: 'When', render: (r) => timeAgo(r.lastResultAt)},
          {key: 'lastCheckedAt', label: 'Checked', render: (r) => timeAgo(r.lastCheckedAt)},
          {key: 'state', label: 'State', render: state},
          {key: 'action', label: 'Actions', render: actionCell},
        ],
        status.records || [],
        {empty: 'No record configured.', rowClass: (r) => (r.blocked ? 'bad' : undefined)},
      ),
    )
  }

  /** @param {Json} history */
  function renderHistory(history) {
    const entries = history.entries || []
    if (entries.length === 0) {
      replace(timeline, el('li', {class: 'muted'}, 'No update sent yet.'))
      return
    }
    replace(
      timeline,
      entries.map((/** @type {Json} */ e) =>
        el(
          'li',
          {'data-result': e.result},
          timeAgo(e.at),
          ' ',
          el('strong', null, e.record),
          ` ${family(e.family)} `,
          el('code', null, e.previousIp ?? '(none)'),
          ' → ',
          el('code', null, e.ip ?? '–'),
          ' ',
          resultBadge(e.result),
          e.answer ? el('span', {class: 'small muted'}, ` ${e.answer}`) : null,
        ),
      ),
    )
  }

  async function refresh() {
    const [status, history] = await Promise.all([api.get('/status'), api.get('/history?limit=30')])
    error.hidden = true
    renderStatus(status)
    renderHistory(history)
  }

  return poll(refresh, 15_000, (e) => {
    error.hidden = false
    replace(error, e.message)
  })
}
