import type {HomeopsConfig, Mode} from '../config/root-schema.js'

/** What a reload changes, decided before anything is touched. */
export interface ReloadPlan {
  /** Modes the new configuration no longer enables. */
  remove: Mode[]
  /** Modes whose settings (or the shared registries) changed. */
  restart: Mode[]
  /** Modes the new configuration enables, in page order. */
  add: Mode[]
  /** Changes that need a restart of the process, for the log. */
  needsRestart: {message: string; fields?: Record<string, string>}[]
}

export interface ReloadInput {
  previous: HomeopsConfig
  next: HomeopsConfig
  /** Modes running now. */
  running: Mode[]
  /** Modes the new configuration wants, in page order. */
  wanted: Mode[]
  /** `--listen` was given: the config's address does not apply anyway. */
  listenFlag: boolean
  /** The address serving now. */
  listening: string
}

/**
 * The plan of a reload (SIGHUP), or why the new configuration must not
 * replace the running one: pure, so every case is a unit test.
 */
export function planReload(input: ReloadInput): {refusal: {reason: string; hint: string}} | {plan: ReloadPlan} {
  const {previous, next} = input
  const refusal = reloadRefusal(previous, next, input.running, input.wanted)
  if (refusal) return {refusal}
  const needsRestart: ReloadPlan['needsRestart'] = []
  if (next.serve.listen !== previous.serve.listen && !input.listenFlag) {
    needsRestart.push({
      message: 'serve.listen changed: restart homeops to listen on the new address',
      fields: {listening: input.listening},
    })
  }
  for (const key of ['state', 'docker', 'log'] as const) {
    if (JSON.stringify(next[key]) !== JSON.stringify(previous[key]))
      needsRestart.push({message: `${key} settings changed: restart homeops to apply them`})
  }
  const sharedChanged = JSON.stringify(next.registries) !== JSON.stringify(previous.registries)
  const target = new Set(input.wanted)
  const remove: Mode[] = []
  const restart: Mode[] = []
  for (const name of input.running) {
    if (!target.has(name)) remove.push(name)
    else if (sharedChanged || JSON.stringify(next[name]) !== JSON.stringify(previous[name])) restart.push(name)
  }
  const add = input.wanted.filter((name) => !input.running.includes(name))
  return {plan: {remove, restart, add, needsRestart}}
}

/**
 * Why a reloaded configuration must not replace the running one, or undefined.
 * A file emptied or truncated by mistake (an editor, a failed deploy) would
 * otherwise stop every mode, or open every action to anyone who can reach the
 * port; the file has to say so explicitly (`serve.allowNoModes`,
 * `serve.allowNoApiKey`). Never refused: what was already so (no modes, no key).
 */
export function reloadRefusal(
  previous: HomeopsConfig,
  next: HomeopsConfig,
  running: string[],
  wanted: string[],
): {reason: string; hint: string} | undefined {
  if (running.length > 0 && wanted.length === 0 && !next.serve.allowNoModes) {
    return {
      reason: `the new configuration enables no mode: it would stop ${[...running].sort().join(', ')}`,
      hint: 'set serve.allowNoModes: true in the file to run only the web UI, /health and /metrics',
    }
  }
  if (previous.serve.apiKey && !next.serve.apiKey && !next.serve.allowNoApiKey) {
    return {
      reason: 'the new configuration has no serve.apiKey: actions would no longer need a key',
      hint: 'set serve.allowNoApiKey: true in the file to drop the key on purpose',
    }
  }
  return undefined
}
