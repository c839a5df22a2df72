import type {LogFields, Logger} from '../log/logger.js'
import type {Terminal} from './terminal.js'

/**
 * How a service reports the steps of a long piece of work (fetch, plan, deploy…) without knowing
 * where it is shown: the command picks the renderer (`progressFor`): a listr2 task list on a
 * terminal, one log line per step elsewhere (cron, systemd, `serve`, tests).
 */
export interface ProgressNote {
  level: 'info' | 'warn' | 'error'
  message: string
  fields?: LogFields
}

export interface ProgressStep {
  /** The step starts now (a step of a pool may wait for its turn). */
  start(): void
  /** Its line says this now. */
  update(title: string): void
  /**
   * Its final line. `notes` say what went wrong or what it decided in detail: a log line each
   * where no task list shows the title (on a terminal the title and the final table say it).
   */
  done(title: string, notes?: ProgressNote[]): void
}

export interface ProgressGroup {
  readonly steps: ProgressStep[]
  /** Every step is done (one not done ends with its current line); resolves once drawn. */
  end(): Promise<void>
}

export interface Progress {
  /** Steps about to run, shown together (one task list on a terminal). */
  begin(titles: string[]): ProgressGroup
  /** Something worth a line of its own off a terminal (on one, the final report says it). */
  note(note: ProgressNote): void
}

/** The renderer for this terminal: a task list when a person watches, log lines otherwise. */
export function progressFor(term: Terminal, logger: Logger): Progress {
  return term.interactive ? taskListProgress() : logProgress(logger)
}

/** One log line per finished step (`title ms=…`), after its notes. */
export function logProgress(logger: Logger): Progress {
  return {
    begin(titles) {
      const begun = Date.now()
      const steps = titles.map((first) => {
        let title = first
        let started = begun
        let over = false
        return {
          start() {
            started = Date.now()
          },
          update(next: string) {
            title = next
          },
          done(final: string, notes: ProgressNote[] = []) {
            if (over) return
            over = true
            title = final
            for (const n of notes) logger[n.level](n.message, n.fields)
            logger.info(title, {ms: Date.now() - started})
          },
          current: () => title,
        }
      })
      return {
        steps,
        async end() {
          for (const s of steps) s.done(s.current())
        },
      }
    },
    note(n) {
      logger[n.level](n.message, n.fields)
    },
  }
}

/** A listr2 list per group, all its steps shown at once, each line following its step's events. */
export function taskListProgress(): Progress {
  return {
    begin(titles) {
      const steps = titles.map((first) => {
        let title = first
        let shown: {title: string} | undefined
        let finish = (): void => {}
        const finished = new Promise<void>((resolve) => {
          finish = resolve
        })
        const show = (next: string) => {
          title = next
          if (shown) shown.title = next
        }
        return {
          start() {},
          update: show,
          done(final: string) {
            show(final)
            finish()
          },
          current: () => title,
          /** listr2 runs the step's task: it shows the line and ends with the step. */
          attach(task: {title: string}): Promise<void> {
            shown = task
            task.title = title
            return finished
          },
        }
      })
      const drawn =
        steps.length === 0
          ? Promise.resolve()
          : import('listr2').then(async ({Listr}) => {
              await new Listr(
                steps.map((s) => ({
                  title: s.current(),
                  task: (_ctx: unknown, task: {title: string}) => s.attach(task),
                })),
                {concurrent: true, exitOnError: false, rendererOptions: {collapseSubtasks: false}},
              ).run()
            })
      drawn.catch(() => {})
      return {
        steps,
        async end() {
          for (const s of steps) s.done(s.current())
          await drawn
        },
      }
    },
    note() {},
  }
}
