// Dynamic DNS section of the homeops web UI: records with the address each provider holds, the
// addresses detected now, blocks and back-off, and a timeline of past updates.
// Plain DOM; `api` is the mode's client (`/ddns/...`): GET /status and GET /history.
import {badge, el, poll, replace, table, timeAgo} from '/web/shared/ui.js'

const RESULT_KIND = {good: 'ok', nochg: 'ok', 911: 'warn', dnserr: 'warn', timeout: 'warn', network: 'warn'}

function resultBadge(result) {
  if (!result) return el('span', {class: 'muted'}, 'never sent')
  const kind = RESULT_KIND[result] ?? (String(result).startsWith('http-5') ? 'warn' : 'bad')
  return badge(result, kind)
}

function family(value) {
  return value === 'ipv6' ? 'IPv6' : 'IPv4'
}

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

export function mount(element, api) {
  const summary = el('p', {class: 'muted small', 'data-testid': 'ddns-summary'}, 'Loading…')
  const error = el('p', {class: 'notice error', hidden: true, 'data-testid': 'ddns-error'})
  const records = el('div', {'data-testid': 'ddns-records'})
  const timeline = el('ol', {class: 'timeline', 'data-testid': 'ddns-history', style: {paddingLeft: '1.2em'}})
  replace(element, summary, error, el('h3', null, 'Records'), records, el('h3', null, 'History'), timeline)

  function renderStatus(status) {
    const ips = status.currentIps || {}
    const families = new Set((status.records || []).map((r) => r.family))
    const parts = []
    if (families.has('ipv4')) parts.push(`IPv4 ${ips.ipv4 ?? '–'}`)
    if (families.has('ipv6')) parts.push(`IPv6 ${ips.ipv6 ?? '–'}`)
    if (status.checks !== undefined) parts.push(`${status.checks} check${status.checks === 1 ? '' : 's'}`)
    if (status.updates) parts.push(`${status.updates.ok} updates ok, ${status.updates.failed} failed`)
    if (status.nextCheckAt) parts.push(`next check ${new Date(status.nextCheckAt).toLocaleTimeString()}`)
    replace(summary, parts.join(' · '))
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
        ],
        status.records || [],
        {empty: 'No record configured.', rowClass: (r) => (r.blocked ? 'bad' : undefined)},
      ),
    )
  }

  function renderHistory(history) {
    const entries = history.entries || []
    if (entries.length === 0) {
      replace(timeline, el('li', {class: 'muted'}, 'No update sent yet.'))
      return
    }
    replace(
      timeline,
      entries.map((e) =>
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

  return poll(
    async () => {
      const [status, history] = await Promise.all([api.get('/status'), api.get('/history?limit=30')])
      error.hidden = true
      renderStatus(status)
      renderHistory(history)
    },
    15_000,
    (e) => {
      error.hidden = false
      replace(error, e.message)
    },
  )
}
