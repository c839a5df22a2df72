import {UserError, errorMessage} from '../errors.js'

/** Next run time from a cron expression or an interval. */
export async function nextRun(schedule: string | undefined, intervalSeconds: number, from = new Date()): Promise<Date> {
  if (schedule) {
    const {CronExpressionParser} = await import('cron-parser')
    return CronExpressionParser.parse(schedule, {currentDate: from}).next().toDate()
  }
  return new Date(from.getTime() + intervalSeconds * 1000)
}

export async function validateSchedule(schedule: string | undefined): Promise<void> {
  if (!schedule) return
  const {CronExpressionParser} = await import('cron-parser')
  try {
    CronExpressionParser.parse(schedule)
  } catch (error) {
    throw new UserError(`images.schedule "${schedule}" is not a cron expression: ${errorMessage(error)}`, {
      hint: 'five fields: minute hour day-of-month month day-of-week, e.g. "0 */6 * * *"',
    })
  }
}
