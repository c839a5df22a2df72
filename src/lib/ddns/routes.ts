import type {Context} from '../context.js'
import type {Router} from '../http/router.js'
import type {DdnsHistoryReport} from './status.js'
import type {DdnsRunReport} from './updater.js'

export interface DdnsRoutesDeps {
  /** The context while started; undefined before (routes then answer 503). */
  current(): Context | undefined
  status(context: Context): Promise<unknown>
  history(context: Context, limit: number): Promise<DdnsHistoryReport>
  /** One pass now, under the lock; undefined when another run holds it. */
  passNow(options: {force: boolean; records?: string[]}): Promise<DdnsRunReport | undefined>
}

const NOT_STARTED = {status: 503, json: {error: 'ddns mode not started'}}

/** `GET /status`, `GET /history`, and `POST /update` (the web page's "Retry" / "Send now" of one record). */
export function registerDdnsRoutes(router: Router, deps: DdnsRoutesDeps): void {
  router.get('/status', async () => {
    const context = deps.current()
    if (!context) return NOT_STARTED
    return {status: 200, json: await deps.status(context)}
  })
  router.get('/history', async (request) => {
    const context = deps.current()
    if (!context) return NOT_STARTED
    const limit = request.query.get('limit')
    return {status: 200, json: await deps.history(context, limit ? Number(limit) : 50)}
  })
  // `force` clears a block (badauth…) as `homeops ddns update --force` does.
  // serve.apiKey, or this machine only when none is set.
  router.post(
    '/update',
    async (request) => {
      const context = deps.current()
      if (!context) return NOT_STARTED
      const body = (await request.json()) as {record?: unknown; force?: unknown} | null
      const record = typeof body?.record === 'string' && body.record ? body.record.slice(0, 253) : undefined
      const force = body?.force === true
      const {ActivityLog} = await import('../activity/log.js')
      const activity = new ActivityLog(await context.state()).begin(
        force ? 'force DDNS update' : 'send DDNS update',
        record ?? 'every record',
        `DDNS page or API (${request.remoteAddress})`,
      )
      const report = await deps.passNow({force, ...(record ? {records: [record]} : {})}).catch((error: unknown) => {
        activity.fail(error)
        throw error
      })
      if (!report) {
        activity.skip('another ddns run holds the lock')
        return {status: 423, json: {error: 'locked', message: 'another ddns run holds the lock'}}
      }
      activity.finish(
        report.exitCode === 0,
        report.records
          .map((r) => `${r.record} (${r.family}): ${r.action}${r.message ? `, ${r.message}` : ''}`)
          .join('; ') || 'no record matched',
      )
      return {
        status: 200,
        json: {
          exitCode: report.exitCode,
          records: report.records.map((r) => ({
            record: r.record,
            family: r.family,
            action: r.action,
            result: r.result,
            message: r.message,
          })),
        },
      }
    },
    {access: {apiKey: () => deps.current()?.config.serve.apiKey}, bodyLimit: 4 * 1024},
  )
}
