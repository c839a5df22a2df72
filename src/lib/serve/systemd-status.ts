import type {Notifier} from '../systemd/notify.js'
import {type Clock, type LongTimeout, longTimeout} from '../time/sleep.js'
import type {ModeStatus} from './supervisor.js'

/** `3/4 modes up; down: dns (bind EADDRINUSE)` — systemd STATUS= and the ready log line. */
export function statusLine(statuses: ModeStatus[]): string {
  if (statuses.length === 0) return 'no modes enabled'
  const up = statuses.filter((s) => s.up)
  const down = statuses.filter((s) => !s.up)
  const text = `${up.length}/${statuses.length} modes up`
  if (down.length === 0) return text
  return `${text}; down: ${down.map((s) => s.name + (s.lastError ? ` (${s.lastError.slice(0, 80)})` : '')).join(', ')}`
}

/**
 * systemd's STATUS= line, kept current as modes change state: changes within
 * 100 ms are coalesced into one notification, and an unchanged line is not sent again.
 */
export class SystemdStatus {
  private timer: LongTimeout | undefined
  private last = ''

  constructor(
    private readonly notifier: Pick<Notifier, 'socket' | 'status' | 'ready'> | undefined,
    private readonly statuses: () => ModeStatus[],
    private readonly clock?: Clock,
  ) {}

  /** A mode changed state. */
  changed(): void {
    if (!this.notifier?.socket || this.timer) return
    this.timer = longTimeout(
      () => {
        this.timer = undefined
        const text = statusLine(this.statuses())
        if (text !== this.last) void this.notifier?.status(text)
        this.last = text
      },
      100,
      {clock: this.clock, unref: true},
    )
  }

  /** READY=1 with the current line (start-up, and after a reload). */
  async ready(): Promise<void> {
    const text = statusLine(this.statuses())
    this.last = text
    await this.notifier?.ready(text)
  }

  cancel(): void {
    this.timer?.cancel()
    this.timer = undefined
  }
}
