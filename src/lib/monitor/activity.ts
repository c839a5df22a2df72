/** One action on the monitor, whoever started it (web page, Home Assistant, another browser). */
export interface ActivityEntry {
  id: number
  action: string
  target: string
  /** Where it came from: `web` or `api`, and the client address. */
  by: string
  started: string
  finished?: string
  state: 'running' | 'ok' | 'failed'
  /** The step in progress, then the last one done. */
  step?: string
  steps: string[]
  message?: string
}

const MAX_ENTRIES = 200
const MAX_TEXT = 500

/**
 * The shared, bounded history of the monitor's actions (updates, prunes,
 * settings changes), newest first; in memory, so a restart starts it afresh.
 */
export class ActivityLog {
  private readonly entries: ActivityEntry[] = []
  private next = 1

  begin(action: string, target: string, by: string): ActivityRecord {
    const entry: ActivityEntry = {
      id: this.next++,
      action,
      target: target.slice(0, 200),
      by: by.slice(0, 100),
      started: new Date().toISOString(),
      state: 'running',
      steps: [],
    }
    this.entries.unshift(entry)
    if (this.entries.length > MAX_ENTRIES) this.entries.length = MAX_ENTRIES
    return {
      step(name) {
        entry.step = name
        if (entry.steps.length < 20) entry.steps.push(name)
      },
      finish(ok, message) {
        entry.state = ok ? 'ok' : 'failed'
        entry.finished = new Date().toISOString()
        entry.message = message.slice(0, MAX_TEXT)
      },
    }
  }

  list(limit = 50): ActivityEntry[] {
    return this.entries.slice(0, Math.max(1, Math.min(limit, MAX_ENTRIES)))
  }
}

export interface ActivityRecord {
  step(name: string): void
  finish(ok: boolean, message: string): void
}
