import type {Context} from '../context.js'
import {HttpError, type Router} from '../http/router.js'
import type {ModeHealth, ModeRuntime, ServiceMode} from '../serve/mode.js'
import {CheckRuns, type CheckSettings, type ImagesMetrics, imagesMetrics} from './check-runs.js'
import {registerImagesRoutes} from './routes.js'
import {validateSchedule} from './schedule.js'
import type {WatchReport} from './watcher.js'

// `config validate` checks the schedule through the mode's module.
export {validateSchedule} from './schedule.js'

export interface ImagesModeOptions {
  /** Seconds between checks (default `images.intervalSeconds`). */
  intervalSeconds?: number
  /** Cron expression; wins over the interval (default `images.schedule`). */
  schedule?: string
  /** Check at start (default `images.runOnBoot` / RUN_ON_BOOT). */
  runOnBoot?: boolean
  /** Base URL for apply links (default `images.publicUrl`). */
  publicUrl?: string
}

export interface ImagesMode extends ServiceMode {
  /** Runs a pass now (or joins the one running). */
  runNow(): Promise<WatchReport | undefined>
  readonly nextRunAt: Date | undefined
}

/**
 * `images serve` as a ServiceMode (docs/architecture.md "serve and the web UI"): the check schedule
 * (`check-runs.ts`), the routes (`routes.ts`, the apply link in
 * `apply-link.ts`), metrics, and a snapshot for the web UI.
 */
export function createImagesMode(options: ImagesModeOptions = {}): ImagesMode {
  let context: Context | undefined
  let metrics: ImagesMetrics | undefined

  const started = (): Context => {
    if (!context) throw new HttpError(503, {error: 'starting', message: 'the images mode is starting'})
    return context
  }
  const settings = (): CheckSettings => {
    const images = started().config.images
    return {
      intervalSeconds: options.intervalSeconds ?? images.intervalSeconds,
      schedule: options.schedule ?? images.schedule,
      runOnBoot: options.runOnBoot ?? images.runOnBoot,
      publicUrl: options.publicUrl ?? images.publicUrl,
    }
  }
  const runs = new CheckRuns({context: started, settings, metrics: () => metrics})

  return {
    name: 'images',
    get nextRunAt() {
      return runs.nextRunAt
    },

    routes(router: Router) {
      registerImagesRoutes(router, {
        runs,
        context: started,
        current: () => context,
        facts: (workload) => runs.facts(workload),
        applied: (result) => metrics?.applied.inc({result}),
      })
    },

    async start(runtime: ModeRuntime) {
      context = runtime.context
      await validateSchedule(settings().schedule)
      // A notifier lacking a key fails the start (exit 2), not every check after it.
      await (await import('./watcher.js')).createNotifiers(context)
      metrics = imagesMetrics(runtime.metrics)
      // Opens the database now: a broken state path fails the start, not the first check.
      await context.state()
      await runs.start()
    },

    stop: () => runs.stop(),

    health(): ModeHealth {
      return runs.health()
    },

    async snapshot() {
      const {updateHistory} = await import('./history.js')
      return {...(await runs.status()), history: updateHistory(await started().state(), {limit: 50})}
    },

    runNow: () => runs.runNow(),
  }
}
