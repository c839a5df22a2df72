import type {Column, Tone} from '../ui/terminal.js'
import type {ContainerRow} from './service.js'

/** `1.5 GiB`, like `docker stats` (binary units). */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`
}

export function formatPercent(value: number | null | undefined): string {
  return value === null || value === undefined ? '-' : `${value.toFixed(value >= 100 ? 0 : 1)}%`
}

export function updateTone(status: string | null): Tone {
  if (status === 'up_to_date') return 'ok'
  if (status === 'update_available') return 'warn'
  if (status === 'registry_error') return 'bad'
  return 'muted'
}

/**
 * Both update notions in one cell: the tag's digest (`update available` when the tag moved) and a newer
 * tag the `images` strategy allows, from the last `images check` (`· 1.1.0 allowed`).
 */
export function updateText(r: ContainerRow): string {
  const digest = (r.update ?? 'not checked').replace(/_/g, ' ')
  return r.version_update ? `${digest} · ${r.version_update} allowed` : digest
}

export function stateTone(state: string): Tone {
  if (state === 'running') return 'ok'
  if (state === 'restarting' || state === 'paused' || state === 'created') return 'warn'
  return 'bad'
}

export const statusColumns: Column<ContainerRow>[] = [
  {header: 'name', value: (r) => r.name},
  {header: 'state', value: (r) => r.state, tone: (r) => stateTone(r.state)},
  {header: 'image', value: (r) => r.image},
  {
    header: 'update',
    value: updateText,
    tone: (r) => (r.version_update && r.update !== 'registry_error' ? 'warn' : updateTone(r.update)),
  },
  {header: 'cpu', value: (r) => formatPercent(r.cpu), align: 'right'},
  {
    header: 'memory',
    value: (r) =>
      r.mem_usage === null
        ? '-'
        : `${formatBytes(r.mem_usage)} / ${formatBytes(r.mem_limit)} (${formatPercent(r.mem_perc)})`,
    align: 'right',
  },
  {
    header: 'net rx/tx',
    value: (r) => (r.net_rx === null ? '-' : `${formatBytes(r.net_rx)} / ${formatBytes(r.net_tx)}`),
    align: 'right',
  },
  {
    header: 'block r/w',
    value: (r) => (r.blk_read === null ? '-' : `${formatBytes(r.blk_read)} / ${formatBytes(r.blk_write)}`),
    align: 'right',
  },
]
