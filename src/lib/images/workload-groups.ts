import type {Context} from '../context.js'

const FRESH_MS = 5 * 60_000
/** A slow Docker must not hold the page's first answer: without groups now, with them at the next refresh. */
const FIRST_WAIT_MS = 2000

/** The stack or compose project of each workload, for the page's grouping; read at most every 5 minutes. */
export class WorkloadGroups {
  private cache: {at: number; groups: Map<string, string>} | undefined
  private loading: Promise<Map<string, string>> | undefined

  constructor(private readonly context: () => Context) {}

  /** Read again at the next use (a check just ran: workloads may have come or gone). */
  invalidate(): void {
    if (this.cache) this.cache.at = 0
  }

  async get(): Promise<Map<string, string>> {
    if (!this.cache) {
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<Map<string, string>>((resolve) => {
        timer = setTimeout(() => resolve(new Map()), FIRST_WAIT_MS)
      })
      return await Promise.race([this.reload(), late]).finally(() => clearTimeout(timer))
    }
    if (Date.now() - this.cache.at > FRESH_MS) void this.reload()
    return this.cache.groups
  }

  private reload(): Promise<Map<string, string>> {
    this.loading ??= this.load().finally(() => (this.loading = undefined))
    return this.loading
  }

  private async load(): Promise<Map<string, string>> {
    try {
      const {visibleWorkloads} = await import('./watcher.js')
      const groups = new Map(
        (await visibleWorkloads(this.context())).map((w) => [
          w.name,
          w.labels['com.docker.stack.namespace'] ?? w.labels['com.docker.compose.project'] ?? '',
        ]),
      )
      this.cache = {at: Date.now(), groups}
      return groups
    } catch {
      // Docker unreachable: no grouping now, tried again at the next refresh.
      const groups = this.cache?.groups ?? new Map<string, string>()
      this.cache = {at: Date.now(), groups}
      return groups
    }
  }
}
