import {AREAS} from '../areas.js'
import type {HomeopsConfig} from './root-schema.js'

/**
 * The rules across keys each area adds to its schema (provider credentials, IP source URLs, a cron
 * expression), in the order of the areas; the first broken one throws its UserError (exit 2).
 */
export async function validateAreas(config: HomeopsConfig): Promise<void> {
  for (const area of AREAS) await (area as AnyArea).validate?.(config[area.name])
}

/** One area seen through the list: its hooks take its own section. */
type AnyArea = {validate?(section: HomeopsConfig[(typeof AREAS)[number]['name']]): Promise<void>}
