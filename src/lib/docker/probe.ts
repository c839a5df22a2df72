import {errorMessage} from '../errors.js'
import {withDeadline} from '../time/deadline.js'

export interface DockerProbeResult {
  reachable: boolean
  /** When the daemon was last asked (ISO time). */
  checkedAt: string
  error?: string
}

export interface DockerProbeOptions {
  /** Sends one ping; `timeoutMs` is the limit the probe allows it. */
  ping: (timeoutMs: number) => Promise<void>
  /** How long an answer is reused (default 5 s): health checks poll often, the daemon need not hear each one. */
  cacheMs?: number
  /** A ping slower than this counts as "not answering" (default 2 s). */
  timeoutMs?: number
}

/**
 * Whether the Docker daemon answers now, for `/health`: one ping with a short
 * limit, shared by concurrent callers and cached for a few seconds. A frozen
 * daemon (accepts, never answers) reads as unreachable within `timeoutMs`.
 */
export class DockerProbe {
  private last?: {result: DockerProbeResult; at: number}
  private running?: Promise<DockerProbeResult>

  constructor(private readonly options: DockerProbeOptions) {}

  check(): Promise<DockerProbeResult> {
    if (this.last && Date.now() - this.last.at < (this.options.cacheMs ?? 5000))
      return Promise.resolve(this.last.result)
    this.running ??= this.probe().finally(() => {
      this.running = undefined
    })
    return this.running
  }

  private async probe(): Promise<DockerProbeResult> {
    const timeoutMs = this.options.timeoutMs ?? 2000
    const at = Date.now()
    let result: DockerProbeResult
    try {
      await withDeadline(this.options.ping(timeoutMs), timeoutMs, () => {
        throw new Error(`the Docker daemon did not answer a ping within ${timeoutMs / 1000} s`)
      })
      result = {reachable: true, checkedAt: new Date(at).toISOString()}
    } catch (error) {
      result = {reachable: false, checkedAt: new Date(at).toISOString(), error: errorMessage(error)}
    }
    this.last = {result, at}
    return result
  }
}
