import type {DoctorChecks} from '../area.js'
import type {Infer} from '../config/schema.js'
import type {Check} from '../doctor/check.js'
import type {imagesSchema} from './config.js'

type ImagesConfig = Infer<typeof imagesSchema>

/** Every images notifier has the keys its type needs (a webhook without a URL would fail at the first update). */
export async function imagesNotifiersCheck(images: ImagesConfig): Promise<Check> {
  const {missingNotifierKeys} = await import('../notify/notifiers.js')
  const title = 'notifiers'
  const notifiers = images.notifiers
  const incomplete = notifiers.flatMap((n, i) => {
    const missing = missingNotifierKeys(n)
    return missing.length > 0 ? [`images.notifiers[${i}] (${n.type}) lacks ${missing.join(', ')}`] : []
  })
  if (incomplete.length > 0) {
    return {
      id: 'images-notifiers',
      title,
      ok: false,
      detail: incomplete.join('\n'),
      hint: 'complete or remove them: the README lists the keys of each notifier type',
    }
  }
  return {
    id: 'images-notifiers',
    title,
    ok: true,
    detail:
      notifiers.length > 0
        ? `${notifiers.length} complete: ${notifiers.map((n) => n.type).join(', ')}`
        : 'none: new versions are recorded (history, web UI) but nobody is told',
  }
}

/** For `homeops doctor` (`imagesArea.doctor.module`). */
export const doctorChecks: DoctorChecks<ImagesConfig> = {
  async settings({section}) {
    return section ? [await imagesNotifiersCheck(section)] : []
  },
}
