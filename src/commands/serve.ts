import {Flags} from '@oclif/core'

import {HomeopsCommand, dockerHostFlag} from '../cli/homeops-command.js'
import {MODES} from '../lib/config/root-schema.js'

export interface ServeReport {
  url: string
  modes: string[]
  /** Modes whose stop() had not finished within the shutdown budget. */
  lateModes: string[]
  stoppedInMs: number
}

/** Shutdown budget: SIGTERM → exit 0 within 5 s, with room for closing the database. */
const STOP_BUDGET_MS = 4500

export default class Serve extends HomeopsCommand<ServeReport> {
  static override summary = 'Run every mode enabled in the config file in one process, with the web UI'
  static override description = `Starts the enabled modes (ddns loop, images scheduler, monitor API, dns server, swarm reconcile interval), each isolated: a mode that fails to start or crashes is reported down in /health and restarted with backoff while the others keep running.

One HTTP server (default 127.0.0.1:8080) serves the web UI at /, each mode's API under /<mode>/, /health (200 only when every enabled mode is up, else 503) and /metrics (Prometheus text).

SIGTERM/SIGINT stop it cleanly within 5 s (exit 0); SIGHUP reloads the config file (an invalid file is logged and the running configuration kept). Under systemd (Type=notify) it reports READY/RELOADING/STOPPING/STATUS and answers the watchdog when WatchdogSec= is set.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --config /etc/homeops/config.yaml --listen 0.0.0.0:8080',
    '<%= config.bin %> <%= command.id %> --mode monitor --mode dns',
  ]
  static override flags = {
    listen: Flags.string({
      description: 'address to listen on, HOST:PORT (default: serve.listen, 127.0.0.1:8080)',
      env: 'HOMEOPS_SERVE_LISTEN',
    }),
    mode: Flags.option({
      options: MODES,
      multiple: true,
      description: 'run only these modes, whether or not enabled in the config (repeatable)',
    })(),
    'docker-host': dockerHostFlag,
  }

  async run(): Promise<ServeReport> {
    const {flags} = await this.parse(Serve)
    this.handleSignals()
    const context = await this.context({dockerHost: flags['docker-host']})
    const [{startServe}, {createNotifier}, {loadConfig}] = await Promise.all([
      import('../lib/serve/app.js'),
      import('../lib/systemd/notify.js'),
      import('../lib/config/load.js'),
    ])
    // One mode's forgotten promise must not take the others down (Node's default is to exit).
    const onUnhandled = (reason: unknown) =>
      context.logger.error('unhandled promise rejection (a bug; serve keeps running)', {
        error: reason instanceof Error ? reason.message : String(reason),
      })
    process.on('unhandledRejection', onUnhandled)
    // Registered before start-up: SIGHUP's default action would end the process.
    const running: {server?: Awaited<ReturnType<typeof startServe>>} = {}
    const onHangup = () => {
      if (!running.server) return context.logger.warn('SIGHUP received while starting: ignored')
      context.logger.info('SIGHUP received, reloading the configuration')
      void running.server.reload()
    }
    process.on('SIGHUP', onHangup)
    const notifier = createNotifier({logger: context.logger})
    const server = await startServe(context, {
      listen: flags.listen,
      modes: flags.mode,
      notifier,
      reloadConfig: () => loadConfig({path: this.globalFlags.config}).config,
    })
    running.server = server
    const modes = server.supervisor.names()
    if (!context.signal.aborted) {
      await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), {once: true}))
    }
    process.off('SIGHUP', onHangup)
    const stopped = await server.stop(STOP_BUDGET_MS)
    process.off('unhandledRejection', onUnhandled)
    // Safety net: a handle a mode forgot to close must not keep a stopped server alive
    // (systemd would wait TimeoutStopSec, then SIGKILL). unref'd: it never delays a clean exit.
    setTimeout(() => process.exit(process.exitCode ?? 0), 400).unref()
    return {url: server.url, modes, lateModes: stopped.late, stoppedInMs: stopped.ms}
  }
}
