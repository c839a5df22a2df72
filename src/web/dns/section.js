// @ts-check
// DNS section: the records the server answers, with their source; listening addresses, zones, counters.
// Used by `homeops serve` (mounted under /dns) and by the page of `homeops dns serve`.
import {badge, el, poll, replace, table, timeAgo} from '../shared/ui.js'

/** @typedef {import('/web/shared/ui.js').Json} Json @typedef {import('/web/shared/ui.js').SectionContext} SectionContext @typedef {import('/web/shared/ui.js').Api} Api */

const KIND_BADGE = /** @type {Record<string, string>} */ ({static: 'info', hosts: 'ok', swarm: 'warn', docker: 'ok'})

/** @param {string} source */
function sourceCell(source) {
  return el(
    'span',
    {class: 'dns-sources'},
    String(source)
      .split(',')
      .map((s) => {
        const kind = s.split(':')[0]
        return el('span', {class: 'dns-source'}, badge(kind, KIND_BADGE[kind] ?? 'info'), ' ', s.slice(kind.length + 1))
      }),
  )
}

/** @param {Json} snapshot */
function summary(snapshot) {
  const items = [
    ['Listening', (snapshot.listening || []).join('  ') || '—'],
    ['Zones', (snapshot.zones || []).join(', ') || '(none)'],
    ['Host IP', `${(snapshot.hostIp?.addresses || []).join(', ')} (${snapshot.hostIp?.origin ?? '?'})`],
    ['Upstreams', upstreamsText(snapshot)],
    ['Queries', String(snapshot.queries?.total ?? 0)],
    [
      'Answers',
      Object.entries(snapshot.queries?.byRcode || {})
        .map(([k, v]) => `${k} ${v}`)
        .join(' · ') || '—',
    ],
    ['Docker', dockerText(snapshot.docker)],
    ['Up since', snapshot.startedAt ? timeAgo(snapshot.startedAt) : '—'],
  ]
  return el(
    'dl',
    {class: 'dns-summary'},
    items.flatMap(([k, v]) => [el('dt', null, k), el('dd', null, v)]),
  )
}

/** Each upstream, flagged when it has not answered its last three questions. */
const DEAD_AFTER = 3
/** @param {Json} snapshot @returns {[string, Json][]} */
function deadUpstreams(snapshot) {
  return Object.entries(snapshot.upstreamHealth || {}).filter(([, h]) => h.failuresInRow >= DEAD_AFTER)
}

/** @param {Json} snapshot */
function upstreamsText(snapshot) {
  const list = snapshot.upstreams || []
  if (!list.length) return 'none: other names are refused'
  const dead = new Map(deadUpstreams(snapshot))
  return el(
    'span',
    null,
    list.map((/** @type {Json} */ u, /** @type {number} */ i) => {
      const h = dead.get(u) ?? dead.get(`${u}:53`) ?? dead.get(`[${u}]:53`)
      return [i ? ', ' : '', u, h ? [' ', badge(`not answering (${h.failuresInRow} failures in a row)`, 'bad')] : '']
    }),
  )
}

/** @param {Json} docker */
function dockerText(docker) {
  if (!docker) return 'not used'
  if (!docker.connected) return badge(`not connected${docker.lastError ? ': ' + docker.lastError : ''}`, 'bad')
  return `${docker.containers} containers, ${docker.services} services (${docker.swarm})`
}

function ensureStyles() {
  if (document.querySelector('link[data-dns-styles]')) return
  const link = el('link', {
    rel: 'stylesheet',
    href: new URL('./section.css', import.meta.url).href,
    'data-dns-styles': true,
  })
  document.head.appendChild(link)
}

/** @param {HTMLElement} element @param {Api} api @param {SectionContext} [context] */
export async function mount(element, api, context = {}) {
  ensureStyles()
  const state = {filter: ''}
  const head = el('div', {class: 'dns-head'})
  const search = el('input', {
    type: 'search',
    placeholder: 'Filter names, addresses, sources',
    'aria-label': 'Filter records',
    oninput: (/** @type {Event} */ event) => {
      state.filter = /** @type {HTMLInputElement} */ (event.target).value.trim().toLowerCase()
      render()
    },
  })
  const conflicts = el('div', {class: 'dns-conflicts'})
  const records = el('div', {class: 'dns-records'})
  const error = el('p', {class: 'dns-error', role: 'alert', hidden: true})
  replace(element, error, head, conflicts, el('div', {class: 'dns-toolbar'}, search), records)
  /** @type {Json} */
  let last
  let lastConflicts = ''
  let lastRecords = ''

  function render() {
    if (!last) return
    replace(head, summary(last))
    // Rebuilt only when they change, so an open conflicts list stays open and focus stays put.
    const conflictSig = JSON.stringify(last.conflicts || [])
    if (conflictSig !== lastConflicts) {
      lastConflicts = conflictSig
      const wasOpen = Boolean(conflicts.querySelector('details')?.open)
      replace(
        conflicts,
        (last.conflicts || []).length === 0
          ? null
          : el(
              'details',
              null,
              el(
                'summary',
                null,
                badge(`${last.conflicts.length} conflicts`, 'warn'),
                ' names defined by several sources',
              ),
              el(
                'ul',
                null,
                last.conflicts.map((/** @type {Json} */ c) =>
                  el('li', null, `${c.name}: serving ${c.winner}, ignoring ${c.ignored}`),
                ),
              ),
            ),
      )
      const details = conflicts.querySelector('details')
      if (details && wasOpen) details.open = true
    }
    const recordSig = JSON.stringify([last.records || [], state.filter])
    if (recordSig === lastRecords) return
    lastRecords = recordSig
    const rows = (last.records || []).filter(
      (/** @type {Json} */ r) =>
        !state.filter || `${r.name} ${r.type} ${r.value} ${r.source}`.toLowerCase().includes(state.filter),
    )
    replace(
      records,
      table(
        [
          {key: 'name', label: 'Name', className: 'mono'},
          {key: 'type', label: 'Type'},
          {key: 'value', label: 'Answer', className: 'mono'},
          {key: 'ttl', label: 'TTL', align: 'num'},
          {key: 'source', label: 'Source', render: (r) => sourceCell(r.source)},
        ],
        rows,
        {
          empty: state.filter
            ? 'No record matches the filter'
            : 'No records yet: label a container with homeops.dns.name',
        },
      ),
      (last.records || []).length < (last.recordCount || 0)
        ? el(
            'p',
            {class: 'notice'},
            `Showing the first ${last.records.length} of ${last.recordCount} records (all of them: /dns/records).`,
          )
        : null,
    )
  }

  const stop = poll(
    async () => {
      last = await api.get('/snapshot')
      context.attention?.(
        deadUpstreams(last).map(([u, h]) => ({
          text: `DNS upstream ${u} not answering (${h.failuresInRow} failures in a row)`,
          href: '#mode-dns',
        })),
      )
      error.hidden = true
      render()
    },
    5000,
    (e) => {
      error.hidden = false
      error.textContent = e.message
    },
  )
  return stop
}
