import {stripVTControlCharacters} from 'node:util'

import {Chalk, type ChalkInstance} from 'chalk'

import {forEachLimited} from '../async/pool.js'
import type {Logger} from '../log/logger.js'

/**
 * Two audiences (docs/architecture.md "Conventions every command follows"): a person at a TTY gets colour,
 * spinners and task lists; cron, systemd, pipes and `--json` get none of that, only log lines.
 */
export interface Terminal {
  /** stderr is a TTY and no `--json`: spinners and task lists allowed. */
  interactive: boolean
  /** stdout may carry colour. */
  color: boolean
}

export interface TerminalOptions {
  json?: boolean
  env?: NodeJS.ProcessEnv
  stdoutIsTTY?: boolean
  stderrIsTTY?: boolean
}

export function detectTerminal(options: TerminalOptions = {}): Terminal {
  const env = options.env ?? process.env
  const json = options.json ?? false
  const dumb = env.TERM === 'dumb'
  const stderrTTY = options.stderrIsTTY ?? Boolean(process.stderr.isTTY)
  const stdoutTTY = options.stdoutIsTTY ?? Boolean(process.stdout.isTTY)
  const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0'
  return {
    interactive: !json && stderrTTY && !dumb && !env.CI,
    color: !json && (forced || (stdoutTTY && !dumb && env.NO_COLOR === undefined)),
  }
}

export type Tone = 'ok' | 'warn' | 'bad' | 'muted' | 'plain' | 'bold'

// Level 1 (16 colours): whether to colour at all is decided by detectTerminal, never by chalk's own guess.
const colours = new Chalk({level: 1})
const STYLES: Record<Exclude<Tone, 'plain'>, ChalkInstance> = {
  ok: colours.green,
  warn: colours.yellow,
  bad: colours.red,
  muted: colours.dim,
  bold: colours.bold,
}

/** Colours text only where the terminal allows it. */
export function paint(term: Terminal, tone: Tone, text: string): string {
  if (!term.color || tone === 'plain') return text
  return STYLES[tone](text)
}

export interface Column<Row> {
  header: string
  value: (row: Row) => string
  tone?: (row: Row) => Tone
  align?: 'left' | 'right'
}

/** An aligned table; colour by state on a TTY only. */
export function renderTable<Row>(term: Terminal, columns: Column<Row>[], rows: Row[]): string {
  const cells = rows.map((row) => columns.map((c) => c.value(row)))
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => visibleLength(r[i]!))))
  const pad = (text: string, i: number) => {
    const fill = ' '.repeat(Math.max(0, widths[i]! - visibleLength(text)))
    return columns[i]!.align === 'right' ? fill + text : text + fill
  }
  const lines = [
    columns
      .map((c, i) => paint(term, 'bold', pad(c.header.toUpperCase(), i)))
      .join('  ')
      .trimEnd(),
  ]
  rows.forEach((row, r) => {
    lines.push(
      columns
        .map((c, i) => paint(term, c.tone ? c.tone(row) : 'plain', pad(cells[r]![i]!, i)))
        .join('  ')
        .trimEnd(),
    )
  })
  return lines.join('\n')
}

function visibleLength(text: string): number {
  return stripVTControlCharacters(text).length
}

export interface Spinner {
  update(text: string): void
  succeed(text?: string): void
  fail(text?: string): void
  stop(): void
}

const silentSpinner: Spinner = {update() {}, succeed() {}, fail() {}, stop() {}}

/** A spinner on stderr on a TTY; nothing at all elsewhere (the library logs instead). */
export async function startSpinner(term: Terminal, text: string): Promise<Spinner> {
  if (!term.interactive) return silentSpinner
  const {default: ora} = await import('ora')
  const spinner = ora({text, stream: process.stderr}).start()
  return {
    update: (t) => void (spinner.text = t),
    succeed: (t) => void spinner.succeed(t),
    fail: (t) => void spinner.fail(t),
    stop: () => void spinner.stop(),
  }
}

/** Runs `work` under a spinner shown only if it takes longer than ~300 ms. */
export async function withSpinner<T>(term: Terminal, text: string, work: () => Promise<T>): Promise<T> {
  if (!term.interactive) return work()
  let spinner: Spinner | undefined
  const timer = setTimeout(() => {
    void startSpinner(term, text).then((s) => {
      spinner = s
    })
  }, 300)
  try {
    return await work()
  } finally {
    clearTimeout(timer)
    spinner?.stop()
  }
}

export interface Task<Ctx> {
  title: string
  run: (ctx: Ctx, setTitle: (title: string) => void) => Promise<void>
  /** Returns a reason to skip, or false. */
  skip?: (ctx: Ctx) => string | false
}

export interface RunTasksOptions {
  /** How many tasks run at once (default 1: one after the other, in order). */
  concurrency?: number
}

/**
 * A listr2 task list on a TTY; one log line per step elsewhere. A failing task
 * stops the list and rethrows (tasks that must not stop the rest catch their own errors).
 * With `concurrency` > 1, up to that many tasks run at once (started in list order).
 */
export async function runTasks<Ctx>(
  term: Terminal,
  logger: Logger,
  tasks: Task<Ctx>[],
  ctx: Ctx,
  options: RunTasksOptions = {},
): Promise<void> {
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 1, tasks.length || 1))
  if (term.interactive) {
    const {Listr} = await import('listr2')
    await new Listr<Ctx>(
      tasks.map((t) => ({
        title: t.title,
        skip: t.skip ? (c: Ctx) => t.skip!(c) : undefined,
        task: async (c: Ctx, task: {title: string}) => {
          await t.run(c, (title) => {
            task.title = title
          })
        },
      })),
      {
        ctx,
        exitOnError: true,
        concurrent: concurrency > 1 ? concurrency : false,
        rendererOptions: {collapseSubtasks: false},
      },
    ).run()
    return
  }
  const runOne = async (t: Task<Ctx>): Promise<void> => {
    const skipped = t.skip?.(ctx)
    if (skipped) {
      logger.info(`${t.title}: skipped`, {reason: skipped})
      return
    }
    let title = t.title
    const started = Date.now()
    await t.run(ctx, (next) => {
      title = next
    })
    logger.info(title, {ms: Date.now() - started})
  }
  await forEachLimited(tasks, concurrency, runOne)
}
