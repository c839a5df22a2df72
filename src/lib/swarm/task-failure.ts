/**
 * Which task errors waiting cannot fix (issue 21 item 5). While a deploy waits for convergence,
 * Swarm keeps rejecting and rescheduling tasks whose mount source is missing, whose image does
 * not exist or whose placement no node satisfies; without this the stack would only count as
 * failed at the convergence timeout. Pure: the input is one task's state and Docker's text.
 */
export interface TaskStatus {
  /** Swarm task state: new, pending, assigned, accepted, preparing, starting, running, failed, rejected… */
  state?: string
  /** `Status.Err` */
  err?: string
  /** `Status.Message` */
  message?: string
}

interface Rule {
  pattern: RegExp
  /** What the user should understand, before Docker's own words. */
  explain: string
  /** States the rule applies to; scheduling errors are reported on pending tasks. */
  states: readonly string[]
}

const ENDED = ['failed', 'rejected'] as const

const RULES: readonly Rule[] = [
  {
    pattern: /bind source path does not exist/i,
    explain: 'a bind mount points to a path that does not exist on the node',
    states: ENDED,
  },
  {
    pattern: /no such image|manifest unknown|manifest for \S+ not found|repository does not exist|pull access denied/i,
    explain: 'the image does not exist or cannot be pulled',
    states: ENDED,
  },
  {pattern: /invalid reference format/i, explain: 'the image reference is not valid', states: ENDED},
  {
    pattern: /secret\b[^;]*\bnot found|secret not found/i,
    explain: 'a secret the service uses does not exist',
    states: ENDED,
  },
  {
    pattern: /network\b[^;]*\bnot found|could not find network|network not found/i,
    explain: 'a network the service uses does not exist',
    states: ENDED,
  },
  {
    pattern: /executable file not found|no such file or directory: unknown/i,
    explain: "the container's command cannot be started",
    states: ENDED,
  },
]

/**
 * Docker's reason in plain words when a task failed in a way a retry will not fix, or undefined
 * for a transient state (pulling, preparing, starting, assigned, a node briefly unavailable…).
 */
export function permanentTaskFailure(task: TaskStatus): string | undefined {
  const state = (task.state ?? '').toLowerCase()
  const text = (task.err || task.message || '').trim()
  if (!text) return undefined
  if (state === 'pending' && /no suitable node/i.test(text)) {
    // Only when every node was ruled out by the constraints: a node that is merely unavailable
    // (down, draining) or short of resources may come back or free up.
    if (/scheduling constraints not satisfied|placement preferences? not satisfied/i.test(text)) {
      if (/not available|insufficient resources/i.test(text)) return undefined
      return `no node satisfies the placement constraints (Docker: ${text})`
    }
    return undefined
  }
  for (const rule of RULES) {
    if (rule.states.includes(state) && rule.pattern.test(text)) return `${rule.explain} (Docker: ${text})`
  }
  return undefined
}
