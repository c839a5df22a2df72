import {type Listener, defineArea} from '../area.js'
import {imagesSchema} from './config.js'
import {imagesMigrations} from './migrations.js'

export const imagesArea = defineArea({
  name: 'images',
  title: 'Image updates',
  schema: imagesSchema,
  migrations: imagesMigrations,
  mode: {module: 'images/mode.js', factory: 'createImagesMode', page: 2},
  doctor: {needs: ['docker', 'images-notifiers', 'serve-port'], module: 'images/doctor.js'},
  async validate(section): Promise<void> {
    const {validateSchedule} = await import('./schedule.js')
    await validateSchedule(section.schedule)
  },
  // `images serve` takes serve.apiKey for its update API.
  listeners: (section, serveApiKey): Listener[] => [
    {
      what: `images serve on ${section.listen}`,
      listen: section.listen,
      keyed: Boolean(serveApiKey),
      hint: 'serve.apiKey (HOMEOPS_API_KEY)',
    },
  ],
})
